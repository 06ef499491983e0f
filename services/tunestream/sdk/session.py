"""`Session`: where the tunestream api is, the default bucket, and the calls the SDK makes.

The counterpart of `sagemaker.session.Session`. It reads tunestream's settings (TUNESTREAM_API_URL,
TUNESTREAM_API_TOKEN, TUNESTREAM_S3_BUCKET, ...: environment first, then `.stack/stack.env` or the
file named by TUNESTREAM_ENV_FILE) unless given them, and turns the api's error responses into
`ClientError`s worded as botocore words SageMaker's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tunestream.client import ApiClientError, TunestreamClient
from tunestream.config import Settings, load_settings
from tunestream.sdk.exceptions import ApiUnreachableError, ClientError
from tunestream.trials import TERMINAL_STATUSES

# tunestream has no IAM: roles are accepted (RoleArn) and ignored. This placeholder keeps lab
# preambles (`role = get_execution_role()`) working.
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/TunestreamExecutionRole"

T = TypeVar("T")


def get_execution_role(sagemaker_session: Session | None = None, use_default: bool = False) -> str:
    """A placeholder role ARN: tunestream runs training jobs without IAM, and ignores RoleArn."""
    return PLACEHOLDER_ROLE_ARN


class Session:
    """Connection to a tunestream api (and its S3 store, for `upload_data`)."""

    def __init__(
        self,
        api_url: str | None = None,
        api_token: str | None = None,
        default_bucket: str | None = None,
        settings: Settings | None = None,
        client: TunestreamClient | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.api_url = api_url or self.settings.api_url
        if api_token is None and self.settings.api_token is not None:
            api_token = self.settings.api_token.get_secret_value()
        self.client = client if client is not None else TunestreamClient(self.api_url, api_token, timeout_s=timeout_s)
        self._default_bucket = default_bucket or self.settings.s3_bucket

    def __repr__(self) -> str:
        return f"Session(api_url={self.api_url!r}, default_bucket={self._default_bucket!r})"

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ what sagemaker.Session has

    def default_bucket(self) -> str:
        """The S3 bucket tunestream is configured with (TUNESTREAM_S3_BUCKET)."""
        return self._default_bucket

    @property
    def boto_region_name(self) -> str:
        return self.settings.s3_region

    def upload_data(self, path: str, bucket: str | None = None, key_prefix: str = "data") -> str:
        """Upload a file or a folder's files to s3://bucket/key_prefix/...; returns the S3 URI of the prefix
        (of the file, for a single file), as sagemaker's does."""
        from tunestream.objstore.factory import make_object_store

        store = make_object_store(self.settings)
        bucket = bucket or self.default_bucket()
        store.ensure_bucket(bucket)
        source = Path(path)
        prefix = key_prefix.strip("/")
        if source.is_file():
            uri = f"s3://{bucket}/{prefix}/{source.name}" if prefix else f"s3://{bucket}/{source.name}"
            store.put_file(uri, source)
            return uri
        if not source.is_dir():
            raise FileNotFoundError(f"upload_data: {path!r} is neither a file nor a folder")
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            key = "/".join(x for x in (prefix, file.relative_to(source).as_posix()) if x)
            store.put_file(f"s3://{bucket}/{key}", file)
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    # ------------------------------------------------------------------ api calls, errors translated

    def _call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except ApiClientError as exc:
            raise ClientError(operation, exc.status, exc.body) from None
        except httpx.HTTPError as exc:
            raise ApiUnreachableError(
                f"cannot reach the tunestream api at {self.api_url} ({exc}); start the services "
                "(`make services-start`) or point TUNESTREAM_API_URL at a running api"
            ) from None

    def create_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("CreateHyperParameterTuningJob", self.client.create_tuning_job, request)

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        return self._call("DescribeHyperParameterTuningJob", self.client.describe, name)

    def list_training_jobs_for_tuning_job(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of ListTrainingJobsForHyperParameterTuningJob (default: by name, i.e. in launch order)."""
        return self._call("ListTrainingJobsForHyperParameterTuningJob", self.client.training_jobs, name, **params)

    def stop_tuning_job(self, name: str) -> dict[str, Any]:
        return self._call("StopHyperParameterTuningJob", self.client.stop, name)

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return self._call("DescribeTrainingJob", self.client.describe_training_job, name)

    def training_job_metrics(self, name: str) -> dict[str, Any]:
        return self._call("GetTrainingJobMetrics", self.client.metrics, name)

    def training_job_logs(self, name: str) -> str:
        return self._call("GetTrainingJobLogs", self.client.logs, name)

    def wait_for_tuning_job(
        self, name: str, poll: float = 2.0, progress: bool = True, timeout: float | None = None
    ) -> dict[str, Any]:
        """Block until the tuning job ends; with `progress`, print a line whenever its progress changes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            desc = self.describe_tuning_job(name)
            if progress:
                line = progress_line(desc)
                if line != last:
                    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)
                    last = line
            if desc["HyperParameterTuningJobStatus"] in TERMINAL_STATUSES:
                return desc
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"tuning job {name} did not end within {timeout:.0f}s")
            time.sleep(poll)


def progress_line(desc: dict[str, Any]) -> str:
    """'<name> InProgress: 4/20 training jobs finished, 4 running; best val:dice=0.7709'."""
    counters = desc.get("TrainingJobStatusCounters") or {}
    finished = sum(int(counters.get(k, 0)) for k in ("Completed", "NonRetryableError", "RetryableError", "Stopped"))
    limits = desc.get("HyperParameterTuningJobConfig", {}).get("ResourceLimits", {})
    total = limits.get("MaxNumberOfTrainingJobs")
    line = f"{desc['HyperParameterTuningJobName']} {desc['HyperParameterTuningJobStatus']}: {finished}"
    line += f"/{total}" if total else ""
    line += f" training jobs finished, {int(counters.get('InProgress', 0))} running"
    failed = int(counters.get("NonRetryableError", 0)) + int(counters.get("RetryableError", 0))
    if failed:
        line += f", {failed} failed"
    best = desc.get("BestTrainingJob")
    metric = (best or {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    if metric:
        line += f"; best {metric['MetricName']}={metric['Value']:.6g}"
    return line
