from __future__ import annotations

import json
from pathlib import Path

from tunestream.events.v1 import InputChannel, TrainingJobSpec
from tunestream.launcher.artifacts import model_artifact_uri
from tunestream.launcher.layout import JobLayout, container_command, failure_reason, training_argv, training_environment


def spec() -> TrainingJobSpec:
    return TrainingJobSpec(
        training_job_name="tj-001-abcdef12",
        index=0,
        tuned_hyperparameters={"learning-rate": "0.1"},
        hyperparameters={"learning-rate": "0.1", "note": "a b; $(rm -rf /)"},
        command=["python", "train.py"],
        environment={"MY_VAR": "1"},
        input_channels=[InputChannel(name="train", s3_uri="s3://b/data/train")],
        output_s3_path="s3://b/out/",
        max_runtime_s=10,
        metric_definitions=[],
        objective_metric_name="m",
        objective_type="Maximize",
    )


def test_layout_files_and_environment(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "job")
    layout.create(spec())
    hps = json.loads((layout.config_dir / "hyperparameters.json").read_text())
    assert hps == {"learning-rate": "0.1", "note": "a b; $(rm -rf /)"}
    assert layout.channel_dir("train").is_dir() and layout.model_dir.is_dir() and layout.checkpoint_dir.is_dir()
    env = training_environment(spec(), layout, {"PATH": "/bin", "TUNESTREAM_S3_SECRET_KEY": "s3cr3t", "HOME": "/root"})
    assert env["SM_HP_LEARNING_RATE"] == "0.1"
    assert json.loads(env["SM_HPS"])["note"] == "a b; $(rm -rf /)"
    assert env["SM_CHANNEL_TRAIN"] == str(layout.channel_dir("train"))
    assert env["SM_MODEL_DIR"] == str(layout.model_dir) and env["SM_OUTPUT_DATA_DIR"] == str(layout.output_data_dir)
    assert env["MY_VAR"] == "1" and env["PATH"] == "/bin"
    assert "TUNESTREAM_S3_SECRET_KEY" not in env


def test_argv_passes_values_verbatim_without_a_shell() -> None:
    assert training_argv(spec()) == ["python", "train.py", "--learning-rate", "0.1", "--note", "a b; $(rm -rf /)"]


def test_failure_reason_prefers_failure_file(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path)
    assert failure_reason(layout, 3, ["Traceback", "ValueError: bad"]).endswith("ValueError: bad")
    assert "exited with code 3" in failure_reason(layout, 3, [])
    layout.output_dir.mkdir(parents=True)
    layout.failure_file.write_text("CUDA out of memory\n")
    assert failure_reason(layout, 1, ["x"]) == "CUDA out of memory"


def test_model_artifact_key_is_sagemakers() -> None:
    assert model_artifact_uri(spec()) == "s3://b/out/tj-001-abcdef12/output/model.tar.gz"


def test_inputdataconfig_is_written_as_sagemaker_does(tmp_path: Path) -> None:
    job = spec().model_copy(
        update={
            "input_channels": [
                InputChannel(name="train", s3_uri="s3://b/train", content_type="text/csv", compression="Gzip"),
                InputChannel(
                    name="validation", s3_uri="s3://b/v", input_mode="FastFile", distribution="ShardedByS3Key"
                ),
            ]
        }
    )
    layout = JobLayout(tmp_path / "job")
    layout.create(job)
    assert json.loads((layout.config_dir / "inputdataconfig.json").read_text()) == {
        "train": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "ContentType": "text/csv",
            "CompressionType": "Gzip",
            "RecordWrapperType": "None",
        },
        "validation": {
            "TrainingInputMode": "FastFile",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        },
    }


def test_a_container_runs_train_its_command_or_its_entrypoint_and_arguments() -> None:
    image = spec().model_copy(update={"command": [], "training_image": "trainer:1"})
    assert container_command(image) == ["train"]
    assert container_command(spec()) == training_argv(spec())
    entry = image.model_copy(update={"container_entrypoint": ["/bin/sh", "-c", "run"]})
    assert container_command(entry) == []  # the entrypoint alone: no `train` after it
    both = entry.model_copy(update={"container_arguments": ["a", "$(b)"]})
    assert container_command(both) == ["a", "$(b)"]
    assert container_command(image.model_copy(update={"container_arguments": ["x"]})) == ["x"]


def test_a_homogeneous_cluster_is_one_instance_group_in_resourceconfig(tmp_path: Path) -> None:
    """As SageMaker writes it, and as SDK v3's driver reads it (current_instance_type)."""
    typed = spec().model_copy(update={"instance_type": "ml.m5.large", "instance_count": 2})
    layouts = JobLayout(tmp_path / "job").host_layouts(2)
    for layout in layouts:
        layout.create(typed)
    config = json.loads((layouts[1].config_dir / "resourceconfig.json").read_text())
    assert config == {
        "current_host": "algo-2",
        "hosts": ["algo-1", "algo-2"],
        "current_group_name": "homogeneousCluster",
        "current_instance_type": "ml.m5.large",
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": ["algo-1", "algo-2"]}
        ],
        "network_interface_name": "lo",
    }
    env = training_environment(typed, layouts[1], {})
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large" and env["SM_CURRENT_INSTANCE_GROUP"] == "homogeneousCluster"
    # Without an InstanceType (a Command job given none), only the hosts, as before.
    assert set(JobLayout(tmp_path / "other").resource_config()) == {"current_host", "hosts", "network_interface_name"}
