"""A small HTTP client of tunestream's api, shared by the CLI, the SDK and the tests."""

from __future__ import annotations

from typing import Any

import httpx


class ApiClientError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.body = status, body


class TunestreamClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def _json(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ApiClientError(response.status_code, body)
        return body

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """The api's /readyz: whether it is ready, and each dependency's status (a 503 is an answer here)."""
        response = self._http.get("/readyz")
        if response.status_code not in (200, 503):
            self._json(response)
        return response.status_code == 200, response.json()

    def create_tuning_job(self, job: dict[str, Any]) -> dict[str, Any]:
        return self._json(self._http.post("/tuning-jobs", json=job))

    def describe(self, name: str) -> dict[str, Any]:
        return self._json(self._http.get(f"/tuning-jobs/{name}"))

    def list_tuning_jobs(self, **params: Any) -> dict[str, Any]:
        return self._json(self._http.get("/tuning-jobs", params=params))

    def training_jobs(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of ListTrainingJobsForHyperParameterTuningJob."""
        found: list[dict[str, Any]] = []
        token = None
        while True:
            query = {k: v for k, v in {**params, "NextToken": token}.items() if v is not None}
            page = self._json(self._http.get(f"/tuning-jobs/{name}/training-jobs", params=query))
            found.extend(page["TrainingJobSummaries"])
            token = page.get("NextToken")
            if not token:
                return found

    def whoami(self) -> dict[str, str]:
        """The principal this client's token belongs to, and its role."""
        result: dict[str, str] = self._json(self._http.get("/whoami"))
        return result

    def api_calls(self, name: str) -> list[dict[str, Any]]:
        """The tuning job's audit trail: every mutating call on it, oldest first."""
        calls: list[dict[str, Any]] = self._json(self._http.get(f"/tuning-jobs/{name}/api-calls"))["ApiCalls"]
        return calls

    def stop(self, name: str) -> dict[str, Any]:
        return self._json(self._http.post(f"/tuning-jobs/{name}/stop"))

    def stop_training_job(self, name: str) -> dict[str, Any]:
        """StopTrainingJob: that training job ends as Stopped; its tuning job goes on."""
        return self._json(self._http.post(f"/training-jobs/{name}/stop"))

    def all_training_jobs(self, **params: Any) -> list[dict[str, Any]]:
        """Every page of ListTrainingJobs (across tuning jobs)."""
        found: list[dict[str, Any]] = []
        token = None
        while True:
            query = {k: v for k, v in {**params, "NextToken": token}.items() if v is not None}
            page = self._json(self._http.get("/training-jobs", params=query))
            found.extend(page["TrainingJobSummaries"])
            token = page.get("NextToken")
            if not token:
                return found

    def delete(self, name: str) -> dict[str, Any]:
        return self._json(self._http.delete(f"/tuning-jobs/{name}"))

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return self._json(self._http.get(f"/training-jobs/{name}"))

    def metrics(self, name: str) -> dict[str, Any]:
        return self._json(self._http.get(f"/training-jobs/{name}/metrics"))

    def logs(self, name: str) -> str:
        response = self._http.get(f"/training-jobs/{name}/logs")
        if response.status_code >= 400:
            self._json(response)
        return response.text

    def analytics(self, name: str, table: str, *, metric_name: str | None = None) -> dict[str, Any]:
        """The JSON form of an analytics table: `table` is "training-jobs" or "metrics"."""
        params = {"MetricName": metric_name} if metric_name else {}
        return self._json(self._http.get(f"/tuning-jobs/{name}/analytics/{table}", params=params))

    def export(self, name: str, table: str, fmt: str, *, metric_name: str | None = None) -> bytes:
        """An analytics table as CSV or Parquet bytes."""
        params = {"format": fmt, **({"MetricName": metric_name} if metric_name else {})}
        response = self._http.get(f"/tuning-jobs/{name}/analytics/{table}", params=params)
        if response.status_code >= 400:
            self._json(response)
        return response.content
