"""Every deterministic event id, in one place.

An event's id is a function of what it says, never of when or by whom it was made: a service that
restarts mid-job and handles the same input again emits the same ids, and every consumer (the
tracker's processed-events table, the services' own ledgers) drops the repeat. Changing a format
here changes what old logs deduplicate against, so formats only ever gain new functions.
"""

from __future__ import annotations


def submitted(tuning_job: str) -> str:
    return f"{tuning_job}:submitted"


def api_call(request_id: str) -> str:
    """An audited api call: one per request (a retried request is a new call)."""
    return f"api-call:{request_id}"


def tuning_job_stop_requested(tuning_job: str) -> str:
    return f"{tuning_job}:stop-requested"


def ended(tuning_job: str) -> str:
    return f"{tuning_job}:ended"


def proposed(training_job: str) -> str:
    return f"{training_job}:proposed"


def training_job_stop_requested(training_job: str) -> str:
    return f"{training_job}:stop-requested"


def attempt(training_job: str, number: int, what: str) -> str:
    """An event of one attempt (assigned, started, failed) of a training job that may be retried."""
    return f"{training_job}:attempt-{number}:{what}"


def started(training_job: str, attempt_number: int) -> str:
    # The first attempt keeps the id it had before retries existed, so older logs still deduplicate.
    return f"{training_job}:started" if attempt_number == 0 else attempt(training_job, attempt_number, "started")


def output_batch(training_job: str, seq: int) -> str:
    return f"{training_job}:log:{seq}"


def metric(training_job: str, metric_name: str, step: int) -> str:
    return f"{training_job}:metric:{metric_name}:{step}"


def finished(training_job: str) -> str:
    return f"{training_job}:finished"


def objective(training_job: str) -> str:
    return f"{training_job}:objective"


def heartbeat(launcher_id: str, incarnation: str, at_ns: int) -> str:
    """Heartbeats are not deduplicated: each one is news, so its id carries its time."""
    return f"{launcher_id}:{incarnation}:heartbeat:{at_ns}"
