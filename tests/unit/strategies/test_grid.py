import pytest

from tunestream.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from tunestream.strategies.grid import GridSearch


def test_every_combination_once_in_documented_order() -> None:
    space = SearchSpace((IntegerParam("n", 1, 2), CategoricalParam("k", ("a", "b", "c"))))
    grid = GridSearch(space)
    assert grid.max_training_jobs() == 6
    combos = [grid.propose(i, []).values for i in range(6)]
    assert combos == [
        {"n": 1, "k": "a"},
        {"n": 1, "k": "b"},
        {"n": 1, "k": "c"},
        {"n": 2, "k": "a"},
        {"n": 2, "k": "b"},
        {"n": 2, "k": "c"},
    ]


def test_out_of_range_index_and_continuous_rejected() -> None:
    grid = GridSearch(SearchSpace((CategoricalParam("k", ("a",)),)))
    with pytest.raises(IndexError):
        grid.propose(1, [])
    with pytest.raises(ValueError, match="continuous"):
        GridSearch(SearchSpace((ContinuousParam("x", 0, 1),)))
