"""SageMaker's training container layout, laid out under a per-job folder for a local process.

A program written for SageMaker finds what it expects: /opt/ml/... becomes <job dir>/..., and
every path is also given in the SM_* environment, so programs that read the environment (as
SageMaker's own frameworks do) need no change.

    <job dir>/input/config/hyperparameters.json   all hyperparameters, values as strings
    <job dir>/input/config/resourceconfig.json    current_host, hosts
    <job dir>/input/data/<channel>/               files of the channel's S3 prefix
    <job dir>/model/                              uploaded as model.tar.gz when the job ends
    <job dir>/output/                             output/failure (first line = FailureReason), output/data/
    <job dir>/checkpoints/
    <job dir>/code/                               a framework script's sourcedir.tar.gz, unpacked

A training job of several instances (InstanceCount > 1) runs one program per host, algo-1 ...
algo-N. Each host has its own input/ (its resourceconfig.json names it current_host; a
ShardedByS3Key channel holds its share of the objects) and checkpoints/ under
<job dir>/hosts/<host>/; model/ and output/ are shared, as SageMaker aggregates what every
instance writes there.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunestream.builtin_algorithms import stand_in_module
from tunestream.events.v1 import TrainingJobSpec
from tunestream.framework_images import (
    SCRIPT_CODE_DIR_ENV,
    SCRIPT_RUNNER,
    TOOLKIT_PREFIX,
    decoded,
    script_arguments,
    toolkit_value,
    user_hyperparameters,
)

# Variables a training program may need from the launcher's own environment; nothing else is
# inherited, so the service's credentials never reach user code.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")


# SageMaker's name for the one instance group of a cluster without InstanceGroups.
HOMOGENEOUS_GROUP = "homogeneousCluster"


def host_names(count: int) -> tuple[str, ...]:
    """SageMaker's names for a training job's instances."""
    return tuple(f"algo-{k}" for k in range(1, count + 1))


@dataclass(frozen=True)
class JobLayout:
    root: Path
    # Which instance of the training job this layout is for, and all of them.
    host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    # This host's own folder (input/, pid file) when the job has several; unset: the root.
    host_dir: Path | None = None
    # A heterogeneous cluster: every group's (name, instance type, hosts); this host's group.
    groups: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    group: str | None = None

    def host_layouts(self, count: int, groups: Sequence[tuple[str, str, int]] = ()) -> list[JobLayout]:
        """The layout of each of `count` instances of the job whose folder this is; with instance
        groups (name, instance type, count), their hosts in group order."""
        if count == 1 and not groups:
            return [self]
        names = host_names(count)
        placed: list[tuple[str, str, tuple[str, ...]]] = []
        for name, instance_type, size in groups:
            first = sum(len(p[2]) for p in placed)
            placed.append((name, instance_type, names[first : first + size]))
        group_of = {host: name for name, _, members in placed for host in members}
        return [
            JobLayout(self.root, name, names, self.root / "hosts" / name, tuple(placed), group_of.get(name))
            for name in names
        ]

    @property
    def host_root(self) -> Path:
        return self.host_dir or self.root

    @property
    def rank(self) -> int:
        return self.hosts.index(self.host)

    @property
    def log_host(self) -> str | None:
        """The name its output lines carry: only a training job of several instances tags them."""
        return self.host if len(self.hosts) > 1 else None

    @property
    def instance_type(self) -> str | None:
        """Its instance group's InstanceType (a heterogeneous cluster)."""
        return next((kind for name, kind, _ in self.groups if name == self.group), None)

    @property
    def group_hosts(self) -> list[str]:
        """The hosts of its instance group."""
        return next((list(members) for name, _, members in self.groups if name == self.group), [])

    @property
    def config_dir(self) -> Path:
        return self.host_root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.host_root / "input" / "data"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def checkpoint_dir(self) -> Path:
        # Each host's own, as each SageMaker instance has its own /opt/ml/checkpoints.
        return self.host_root / "checkpoints"

    @property
    def code_dir(self) -> Path:
        # /opt/ml/code, shared by the hosts: the code is the same on every one.
        return self.root / "code"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def pid_file(self) -> Path:
        return self.host_root / "launcher.pid"

    def pid_files(self) -> list[Path]:
        """Every host's pid file in the job's folder, whichever layout recorded them."""
        return [self.root / "launcher.pid", *sorted(self.root.glob("hosts/*/launcher.pid"))]

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    def create(self, spec: TrainingJobSpec) -> None:
        """Make the folders and write the config files (idempotent)."""
        for d in (self.config_dir, self.data_dir, self.model_dir, self.output_data_dir, self.checkpoint_dir):
            d.mkdir(parents=True, exist_ok=True)
        for channel in spec.input_channels:
            self.channel_dir(channel.name).mkdir(parents=True, exist_ok=True)
        (self.config_dir / "hyperparameters.json").write_text(json.dumps(spec.hyperparameters, indent=2))
        (self.config_dir / "resourceconfig.json").write_text(json.dumps(self.resource_config(spec.instance_type)))
        (self.config_dir / "inputdataconfig.json").write_text(json.dumps(input_data_config(spec)))

    def resource_config(self, instance_type: str | None = None) -> dict[str, Any]:
        """resourceconfig.json as SageMaker writes it: the hosts, and the instance groups (a
        homogeneous cluster is one group, "homogeneousCluster", of ResourceConfig.InstanceType).
        SDK v3's driver reads current_instance_type."""
        config: dict[str, Any] = {"current_host": self.host, "hosts": list(self.hosts)}
        if self.groups:
            config["current_group_name"] = self.group
            config["current_instance_type"] = self.instance_type
            config["instance_groups"] = [
                {"instance_group_name": name, "instance_type": kind, "hosts": list(members)}
                for name, kind, members in self.groups
            ]
        elif instance_type is not None:
            config["current_group_name"] = HOMOGENEOUS_GROUP
            config["current_instance_type"] = instance_type
            config["instance_groups"] = [
                {"instance_group_name": HOMOGENEOUS_GROUP, "instance_type": instance_type, "hosts": list(self.hosts)}
            ]
        config["network_interface_name"] = "lo"
        return config


def input_data_config(spec: TrainingJobSpec) -> dict[str, dict[str, str]]:
    """inputdataconfig.json as SageMaker writes it: per channel its mode, distribution and, when the
    job gave them, its content type, compression and record wrapper. FastFile channels are downloaded
    like File ones here (there is no lazy S3 mount), so programs see the mode they asked for."""
    config: dict[str, dict[str, str]] = {}
    for c in spec.input_channels:
        entry: dict[str, str] = {"TrainingInputMode": c.input_mode, "S3DistributionType": c.distribution}
        if c.content_type is not None:
            entry["ContentType"] = c.content_type
        if c.compression is not None:
            entry["CompressionType"] = c.compression
        entry["RecordWrapperType"] = c.record_wrapper or "None"
        config[c.name] = entry
    return config


def env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def training_environment(
    spec: TrainingJobSpec,
    layout: JobLayout,
    inherited: dict[str, str],
    passthrough: tuple[str, ...] = (),
    master: tuple[str, int] | None = None,
) -> dict[str, str]:
    """The program's whole environment: a few inherited variables (INHERITED_ENV and the names the
    operator lists in TUNESTREAM_TRAINING_ENV_PASSTHROUGH), the job's Environment, SM_*.

    A host of a training job of several instances also gets `master` (algo-1's address and a port
    free for the job) as MASTER_ADDR / MASTER_PORT, and RANK / WORLD_SIZE counting one process per
    host: what torch.distributed's env:// rendezvous reads."""
    env = {k: v for k, v in inherited.items() if k in INHERITED_ENV or k in passthrough}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(spec.environment)
    channels = [c.name for c in spec.input_channels]
    env.update(
        {
            "SM_TRAINING_JOB_NAME": spec.training_job_name,
            "TRAINING_JOB_NAME": spec.training_job_name,
            "SM_HPS": json.dumps(spec.hyperparameters),
            "SM_MODEL_DIR": str(layout.model_dir),
            "SM_INPUT_DIR": str(layout.root / "input"),
            "SM_INPUT_CONFIG_DIR": str(layout.config_dir),
            "SM_INPUT_DATA_DIR": str(layout.data_dir),
            "SM_OUTPUT_DIR": str(layout.output_dir),
            "SM_OUTPUT_DATA_DIR": str(layout.output_data_dir),
            "SM_CHECKPOINT_DIR": str(layout.checkpoint_dir),
            "SM_CHANNELS": json.dumps(channels),
            "SM_CURRENT_HOST": layout.host,
            "SM_HOSTS": json.dumps(list(layout.hosts)),
        }
    )
    if spec.instance_type is not None and not layout.groups:
        env["SM_CURRENT_INSTANCE_TYPE"] = spec.instance_type
        env["SM_CURRENT_INSTANCE_GROUP"] = HOMOGENEOUS_GROUP
    if layout.groups:
        env.update(
            {
                "SM_IS_HETERO": "true",
                "SM_CURRENT_INSTANCE_GROUP": layout.group or "",
                "SM_CURRENT_INSTANCE_TYPE": layout.instance_type or "",
                "SM_CURRENT_INSTANCE_GROUP_HOSTS": json.dumps(layout.group_hosts),
                "SM_INSTANCE_GROUPS": json.dumps([name for name, _, _ in layout.groups]),
                "SM_INSTANCE_GROUPS_DICT": json.dumps(
                    {
                        name: {"instance_group_name": name, "instance_type": kind, "hosts": list(m)}
                        for name, kind, m in layout.groups
                    }
                ),
            }
        )
    if len(layout.hosts) > 1 and master is not None:
        env.update(
            {
                "MASTER_ADDR": master[0],
                "MASTER_PORT": str(master[1]),
                "RANK": str(layout.rank),
                "WORLD_SIZE": str(len(layout.hosts)),
            }
        )
    if spec.resource_limit is not None:
        # Promotion Hyperband: train to this step, checkpoint, and exit; a promoted job resumes
        # from the checkpoint with a higher limit (docs/training-programs.md).
        env["TUNESTREAM_RESOURCE_LIMIT"] = str(spec.resource_limit)
    for channel in channels:
        env[f"SM_CHANNEL_{env_name(channel)}"] = str(layout.channel_dir(channel))
    for name, value in spec.hyperparameters.items():
        env[f"SM_HP_{env_name(name)}"] = value
    if spec.script is not None:
        env.update(script_environment(spec, layout))
    return env


def script_environment(spec: TrainingJobSpec, layout: JobLayout) -> dict[str, str]:
    """What a framework container's training toolkit adds for a script: its hyperparameters decoded,
    where its code came from and is, and its command line."""
    assert spec.script is not None
    script = spec.script
    hps = user_hyperparameters(spec.hyperparameters)
    env = {
        "SM_HPS": json.dumps(hps),
        "SM_MODULE_DIR": script.submit_directory,
        "SM_USER_ENTRY_POINT": script.program,
        "SM_MODULE_NAME": Path(script.program).stem,
        "SM_USER_ARGS": json.dumps(script_arguments(spec.hyperparameters)),
        "SM_LOG_LEVEL": str(decoded(spec.hyperparameters.get("sagemaker_container_log_level", "20"))),
        "SM_FRAMEWORK_PARAMS": json.dumps(
            {k: decoded(v) for k, v in spec.hyperparameters.items() if k.startswith(TOOLKIT_PREFIX)}
        ),
        SCRIPT_CODE_DIR_ENV: str(layout.code_dir),
    }
    for name in hps:
        env[f"SM_HP_{env_name(name)}"] = toolkit_value(spec.hyperparameters[name])
    return env


def training_argv(spec: TrainingJobSpec) -> list[str]:
    """Command (or a `file://` TrainingImage's executable) followed by --name value for every
    hyperparameter, each value one argv item."""
    executable = spec.local_executable
    if spec.script is not None:
        # The toolkit's part (into the code folder, then the entry point with its arguments) on the
        # launcher's own interpreter, which must hold the framework the script imports.
        return [sys.executable, "-m", SCRIPT_RUNNER, *script_arguments(spec.hyperparameters)]
    if spec.builtin_algorithm is not None:
        # The stand-in runs on the launcher's own interpreter, where tunestream is installed.
        argv = [sys.executable, "-m", stand_in_module(spec.builtin_algorithm)]
    else:
        argv = [executable, *spec.command] if executable else list(spec.command)
    for name, value in spec.hyperparameters.items():
        argv += [f"--{name}", value]
    return argv


def container_command(spec: TrainingJobSpec) -> list[str]:
    """What a container of the job's image runs with: ContainerArguments; none after a
    ContainerEntrypoint without them; else the Command's argv, or SageMaker's `train`."""
    if spec.container_arguments is not None:
        return list(spec.container_arguments)
    if spec.container_entrypoint is not None:
        return []
    return training_argv(spec) if spec.command else ["train"]


def failure_reason(layout: JobLayout, exit_code: int, stderr_tail: list[str]) -> str:
    """SageMaker's rule: the program's output/failure file wins; otherwise the last lines of stderr."""
    if layout.failure_file.is_file():
        text = layout.failure_file.read_text(errors="replace").strip()
        if text:
            return text[:1024]
    tail = "\n".join(stderr_tail[-20:]).strip()
    reason = f"AlgorithmError: training program exited with code {exit_code}"
    return f"{reason}: {tail}"[:2048] if tail else reason
