"""Hostile output for metric parsing: garbage, binary, huge lines, NaN, inf, -0, locale commas,
exponents. Never an exception, never a wrong number."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tunestream.collector.handler import CollectorHandler
from tunestream.definitions import MetricDefinition
from tunestream.events.v1 import (
    ObjectiveCollected,
    OutputLine,
    TrainingJobFinished,
    TrainingJobFinishedData,
    TrainingJobStarted,
    TrainingJobStartedData,
    TrainingOutputLogged,
    TrainingOutputLoggedData,
)
from tunestream.metric_regex import MATCH_CHARS
from tunestream.metric_values import MetricExtractor, parse_metric_value
from tunestream.trials import ObjectiveStatus, TrainingJobStatus

# Deliberately loose regexes, as users write them: they capture whatever follows.
LOOSE = [
    MetricDefinition(Name="score", Regex=r"score=(\S+)"),
    MetricDefinition(Name="acc", Regex=r"acc[:=]\s*([-0-9.,eE+naifyNAIFY_]+)"),
    MetricDefinition(Name="any", Regex=r"any=(.*)$"),
]


@given(st.text())
@example("\x00\xff\ufffd")
@example("nan")
@example("1_000")
@example("٣")  # an Arabic-Indic digit: float() would take it
@example("0x10")
def test_parse_never_raises_and_only_accepts_plain_decimals(text: str) -> None:
    value = parse_metric_value(text)
    if value is None:
        return
    s = text.strip(" \t\r\n")
    if math.isfinite(value):
        # It is exactly the float nearest the decimal the text spells, ASCII digits only.
        assert s.isascii()
        assert value == float(Decimal(s)) or (value == 0 and Decimal(s) == 0)
    else:
        assert s.lower().lstrip("+-") in ("nan", "inf", "infinity") or abs(Decimal(s)) > Decimal("1.8e308")


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: abs(d) < Decimal("1e300")),
    st.sampled_from(["{}", "{:e}", "{:E}", "{:f}"]),
)
def test_well_formed_numbers_parse_exactly(d: Decimal, fmt: str) -> None:
    text = fmt.format(d)
    if len(text) > 64:
        assert parse_metric_value(text) is None
        return
    assert parse_metric_value(text) == float(Decimal(text))


def test_named_cases() -> None:
    assert parse_metric_value("0.95") == 0.95
    assert parse_metric_value(" 1.5e-3\r") == 0.0015
    assert parse_metric_value("+.5") == 0.5
    assert parse_metric_value("1E6") == 1e6
    assert parse_metric_value("7.") == 7.0
    z = parse_metric_value("-0")
    assert z == 0 and math.copysign(1, z or 0.0) == 1.0  # -0 is 0
    for bad in ["0,95", "1,000", "1_000", "٣", "0x10", "1e", "e5", "--1", "1.2.3", "", "   ", None, "1" * 65]:
        assert parse_metric_value(bad) is None, bad
    assert math.isnan(parse_metric_value("NaN") or 0)
    assert parse_metric_value("-Infinity") == -math.inf
    assert parse_metric_value("1e999") == math.inf


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(st.lists(st.one_of(st.text(), st.binary().map(lambda b: b.decode(errors="replace"))), max_size=20))
def test_extractor_survives_garbage(lines: list[str]) -> None:
    x = MetricExtractor(LOOSE)
    for line in lines:
        for m in x.feed(line):
            assert math.isfinite(m.value)
            assert m.value == x.last[m.metric_name]
    assert set(x.non_finite).isdisjoint({n for n, v in x.last.items() if not math.isfinite(v)})


def test_extractor_huge_and_binary_lines() -> None:
    x = MetricExtractor(LOOSE)
    assert x.feed("score=" + "9" * 5_000_000) == []  # too long to be a number
    assert x.feed("acc=" + "1," * 1_000_000) == []
    binary = bytes(range(256)).decode(errors="replace")
    assert x.feed(binary * 100 + " score=0.5")[0].value == 0.5
    # Lines are matched on their first MATCH_CHARS characters: a value after those is not seen.
    assert len(binary * 1000) > MATCH_CHARS
    assert x.feed(binary * 1000 + " score=0.6") == []
    assert x.feed("acc: 0,95") == []  # a locale comma is not 0.95 (nor 95)
    assert x.last == {"score": 0.5}


def test_backtracking_regex_runs_in_linear_time() -> None:
    # Nested quantifiers over a line that nearly matches: Python's re would take exponential time
    # (beyond any CI run) on a line of this length; RE2 answers in linear time.
    x = MetricExtractor([MetricDefinition(Name="m", Regex=r"^(\w+\s?)*=([0-9.]+)$")])
    assert x.feed("ab " * 20_000 + "!") == []
    x = MetricExtractor([MetricDefinition(Name="m", Regex=r"(a+)+b=([0-9]+)")])
    assert x.feed("a" * 60_000) == []
    assert x.feed("aaab=7") == []  # the value is the first group, "aaa": not a number
    x = MetricExtractor([MetricDefinition(Name="m", Regex=r"m=([0-9.]+)")])
    assert [m.value for m in x.feed("x" * 60_000 + " m=0.25")] == [0.25]


def test_extractor_nan_and_inf_are_never_values() -> None:
    x = MetricExtractor(LOOSE)
    x.feed("score=0.7")
    assert x.feed("score=nan") == []
    assert x.last["score"] == 0.7 and x.non_finite == {"score": "nan"}
    assert x.feed("score=-inf") == [] and x.non_finite == {"score": "-inf"}
    assert [m.value for m in x.feed("score=0.8")] == [0.8]
    assert x.non_finite == {}
    assert x.counts == {"score": 2}


def test_regex_without_group_reports_nothing() -> None:
    x = MetricExtractor([MetricDefinition(Name="m", Regex=r"m=\d+")])
    assert x.feed("m=3") == []


def _objective_for(lines: list[str], regex: str = r"score=(\S+)") -> ObjectiveCollected:
    at = datetime.now(UTC)
    defs = [MetricDefinition(Name="score", Regex=regex)]
    h = CollectorHandler()
    h.apply(
        TrainingJobStarted(
            event_id="t:started",
            tuning_job_name="tj",
            payload=TrainingJobStartedData(
                training_job_name="t",
                launcher_id="l",
                pid=1,
                work_dir="/tmp",
                metric_definitions=defs,
                objective_metric_name="score",
            ),
        )
    )
    h.apply(
        TrainingOutputLogged(
            event_id="t:log:0",
            tuning_job_name="tj",
            payload=TrainingOutputLoggedData(
                training_job_name="t",
                seq=0,
                first_line=0,
                lines=[OutputLine(stream="stdout", text=t, at=at) for t in lines],
            ),
        )
    )
    finished = TrainingJobFinished(
        event_id="t:finished",
        tuning_job_name="tj",
        payload=TrainingJobFinishedData(
            training_job_name="t",
            status=TrainingJobStatus.COMPLETED,
            secondary_status="Completed",
            exit_code=0,
            failure_reason=None,
            model_artifact_s3_uri=None,
            log_batches=1,
            log_lines=len(lines),
        ),
    )
    return h._objective(finished)


def test_nan_objective_is_a_failed_objective() -> None:
    p = _objective_for(["score=0.9", "score=NaN"]).payload
    assert p.objective_status == ObjectiveStatus.FAILED and p.objective_value is None
    assert "not a finite number" in (p.objective_reason or "") and "NaN" in (p.objective_reason or "")
    p = _objective_for(["score=inf", "score=0.4"]).payload
    assert p.objective_status == ObjectiveStatus.SUCCEEDED and p.objective_value == 0.4


def test_regex_re2_refuses_from_an_older_job_fails_the_objective_with_the_reason() -> None:
    # Accepted before validation refused lookaround: never matched (no backtracking engine runs it),
    # and the objective's reason says why instead of "no output line matched".
    p = _objective_for(["score=0.9"], regex=r"(?<=score=)(\S+)").payload
    assert p.objective_status == ObjectiveStatus.FAILED and p.objective_value is None
    assert "RE2 cannot run" in (p.objective_reason or "")


def test_a_resumed_training_job_counts_its_steps_on_from_its_parents_last() -> None:
    x = MetricExtractor([MetricDefinition(Name="acc", Regex=r"acc=(\S+)")], step_offset=3)
    assert [(m.step, m.value) for line in ("acc=0.5", "acc=0.6") for m in x.feed(line)] == [(4, 0.5), (5, 0.6)]
