"""Names and ARNs derived from a tuning job's name, deterministic so replays agree."""

from __future__ import annotations

import hashlib

ARN_PREFIX = "arn:aws:sagemaker:local:000000000000"


def training_job_name(tuning_job_name: str, index: int) -> str:
    """SageMaker's pattern <tuning job>-<3-digit number>-<8 hex>, numbered from 001."""
    digest = hashlib.sha256(f"{tuning_job_name}/{index}".encode()).hexdigest()[:8]
    return f"{tuning_job_name}-{index + 1:03d}-{digest}"


def standalone_tuning_job_name(training_job_name: str) -> str:
    """The tuning job of one that carries a training job created by CreateTrainingJob through the
    services (never listed or described as a tuning job): a valid tuning job name, one per name."""
    return "tj-" + hashlib.sha256(training_job_name.encode()).hexdigest()[:24]


def tuning_job_arn(name: str) -> str:
    return f"{ARN_PREFIX}:hyper-parameter-tuning-job/{name.lower()}"


def training_job_arn(name: str) -> str:
    return f"{ARN_PREFIX}:training-job/{name.lower()}"
