"""Users' metric regexes run by RE2: what compiles, what is refused and why, the per-line bound."""

from __future__ import annotations

import pytest

from tunestream.definitions import MetricDefinition
from tunestream.launcher.output import metric_patterns
from tunestream.metric_regex import MATCH_CHARS, UnsupportedRegex, compile_metric_regex


def test_first_group_as_sagemaker_reads_it() -> None:
    regex = compile_metric_regex(r"val_acc=([0-9.]+)")
    assert regex.groups == 1
    assert regex.first_group("epoch 3 loss=0.2 val_acc=0.91 lr=1e-3") == "0.91"
    assert regex.first_group("epoch 3 loss=0.2") is None
    assert compile_metric_regex(r"(?P<v>[0-9]+)%").first_group("done 42%") == "42"
    assert compile_metric_regex(r"val_acc=[0-9.]+").first_group("val_acc=0.91") is None  # no group


@pytest.mark.parametrize(
    ("pattern", "python_accepts", "words"),
    [
        (r"(?=acc)acc=([0-9.]+)", True, "invalid perl operator"),  # lookahead
        (r"(?<!val_)acc=([0-9.]+)", True, "invalid perl operator"),  # lookbehind
        (r"(['\"])([0-9.]+)\1", True, "invalid escape sequence"),  # backreference
        (r"acc=([0-9.]+){5000}", True, "invalid repetition size"),
        (r"acc=([0-9.]+", False, "does not compile"),
    ],
)
def test_refused_with_the_reason(pattern: str, python_accepts: bool, words: str) -> None:
    with pytest.raises(UnsupportedRegex) as info:
        compile_metric_regex(pattern)
    assert info.value.python_accepts is python_accepts
    assert words in info.value.reason


def test_matching_looks_at_the_first_match_chars_of_a_line() -> None:
    regex = compile_metric_regex(r"acc=([0-9.]+)")
    assert regex.first_group("x" * (MATCH_CHARS - 10) + "acc=0.5") == "0.5"
    assert regex.first_group("x" * MATCH_CHARS + "acc=0.5") is None


def test_launcher_marks_metric_lines_with_re2_and_skips_what_re2_refuses() -> None:
    patterns = metric_patterns(
        [MetricDefinition(Name="a", Regex=r"acc=([0-9.]+)"), MetricDefinition(Name="b", Regex=r"(?<=x)([0-9]+)")]
    )
    assert [p.pattern for p in patterns] == [r"acc=([0-9.]+)"]
    assert patterns[0].search("acc=0.3") is not None
