"""The acquisition search: wide sample, then a climb per column kind, on known functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tunestream.strategies import acquisition_search as search

torch = pytest.importorskip("torch")

# A log-scaled integer range like units 10..1000: 991 allowed values, unevenly spaced.
UNITS = np.log(np.arange(10, 1001) / 9.5) / np.log(1000.5 / 9.5)
COLUMNS = search.Columns(dims=3, discrete={1: UNITS.tolist()}, categorical={2: 3})
BEST_UNITS = float(UNITS[120 - 10])


def bowl(x: Any) -> Any:
    """Highest at x0 = 0.37, units = 120, choice 2; the choice adds a step the gradient cannot see."""
    choice_bonus = torch.where(x[:, 2].round() == 2, 0.5, 0.0)
    return -((x[:, 0] - 0.37) ** 2) - 4 * (x[:, 1] - BEST_UNITS) ** 2 + choice_bonus


def test_finds_the_exact_integer_the_choice_and_the_continuous_optimum() -> None:
    incumbents = np.array([[0.9, float(UNITS[500]), 0.0]])
    found = search.maximize(bowl, COLUMNS, incumbents, np.random.default_rng(0))
    assert found.point[1] == BEST_UNITS  # exactly the value of 120, not a neighbour
    assert found.point[2] == 2
    assert abs(found.point[0] - 0.37) < 1e-4
    assert found.value == pytest.approx(0.5, abs=1e-7)


def test_same_generator_state_same_point() -> None:
    a = search.maximize(bowl, COLUMNS, np.empty((0, 3)), np.random.default_rng(7), raw_samples=64, starts=2)
    b = search.maximize(bowl, COLUMNS, np.empty((0, 3)), np.random.default_rng(7), raw_samples=64, starts=2)
    assert np.array_equal(a.point, b.point)


def test_samples_and_perturbations_stay_on_allowed_values() -> None:
    rng = np.random.default_rng(1)
    points = np.concatenate(
        [search.sample(COLUMNS, 200, rng), search.perturb(COLUMNS, np.array([[0.5, float(UNITS[3]), 1.0]]), 200, rng)]
    )
    assert np.all((points[:, 0] >= 0) & (points[:, 0] <= 1))
    assert np.all(np.isin(points[:, 1], UNITS))
    assert set(np.unique(points[:, 2])) <= {0.0, 1.0, 2.0}


def test_perturbations_stay_near_the_incumbent() -> None:
    columns = search.Columns(dims=4, discrete={}, categorical={})
    incumbent = np.full((1, 4), 0.5)
    moved = search.perturb(columns, incumbent, 500, np.random.default_rng(2))
    assert np.array_equal(moved[0], incumbent[0])  # the incumbent itself comes first
    assert np.median(np.abs(moved[1:] - 0.5)) < 0.05


def test_a_continuous_space_climbs_from_the_incumbent_region() -> None:
    # A narrow peak in 6-D: uniform samples almost never land on it, the incumbent's neighbours do.
    peak = torch.tensor([0.2, 0.15, 0.48, 0.28, 0.31, 0.66], dtype=torch.float64)

    def narrow(x: Any) -> Any:
        return torch.exp(-200 * ((x - peak) ** 2).sum(-1))

    columns = search.Columns(dims=6, discrete={}, categorical={})
    incumbents = (peak + 0.04).numpy()[None, :]
    found = search.maximize(narrow, columns, incumbents, np.random.default_rng(3), raw_samples=256)
    assert found.value > 0.999
    np.testing.assert_allclose(found.point, peak.numpy(), atol=2e-3)


def test_non_finite_values_never_win() -> None:
    def broken(x: Any) -> Any:
        return torch.where(x[:, 0] > 0.5, torch.nan, -x[:, 0])

    columns = search.Columns(dims=1, discrete={}, categorical={})
    found = search.maximize(broken, columns, np.empty((0, 1)), np.random.default_rng(4), raw_samples=64)
    assert found.point[0] <= 0.5 and np.isfinite(found.value)
