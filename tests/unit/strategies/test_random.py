from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from tunestream.strategies.random import RandomSearch

SPACE = SearchSpace(
    (ContinuousParam("lr", 1e-4, 1e-1, "Logarithmic"), IntegerParam("depth", 1, 10), CategoricalParam("k", ("a", "b")))
)


def test_same_seed_same_configurations() -> None:
    a = [RandomSearch(SPACE, 42, 20).propose(i, []).values for i in range(20)]
    b = [RandomSearch(SPACE, 42, 20).propose(i, []).values for i in range(20)]
    assert a == b


def test_different_seed_different_configurations() -> None:
    a = [RandomSearch(SPACE, 1, 5).propose(i, []).values for i in range(5)]
    b = [RandomSearch(SPACE, 2, 5).propose(i, []).values for i in range(5)]
    assert a != b


def test_proposal_depends_only_on_index_not_on_call_order() -> None:
    s = RandomSearch(SPACE, 3, 10)
    forward = [s.propose(i, []).values for i in range(10)]
    backward = [s.propose(i, []).values for i in reversed(range(10))][::-1]
    assert forward == backward


def test_values_respect_ranges_and_types() -> None:
    s = RandomSearch(SPACE, 0, 200)
    for i in range(200):
        v = s.propose(i, []).values
        assert 1e-4 <= v["lr"] <= 1e-1  # type: ignore[operator]
        assert isinstance(v["depth"], int) and 1 <= v["depth"] <= 10
        assert v["k"] in ("a", "b")
    assert s.max_training_jobs() == 200
    assert "seed 0" in s.propose(0, []).reason
