import math

import numpy as np
import pytest

from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace, resolve_scaling


@pytest.mark.parametrize("scaling", ["Linear", "Logarithmic", "ReverseLogarithmic"])
def test_continuous_round_trip_and_bounds(scaling: str) -> None:
    low, high = (0.5, 0.999) if scaling == "ReverseLogarithmic" else (1e-4, 10.0)
    p = ContinuousParam("x", low, high, scaling)  # type: ignore[arg-type]
    assert p.from_unit(0.0) == pytest.approx(low)
    assert p.from_unit(1.0) == pytest.approx(high)
    for u in np.linspace(0, 1, 11):
        assert p.to_unit(p.from_unit(u)) == pytest.approx(u, abs=1e-9)
        assert low <= p.from_unit(u) <= high


def test_log_scaling_spends_half_the_draws_below_the_geometric_mean() -> None:
    p = ContinuousParam("lr", 1e-4, 1e-1, "Logarithmic")
    draws = [p.from_unit(u) for u in np.random.default_rng(0).random(4000)]
    below = np.mean([d < math.sqrt(1e-4 * 1e-1) for d in draws])
    assert 0.47 < below < 0.53


def test_reverse_log_crowds_values_near_the_top() -> None:
    p = ContinuousParam("momentum", 0.0, 0.999, "ReverseLogarithmic")
    draws = [p.from_unit(u) for u in np.random.default_rng(0).random(4000)]
    assert np.mean([d > 0.9 for d in draws]) > 0.6


def test_integer_covers_every_value_equally_when_linear() -> None:
    p = IntegerParam("n", 1, 4)
    counts = np.bincount([p.from_unit(u) for u in np.random.default_rng(1).random(8000)], minlength=5)[1:]
    assert counts.min() > 1800 and counts.max() < 2200
    assert p.from_unit(0.0) == 1 and p.from_unit(1.0) == 4


def test_integer_log_scaling_favours_small_values_but_reaches_the_top() -> None:
    p = IntegerParam("units", 1, 1000, "Logarithmic")
    draws = [p.from_unit(u) for u in np.random.default_rng(2).random(4000)]
    assert min(draws) >= 1 and max(draws) <= 1000
    assert np.median(draws) < 100
    assert max(draws) > 500


def test_categorical_maps_unit_slices_to_choices() -> None:
    p = CategoricalParam("k", ("a", "b", "c"))
    assert [p.from_unit(u) for u in (0.0, 0.34, 0.99, 1.0)] == ["a", "b", "c", "c"]
    assert p.from_unit(p.to_unit("b")) == "b"


def test_auto_scaling_rule() -> None:
    assert resolve_scaling("Auto", 1e-4, 1e-1) == "Logarithmic"
    assert resolve_scaling("Auto", 1, 10) == "Linear"
    assert resolve_scaling("Auto", 0, 1000) == "Linear"
    assert resolve_scaling("Linear", 1e-4, 1) == "Linear"


def test_format_gives_sagemaker_strings() -> None:
    space = SearchSpace((ContinuousParam("x", 0, 1), IntegerParam("n", 1, 3), CategoricalParam("k", ("a",))))
    assert space.format({"x": 0.25, "n": 2, "k": "a"}) == {"x": "0.25", "n": "2", "k": "a"}


def test_grid_size_rejects_continuous() -> None:
    assert SearchSpace((IntegerParam("n", 1, 3), CategoricalParam("k", ("a", "b")))).grid_size() == 6
    with pytest.raises(ValueError, match="continuous"):
        SearchSpace((ContinuousParam("x", 0, 1),)).grid_size()
