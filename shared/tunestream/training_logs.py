"""A training job's full log in the S3 store: where it lives and how it reads. The tracker writes it
when the job ends; the api renders the same text from the database while the job still runs."""

from __future__ import annotations


def log_uri(bucket: str, tuning_job_name: str, training_job_name: str) -> str:
    """Full output of a training job, one line per output line, stdout and stderr interleaved in order."""
    return f"s3://{bucket}/logs/{tuning_job_name}/{training_job_name}/output.log"


def render_log(lines: list[dict[str, str]]) -> bytes:
    """One text line per output line; a training job of several instances prefixes each line with its
    host's name, as `[algo-2] text`."""
    return "".join(
        f"[{line['host']}] {line['text']}\n" if line.get("host") else f"{line['text']}\n" for line in lines
    ).encode()
