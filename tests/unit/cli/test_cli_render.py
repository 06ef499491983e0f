from __future__ import annotations

from rich.console import Console

from tunestream.cli.render import inert_lines, training_jobs_table


def rendered(jobs: list[dict[str, object]]) -> str:
    console = Console(width=200, record=True)
    console.print(training_jobs_table(jobs))
    return console.export_text()


def job(number: int, resumes: int | None = None) -> dict[str, object]:
    out: dict[str, object] = {
        "TrainingJobName": f"promo-{number:03d}-abcdef12",
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"x": "0.5"},
        "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.9},
    }
    if resumes is not None:
        out["ResumedFrom"] = f"promo-{resumes:03d}-0123abcd"
    return out


def test_the_table_names_the_job_each_resumed_one_continues() -> None:
    text = rendered([job(1), job(2), job(3, resumes=1)])
    assert "resumes" in text
    (row,) = [line for line in text.splitlines() if "003-abcdef12" in line]
    assert "001-0123abcd" in row


def test_no_resumes_column_without_promotion() -> None:
    assert "resumes" not in rendered([job(1), job(2)])


def test_a_definition_column_only_with_several_definitions() -> None:
    assert "definition" not in rendered([job(1), job(2)])
    several = [{**job(1), "TrainingJobDefinitionName": "shallow"}, {**job(2), "TrainingJobDefinitionName": "deep"}]
    text = rendered(several)
    assert "definition" in text
    (row,) = [line for line in text.splitlines() if "002-abcdef12" in line]
    assert "deep" in row


def test_inert_members_are_listed_as_without_effect() -> None:
    assert inert_lines({"InertMembers": []}) == [] and inert_lines({}) == []
    lines = inert_lines({"InertMembers": ["TrainingJobDefinition.VpcConfig", "TrainingJobDefinition.RoleArn"]})
    assert "no effect" in lines[0]
    assert lines[1:] == ["    TrainingJobDefinition.VpcConfig", "    TrainingJobDefinition.RoleArn"]
