"""`tunestream`: run the stack and the services, submit and watch tuning jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.live import Live

from tunestream.cli.render import inert_lines, make_progress, progress_view, training_jobs_table
from tunestream.client import ApiClientError, TunestreamClient
from tunestream.config import Settings, load_settings
from tunestream.trials import TERMINAL_STATUSES

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
console = Console()


def _settings() -> Settings:
    return load_settings()


def _client() -> TunestreamClient:
    s = _settings()
    return TunestreamClient(s.api_url, s.api_token.get_secret_value() if s.api_token else None)


def _stack_script() -> Path:
    candidates = [Path(os.environ.get("TUNESTREAM_DEPLOY_DIR", "deploy")) / "stack.sh"]
    for c in candidates:
        if c.is_file():
            return c
    console.print("[red]deploy/stack.sh not found: run this from a tunestream checkout or set TUNESTREAM_DEPLOY_DIR[/]")
    raise typer.Exit(2)


def _stack(action: str) -> None:
    raise typer.Exit(subprocess.call(["bash", str(_stack_script()), action]))


@app.command()
def up() -> None:
    """Install (first time) and start Kafka, PostgreSQL and the S3 server on 127.0.0.1."""
    _stack("up")


@app.command()
def down() -> None:
    """Stop what `up` started."""
    _stack("down")


@app.command()
def status() -> None:
    """Show whether Kafka, PostgreSQL and the S3 server run, and whether the api can reach them."""
    code = subprocess.call(["bash", str(_stack_script()), "status"])
    api_url = _settings().api_url
    try:
        ready, body = _client().readiness()
    except (httpx.HTTPError, ApiClientError, ValueError) as exc:
        console.print(f"api ({api_url}): not answering ({type(exc).__name__})")
        raise typer.Exit(code) from None
    console.print(f"api ({api_url}): {'ready' if ready else '[red]not ready[/]'}")
    _print_dependencies(body)
    services_ready = _print_service_health(_settings())
    raise typer.Exit(code if ready and services_ready else max(code, 1))


def _print_dependencies(body: dict[str, Any]) -> None:
    for name, dependency in body.get("dependencies", {}).items():
        mark = "ok" if dependency["status"] == "ok" else f"[red]{dependency['status']}[/]"
        console.print(f"  {name:<11} {mark}  {dependency['detail']} ({dependency['seconds']} s)")


def _print_service_health(settings: Settings) -> bool:
    """Each service's /readyz on this machine; False when one answers that it is not ready.

    A service that does not answer may run on another machine (launchers usually do), so that alone
    is shown, not counted as a failure."""
    from tunestream.health import HEALTH_PORT_OFFSETS, health_port

    all_ready = True
    for name in HEALTH_PORT_OFFSETS:
        port = health_port(name, settings.health_port_base)
        if port is None:
            continue
        url = f"http://{settings.health_host}:{port}/readyz"
        try:
            response = httpx.get(url, timeout=10)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            console.print(f"{name} ({url}): not answering on this machine")
            continue
        ready = response.status_code == 200
        all_ready = all_ready and ready
        console.print(f"{name} ({url}): {'ready' if ready else '[red]not ready[/]'}")
        _print_dependencies(body)
    return all_ready


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (run before the services start)."""
    from tunestream.db.migrate import upgrade

    upgrade(_settings().database_url.get_secret_value())
    console.print("database schema is up to date")


@app.command()
def service(
    name: Annotated[str, typer.Argument(help="api | suggester | launcher | collector | tracker | all")],
) -> None:
    """Run one service in the foreground, or `all` five as child processes."""
    from tunestream.runtime import SERVICES, configure_logging, run_api, run_service

    if name == "all":
        _run_all(SERVICES)
        return
    if name not in SERVICES:
        console.print(f"[red]unknown service {name!r}; one of {', '.join(SERVICES)}, all[/]")
        raise typer.Exit(2)
    configure_logging(name)
    settings = _settings()
    if name == "api":
        run_api(settings)
    else:
        import asyncio

        asyncio.run(run_service(name, settings))


def _run_all(services: tuple[str, ...]) -> None:
    children = {
        name: subprocess.Popen([sys.executable, "-m", "tunestream.cli.main", "service", name]) for name in services
    }

    def forward(signum: int, frame: object) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    exit_code = 0
    try:
        while children:
            for name, child in list(children.items()):
                code = child.poll()
                if code is not None:
                    del children[name]
                    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                        console.print(f"[red]service {name} exited with code {code}; stopping the others[/]")
                        exit_code = 1
                        forward(signal.SIGTERM, None)
            time.sleep(0.2)
    finally:
        forward(signal.SIGTERM, None)
    raise typer.Exit(exit_code)


def _load_job(path: Path, name: str | None) -> dict[str, Any]:
    try:
        job: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        console.print(f"[red]cannot read {path}: {exc}[/]")
        raise typer.Exit(2) from None
    if name:
        job["HyperParameterTuningJobName"] = name
    return job


@contextmanager
def _api_errors() -> Iterator[None]:
    """An error the api answers ends the command: printed with the fields it names, exit status 1."""
    try:
        yield
    except ApiClientError as exc:
        _print_error(exc)
        raise typer.Exit(1) from None


def _print_error(exc: ApiClientError) -> None:
    console.print(f"[red]{exc}[/]")
    body = exc.body if isinstance(exc.body, dict) else {}
    for e in body.get("errors", []):
        console.print(f"  [bold]{e['field']}[/]: {e['message']} [dim]({e['rule']})[/]")


@app.command()
def tune(
    job_file: Annotated[Path, typer.Argument(help="tuning job JSON (CreateHyperParameterTuningJob shape)")],
    name: Annotated[str | None, typer.Option(help="override HyperParameterTuningJobName")] = None,
    wait: Annotated[bool, typer.Option(help="watch progress until the tuning job ends")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait with --wait")] = 3600.0,
) -> None:
    """Submit a tuning job; with --wait, show live progress and the best training job."""
    job = _load_job(job_file, name)
    client = _client()
    with _api_errors():
        created = client.create_tuning_job(job)
    job_name = job["HyperParameterTuningJobName"]
    console.print(f"submitted {job_name}: {created['HyperParameterTuningJobArn']}", soft_wrap=True)
    if wait:
        describe = watch(client, job_name, timeout)
        print_best(client, describe)
        if describe["HyperParameterTuningJobStatus"] != "Completed":
            raise typer.Exit(1)


def watch(client: TunestreamClient, name: str, timeout_s: float) -> dict[str, Any]:
    """Live progress bar and training job table until the tuning job ends."""
    progress = make_progress(name)
    task = progress.add_task(name, total=None)
    deadline = time.monotonic() + timeout_s
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        while True:
            describe = client.describe(name)
            jobs = client.training_jobs(name)
            live.update(progress_view(describe, jobs, progress, task))
            if describe["HyperParameterTuningJobStatus"] in TERMINAL_STATUSES:
                return describe
            if time.monotonic() > deadline:
                console.print(f"[red]gave up waiting after {timeout_s:.0f}s[/]")
                raise typer.Exit(1)
            time.sleep(1.0)


def print_best(client: TunestreamClient, describe: dict[str, Any]) -> None:
    status = describe["HyperParameterTuningJobStatus"]
    console.print(f"\ntuning job [bold]{describe['HyperParameterTuningJobName']}[/]: {status}")
    if describe.get("CompletionReason"):
        console.print(f"  {describe['CompletionReason']}", soft_wrap=True)
    best = describe.get("BestTrainingJob")
    if not best:
        console.print("[yellow]no training job reported the objective metric[/]")
        return
    metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
    training = client.describe_training_job(best["TrainingJobName"])
    console.print(f"[bold green]best training job:[/] {best['TrainingJobName']}")
    console.print(f"  objective  {metric['MetricName']} = {metric['Value']:.6g} ({metric['Type']})")
    for key, value in best["TunedHyperParameters"].items():
        console.print(f"  {key:<18} {value}")
    # soft_wrap: URIs are copied from the terminal, so they must stay on one line.
    console.print(f"  model      {training.get('ModelArtifacts', {}).get('S3ModelArtifacts', '-')}", soft_wrap=True)
    console.print(f"  logs       {training.get('LogUri', '-')}", soft_wrap=True)


@app.command()
def describe(name: str, json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """DescribeHyperParameterTuningJob."""
    client = _client()
    with _api_errors():
        d = client.describe(name)
    if json_output:
        console.print_json(data=d)
        return
    strategy = d["HyperParameterTuningJobConfig"]["Strategy"]
    console.print(f"[bold]{name}[/]  {d['HyperParameterTuningJobStatus']}  strategy {strategy}")
    console.print(f"  training jobs: {d['TrainingJobStatusCounters']}")
    console.print(f"  objectives:    {d['ObjectiveStatusCounters']}")
    for line in inert_lines(d):
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    print_best(client, d)


@app.command("list")
def list_jobs() -> None:
    """ListHyperParameterTuningJobs."""
    for s in _client().list_tuning_jobs()["HyperParameterTuningJobSummaries"]:
        console.print(
            f"{s['HyperParameterTuningJobName']:<34} {s['HyperParameterTuningJobStatus']:<11} {s['CreationTime']}"
        )


@app.command("training-jobs")
def training_jobs(
    name: str,
    status_equals: Annotated[str | None, typer.Option("--status")] = None,
    sort_by: Annotated[str, typer.Option("--sort-by")] = "Name",
    sort_order: Annotated[str, typer.Option("--sort-order")] = "Ascending",
) -> None:
    """ListTrainingJobsForHyperParameterTuningJob as a table."""
    with _api_errors():
        jobs = _client().training_jobs(name, StatusEquals=status_equals, SortBy=sort_by, SortOrder=sort_order)
    console.print(training_jobs_table(jobs, title=name))


@app.command()
def stop(name: str) -> None:
    """StopHyperParameterTuningJob: running training jobs are stopped, none new start."""
    with _api_errors():
        _client().stop(name)
    console.print(f"stopping {name}")


@app.command("stop-training-job")
def stop_training_job(name: str) -> None:
    """StopTrainingJob: that training job ends as Stopped; its tuning job goes on and fills the slot."""
    with _api_errors():
        _client().stop_training_job(name)
    console.print(f"stopping training job {name}")


@app.command()
def delete(name: str) -> None:
    """DeleteHyperParameterTuningJob: an ended tuning job leaves Describe and List; its name stays taken."""
    with _api_errors():
        _client().delete(name)
    console.print(f"deleted {name}")


@app.command()
def whoami() -> None:
    """The principal TUNESTREAM_API_TOKEN belongs to, and its role."""
    with _api_errors():
        me = _client().whoami()
    console.print(f"{me['Principal']} ({me['Role']})")


@app.command("api-calls")
def api_calls(name: str) -> None:
    """A tuning job's audit trail: who changed it, or tried to, and what the api answered."""
    with _api_errors():
        calls = _client().api_calls(name)
    for c in calls:
        answer = f"{c['Status']} {c.get('Error', '')}".strip()
        console.print(
            f"{c['Time']}  {c['Principal']:<16} {c['Role']:<7} {c['Operation']:<34} {c['Via']:<9} {answer}  "
            f"{c['Resource']}",
            highlight=False,
            markup=False,
        )


@app.command()
def logs(training_job: str) -> None:
    """The full output of a training job (from S3 once it ended, live before)."""
    with _api_errors():
        sys.stdout.write(_client().logs(training_job))


@app.command()
def export(
    name: str,
    table: Annotated[str, typer.Option("--table", help="training-jobs (one row per training job) or metrics")] = (
        "training-jobs"
    ),
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="file to write; default <name>-<table>.<format>")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="metrics table: only this metric")] = None,
) -> None:
    """Export a tuning job's training jobs table or metric series as CSV or Parquet."""
    if table not in ("training-jobs", "metrics"):
        console.print(f"[red]--table must be training-jobs or metrics, not {table!r}[/]")
        raise typer.Exit(2)
    if fmt not in ("csv", "parquet"):
        console.print(f"[red]--format must be csv or parquet, not {fmt!r}[/]")
        raise typer.Exit(2)
    with _api_errors():
        data = _client().export(name, table, fmt, metric_name=metric)
    path = out or Path(f"{name}-{table}.{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    console.print(f"wrote {path} ({len(data)} bytes)")


@app.command()
def plot(
    name: str,
    out: Annotated[Path, typer.Option("--out", help="folder for the PNG files")] = Path("plots"),
) -> None:
    """Convergence, parallel coordinates and learning curves of a tuning job, as PNG files."""
    from tunestream.plots import write_plots

    client = _client()
    with _api_errors():
        describe = client.describe(name)
        jobs = client.analytics(name, "training-jobs")["TrainingJobs"]
        objective = describe["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
        metrics = client.analytics(name, "metrics", metric_name=objective.get("MetricName"))["Metrics"]
    if not objective:
        console.print(f"[red]{name} has no objective metric to plot[/]")
        raise typer.Exit(1)
    for path in write_plots(describe, jobs, metrics, out):
        console.print(f"wrote {path}")


@app.command()
def replay(
    name: str,
    component: Annotated[str, typer.Option("--component", help="all | tracker | suggester")] = "all",
    json_output: Annotated[bool, typer.Option("--json")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="keep the tracker's replay schema")] = False,
) -> None:
    """Rebuild a tuning job from its Kafka history (the tracker's rows in a fresh schema, the
    suggester's decisions offline) and show how they differ from the live ones; exit 1 if they do."""
    from tunestream.replay.run import COMPONENTS, render, run_replay

    if component not in COMPONENTS:
        console.print(f"[red]--component must be one of {', '.join(COMPONENTS)}[/]")
        raise typer.Exit(2)
    try:
        report = run_replay(_settings(), name, component, keep=keep)
    except LookupError as exc:  # the topics are not there (another TUNESTREAM_TOPIC_PREFIX?)
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if json_output:
        print(json.dumps(report, indent=1, default=str))
    else:
        for line in render(report):
            console.print(line, markup=False, highlight=False)
    raise typer.Exit(1 if report["differences"] else 0)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
