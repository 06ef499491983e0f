"""The web dashboard in headless Chromium against the real stack.

A Hyperband tuning job runs while the pages are open: the numbers shown agree with the api's
Describe as it changes (live updates, no reload), the page turns Completed by itself, the training
jobs table sorts and filters, the plots are drawn, user strings (categorical values holding HTML,
log lines) stay text, and a configured api token is asked for and sent. Screenshots go to
test-artifacts/screenshots/; with TUNESTREAM_DOCS_SCREENSHOTS=1, once all is well, also to
docs/dashboard-*.png (the pictures docs/analytics.md shows).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.integration.conftest import ARTIFACTS, ROOT, Services, _free_port, trainer_job, wait_until_ended
from tests.support import waiting
from tests.support.jobs import continuous, several_definitions
from tunestream.client import TunestreamClient
from tunestream.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS = ROOT / "docs"
# Categorical values are arbitrary strings: these must show as text and never become elements.
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__pwned=1</script>"
BOLD = "<b id=injected>bold</b>"
T = TypeVar("T")


def _skip_reason() -> str | None:
    if os.environ.get("TUNESTREAM_BROWSER_TESTS_SKIP"):
        return f"browser tests skipped: {os.environ['TUNESTREAM_BROWSER_TESTS_SKIP']}"
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return f"browser tests need {' and '.join(missing)} (deploy/browser.sh installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "browser tests need selenium (the dev extra)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


class Browser:
    """A WebDriver plus every console message it produced, checked for errors at the end."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.console: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def errors(self, allowed: tuple[str, ...] = ()) -> list[str]:
        self.drain()
        return [
            e["message"]
            for e in self.console
            if e.get("level") == "SEVERE" and not any(a in e["message"] for a in allowed)
        ]

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def screenshot(self, name: str) -> Path:
        """The whole page: the window grows until its viewport holds the document, for the shot."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = self.driver.get_window_size()
        for _ in range(4):
            inner, full = self.js("return [window.innerHeight, document.documentElement.scrollHeight]")
            if inner >= full:
                break
            height = self.driver.get_window_size()["height"]
            self.driver.set_window_size(size["width"], min(height + full - inner, 6000))
            time.sleep(0.8)  # plotly's responsive plots redraw on the resize
        path = SCREENSHOTS / name
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(size["width"], size["height"])
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tunestream-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # parcoords draws with WebGL: without a GPU that is SwiftShader, which must be asked for.
        "--enable-unsafe-swiftshader",
        f"--user-data-dir={profile}",
        "--window-size=1440,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# A page mid-update raises (stale element, missing node): that is "not yet", not a failure.
wait_for = functools.partial(waiting.wait_for, timeout_s=15.0, interval_s=0.25, tolerate=(Exception,))


JOB_PAGE_STATE = """
const q = (s) => document.querySelector(s);
const all = (s) => [...document.querySelectorAll(s)];
if (!q("#job-status") || !q("#job-status").dataset.value) return null;
return {
  status: q("#job-status").dataset.value,
  counters: Object.fromEntries(all("[data-counter]").map((e) => [e.dataset.counter, Number(e.dataset.value)])),
  objectives: Object.fromEntries(
    all("[data-objective-counter]").map((e) => [e.dataset.objectiveCounter, Number(e.dataset.value)])),
  count: Number(q("#training-job-count").dataset.value),
  best: q("#best-name") ? q("#best-name").textContent : null,
  bestValue: q("#best-objective") ? Number(q("#best-objective").dataset.value) : null,
  rows: all("#tj-body tr[data-name]").length,
};
"""


def api_state(api: TunestreamClient, name: str) -> dict[str, Any]:
    d = api.describe(name)
    best = d.get("BestTrainingJob")
    return {
        "status": d["HyperParameterTuningJobStatus"],
        "counters": d["TrainingJobStatusCounters"],
        "objectives": d["ObjectiveStatusCounters"],
        "count": len(api.training_jobs(name)),
        "best": best["TrainingJobName"] if best else None,
        "bestValue": best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] if best else None,
    }


def page_agrees_with_api(browser: Browser, api: TunestreamClient, name: str) -> dict[str, Any] | None:
    """Describe, the page, Describe again: the page agrees when it shows what both reads said."""
    before = api_state(api, name)
    page = browser.js(JOB_PAGE_STATE)
    after = api_state(api, name)
    if page is None or before != after:
        return None
    shown = {k: page[k] for k in before}
    return {**after, "rows": page["rows"]} if shown == after and page["rows"] == after["count"] else None


def table_column(browser: Browser, col: str) -> list[str]:
    values: list[str] = browser.js(
        "return [...document.querySelectorAll('#tj-body tr[data-name]')]"
        ".map((tr) => tr.querySelector(`td[data-col='${arguments[0]}']`).dataset.value);",
        col,
    )
    return values


def plot_summary(browser: Browser, element_id: str) -> dict[str, Any] | None:
    summary: dict[str, Any] | None = browser.js(
        """
        const el = document.getElementById(arguments[0]);
        if (!el || !el.classList.contains('js-plotly-plot') || !el.data) return null;
        return {
          visible: el.offsetHeight > 100,
          traces: el.data.map((t) => ({
            type: t.type || 'scatter', name: t.name || null, meta: t.meta || null,
            points: (t.x || (t.dimensions && t.dimensions[0].values) || []).length,
            dash: t.line && t.line.dash || null, dimensions: t.dimensions ? t.dimensions.length : null,
          })),
          drawn: el.querySelectorAll('.main-svg').length,
        };
        """,
        element_id,
    )
    return summary


def assert_no_injected_markup(browser: Browser) -> None:
    injected = browser.js(
        "return {img: document.querySelectorAll('img').length, b: document.querySelectorAll('#injected').length,"
        " scripts: document.querySelectorAll('body script').length, pwned: window.__pwned === 1};"
    )
    # The only scripts are index.html's two; user strings created no elements and ran nothing.
    assert injected == {"img": 0, "b": 0, "scripts": 2, "pwned": False}, injected


@pytest.fixture(scope="module")
def dashboard_job(api: TunestreamClient, run_id: str) -> str:
    """Hyperband on 8 training jobs, 2 at a time, 9 epochs of 0.8 s: some stopped at rung 2."""
    name = f"dash-{run_id}"
    job = trainer_job(name, jobs=8, parallel=2, epochs="9", sleep="0.8")
    job["TrainingJobDefinition"]["RoleArn"] = "arn:aws:iam::000000000000:role/dashboard"  # inert here
    config = job["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 9}}
    config["ParameterRanges"] = {
        "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "8"}],
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "1"},
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
        ],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["plain", IMG, SCRIPT, BOLD]}],
    }
    api.create_tuning_job(job)
    return name


def test_dashboard_follows_a_tuning_job_live(
    browser: Browser, api: TunestreamClient, settings: Settings, dashboard_job: str
) -> None:
    name = dashboard_job
    base = f"http://127.0.0.1:{settings.api_port}"
    driver = browser.driver
    started = time.monotonic()

    # / -> /dashboard/, the list of tuning jobs, with this one in it as the api lists it.
    driver.get(base + "/")
    assert driver.current_url.startswith(base + "/dashboard/")
    row = f"#jobs-body tr[data-name='{name}']"

    def list_row_agrees() -> bool:
        summary = next(
            s
            for s in api.list_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
            if s["HyperParameterTuningJobName"] == name
        )
        shown = browser.js(
            "const tr = document.querySelector(arguments[0]); if (!tr) return null;"
            "return Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent]));",
            row,
        )
        c = summary["TrainingJobStatusCounters"]
        return (
            bool(shown)
            and shown["status"] == summary["HyperParameterTuningJobStatus"]
            and (
                shown["Completed"],
                shown["InProgress"],
                shown["Stopped"],
                shown["strategy"],
            )
            == (str(c["Completed"]), str(c["InProgress"]), str(c["Stopped"]), "Hyperband")
        )

    wait_for("the list page to show the job as the api lists it", list_row_agrees, timeout_s=20)
    assert api.describe(name)["HyperParameterTuningJobStatus"] == "InProgress", "the job ended too soon to watch"
    browser.screenshot("dashboard-jobs-running.png")

    # Click through to the job page (same document: a hash route); a marker shows it never reloads.
    driver.find_element("css selector", f"{row} td[data-col='name'] a").click()
    wait_for("the tuning job page", lambda: driver.current_url.endswith(f"#/tuning-jobs/{name}"))
    browser.js("window.__sameDocument = true;")

    # Live: while the job runs, the page catches up with Describe within a few seconds, repeatedly.
    seen_running = 0
    while True:
        agreed = wait_for("the job page to agree with Describe", lambda: page_agrees_with_api(browser, api, name))
        if agreed["status"] != "InProgress":
            break
        seen_running += 1
        if seen_running == 1:
            browser.screenshot("dashboard-job-running.png")
        time.sleep(1.5)
    # Once is the claim (live numbers match); more rounds happen when the machine is not loaded.
    assert seen_running >= 1, "the job ended before the page could be compared with it while running"

    # It turns Completed by itself (no reload), with the final numbers.
    wait_for("Completed on the page", lambda: browser.js(JOB_PAGE_STATE)["status"] == "Completed", timeout_s=60)
    assert browser.js("return window.__sameDocument === true;"), "the page was reloaded"
    final = wait_for("the final numbers", lambda: page_agrees_with_api(browser, api, name))
    assert final["status"] == "Completed" and final["count"] == 8 and final["counters"]["Stopped"] >= 1, final
    wait_for(
        "polling to stop", lambda: "not refreshing" in browser.js("return document.getElementById('live').textContent")
    )
    jobs = {j["TrainingJobName"]: j for j in api.training_jobs(name)}

    # The table: one row per training job; sort by the objective (click its header), both ways.
    assert len(table_column(browser, "name")) == 8
    header = "#tj-table th[data-key='objective']"
    driver.find_element("css selector", header).click()
    values = [float(v) for v in table_column(browser, "objective") if v != ""]
    expected = sorted(
        j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for j in jobs.values()
        if "FinalHyperParameterTuningJobObjectiveMetric" in j
    )
    assert values == expected
    driver.find_element("css selector", header).click()
    assert [float(v) for v in table_column(browser, "objective") if v != ""] == expected[::-1]
    assert table_column(browser, "name")[0] == final["best"]

    # Filter by status, then by text.
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", "#tj-status-filter")).select_by_value("Stopped")
    stopped = table_column(browser, "name")
    assert stopped and len(stopped) == final["counters"]["Stopped"]
    assert {jobs[n]["TrainingJobStatus"] for n in stopped} == {"Stopped"}
    assert all(jobs[n]["EarlyStoppingReason"].startswith("hyperband: bracket") for n in stopped)
    Select(driver.find_element("css selector", "#tj-status-filter")).select_by_value("")
    text_filter = driver.find_element("css selector", "#tj-text-filter")
    one = sorted(jobs)[2]
    text_filter.send_keys(one)
    assert table_column(browser, "name") == [one]
    text_filter.clear()
    text_filter.send_keys("onerror")
    with_img = [n for n, j in jobs.items() if j["TunedHyperParameters"]["kind"] == IMG]
    assert with_img, "no training job drew the categorical value holding HTML"
    assert sorted(table_column(browser, "name")) == sorted(with_img)
    browser.js("const e = arguments[0]; e.value = ''; e.dispatchEvent(new Event('input')); e.blur();", text_filter)
    assert len(table_column(browser, "name")) == 8

    # User strings are text: the categorical values show literally and created nothing.
    kinds = browser.js(
        "return [...document.querySelectorAll(\"#tj-body td[data-col='hp:kind']\")].map((td) => td.textContent);"
    )
    assert sorted(kinds) == sorted(j["TunedHyperParameters"]["kind"] for j in jobs.values())
    assert IMG in kinds
    best_kind = browser.js("return document.querySelector(\"#best-hps tr[data-name='kind'] td\").textContent;")
    assert best_kind == jobs[final["best"]]["TunedHyperParameters"]["kind"]
    assert_no_injected_markup(browser)

    # AWS-only members are shown as without effect.
    inert = browser.js("return document.getElementById('inert-members').textContent;")
    assert inert == "inert TrainingJobDefinition.RoleArn", inert

    # The audit trail: the job's creation, by the open api's admin, over REST.
    calls = browser.js(
        "return [...document.querySelectorAll('#api-calls-body tr')].map((tr) => "
        "[...tr.querySelectorAll('td')].map((td) => td.textContent));"
    )
    assert [c[1:] for c in calls] == [["default", "admin", "CreateHyperParameterTuningJob", name, "rest", "200"]], calls

    # Plots: convergence by index and by time, parcoords, one learning curve per training job.
    for plot_id in ("plot-convergence-index", "plot-convergence-time"):
        plot = wait_for(plot_id, lambda plot_id=plot_id: plot_summary(browser, plot_id))
        assert plot["visible"] and plot["drawn"] and [t["name"] for t in plot["traces"]] == ["objective", "best so far"]
        assert plot["traces"][0]["points"] == final["objectives"]["Succeeded"]
    parcoords = wait_for("parcoords", lambda: plot_summary(browser, "plot-parcoords"))
    assert parcoords["visible"] and [t["type"] for t in parcoords["traces"]] == ["parcoords"]
    assert parcoords["traces"][0]["dimensions"] == 5  # layers, x, lr, kind and the objective
    assert parcoords["traces"][0]["points"] == final["objectives"]["Succeeded"]
    assert browser.js("return document.querySelectorAll('#plot-parcoords .gl-canvas, #plot-parcoords canvas').length")
    par_text = browser.js("return [...document.querySelectorAll('#plot-parcoords text')].map((t) => t.textContent);")
    assert IMG in par_text and BOLD in par_text  # tick labels of the categorical axis, as text
    curves = wait_for(
        "a learning curve per training job",
        lambda: (s := plot_summary(browser, "plot-curves")) and len(s["traces"]) == 8 and s,
    )
    assert {t["meta"] for t in curves["traces"]} == set(jobs)
    for t in curves["traces"]:
        early = jobs[t["meta"]]["TrainingJobStatus"] == "Stopped"
        assert (t["dash"] == "dot") == early and ("stopped" in t["name"]) == early, t
        assert t["points"] == len(api.metrics(t["meta"])["Metrics"])
    assert_no_injected_markup(browser)
    job_shot = browser.screenshot("dashboard-job.png")

    # Back to the list: the job shows Completed with its best objective.
    driver.find_element("css selector", "header .brand").click()
    wait_for(
        "the list row to show Completed and the best objective",
        lambda: (
            browser.js(
                f'const tr = document.querySelector("{row}"); return tr && '
                "[tr.querySelector(\"td[data-col='status']\").textContent,"
                " tr.querySelector(\"td[data-col='best']\").dataset.value];"
            )
            == ["Completed", str(final["bestValue"])]
            or None
        ),
    )
    list_shot = browser.screenshot("dashboard-jobs.png")

    # A training job page (click its row): an early-stopped one whose kind holds HTML, if any.
    driver.get(f"{base}/dashboard/#/tuning-jobs/{name}")
    wait_for("the job page again", lambda: browser.js(JOB_PAGE_STATE))
    chosen = next((n for n in stopped if "<" in jobs[n]["TunedHyperParameters"]["kind"]), stopped[0])
    wait_for(
        "the row",
        lambda: driver.find_element("css selector", f"#tj-body tr[data-name='{chosen}'] td[data-col='status']"),
    )
    driver.find_element("css selector", f"#tj-body tr[data-name='{chosen}'] td[data-col='status']").click()
    wait_for(
        "the training job page", lambda: browser.js("return document.getElementById('tj-name')?.textContent") == chosen
    )
    detail = api.describe_training_job(chosen)
    log = api.logs(chosen)

    def training_page() -> dict[str, Any] | None:
        shown: dict[str, Any] | None = browser.js(
            """
            const q = (s) => document.querySelector(s);
            if (!q('#tj-status') || !q('#tj-status').dataset.value) return null;
            return {
              status: q('#tj-status').dataset.value,
              hps: Object.fromEntries([...document.querySelectorAll('#tj-hps tr')]
                .map((tr) => [tr.dataset.name, tr.querySelector('td').textContent])),
              log: q('#tj-log').textContent,
              stopReason: q("#tj-describe tr[data-key='StopReason'] td")?.textContent,
              rule: q("#tj-stopping tr[data-key='EarlyStopping.Rule'] td")?.textContent,
            };
            """
        )
        return shown if shown and shown["log"] == log else None

    shown = wait_for("the training job's hyperparameters and log", training_page)
    assert shown["status"] == detail["TrainingJobStatus"] == "Stopped"
    assert shown["hps"] == detail["HyperParameters"]
    assert shown["stopReason"] == detail["StopReason"] and shown["rule"] == detail["EarlyStopping"]["Rule"]
    assert "epoch=1 score=" in shown["log"]
    kind = jobs[chosen]["TunedHyperParameters"]["kind"]
    if "<" in kind:  # the program echoes its argv, so the log holds the HTML too
        assert shown["hps"]["kind"] == kind and kind in shown["log"]
    curve = wait_for("the training job's learning curve", lambda: plot_summary(browser, "plot-training-curve"))
    assert curve["traces"][0]["name"] == "score" and curve["traces"][0]["points"] >= 1
    assert "stopped here" in [t["name"] for t in curve["traces"]]
    assert_no_injected_markup(browser)
    wait_for(
        "polling to stop", lambda: "not refreshing" in browser.js("return document.getElementById('live').textContent")
    )
    training_shot = browser.screenshot("dashboard-training-job.png")

    assert browser.errors() == [], "the browser logged errors"
    if os.environ.get("TUNESTREAM_DOCS_SCREENSHOTS") == "1":  # refresh docs/ only when asked: they are in git
        for shot in (list_shot, job_shot, training_shot):
            shutil.copyfile(shot, DOCS / shot.name)
    print(f"dashboard walk-through took {time.monotonic() - started:.1f}s")


def test_dashboard_asks_for_the_api_token(
    browser: Browser, services: Services, settings: Settings, dashboard_job: str
) -> None:
    """With a token configured the assets load without it; the page asks, stores and sends it."""
    token = "dash-s3cret"
    port = _free_port()
    services.start("api-token", "api", env={"TUNESTREAM_API_PORT": str(port), "TUNESTREAM_API_TOKEN": token})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the second api", lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, timeout_s=60)
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/tuning-jobs").status_code == 401
            assert http.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
            for path in ("/dashboard/", "/dashboard/static/app.js", "/dashboard/static/style.css"):
                assert http.get(path).status_code == 200, path
            plotly = http.get("/dashboard/static/plotly.min.js")
            assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"
            assert plotly.text.lstrip().startswith("/**") and "plotly.js" in plotly.text[:200]
            assert http.get("/dashboard/static/nothing.js").status_code == 404

        driver = browser.driver
        browser.drain()
        driver.get(f"{base}/dashboard/#/tuning-jobs/{dashboard_job}")
        wait_for("the token prompt", lambda: browser.js("return !document.getElementById('auth').hidden"))
        assert browser.js("return localStorage.getItem('tunestream.apiToken')") is None
        driver.find_element("css selector", "#token-input").send_keys(token)
        driver.find_element("css selector", "#token-save").click()
        state = wait_for("the job page with the token", lambda: browser.js(JOB_PAGE_STATE))
        assert state["status"] == "Completed" and state["rows"] == 8
        assert browser.js("return localStorage.getItem('tunestream.apiToken')") == token
        assert browser.js("return document.getElementById('auth').hidden")
        # Kept across a reload of the page.
        driver.refresh()
        wait_for("the job page after a reload", lambda: browser.js(JOB_PAGE_STATE))
        assert browser.js("return document.getElementById('auth').hidden")
        # Only the 401s before the token was given are errors.
        assert browser.errors(allowed=("401 (Unauthorized)",)) == []
        unauthorized = [m for m in browser.errors() if "401" in m]
        assert unauthorized and all("/tuning-jobs/" in m for m in unauthorized)
    finally:
        services.kill("api-token", signal.SIGTERM)


def test_dashboard_links_each_resumed_training_job_to_the_one_it_continues(
    browser: Browser, api: TunestreamClient, settings: Settings, run_id: str
) -> None:
    """Promotion Hyperband (a program with checkpoints): the table has a Resumes column with the
    api's ResumedFrom, each a link to the paused training job it continues."""
    name = f"dash-promo-{run_id}"
    job = trainer_job(name, jobs=8, parallel=2, epochs="9", sleep="0.05")
    config = job["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}}
    job["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": f"s3://tunestream/it/checkpoints/{name}"}
    api.create_tuning_job(job)
    assert wait_until_ended(api, name, timeout_s=120)["HyperParameterTuningJobStatus"] == "Completed"
    resumed = {j["TrainingJobName"]: j.get("ResumedFrom") or "" for j in api.training_jobs(name)}
    assert any(resumed.values()), "no training job was resumed"

    browser.drain()
    browser.console.clear()  # what earlier tests logged (the token test's 401s) is theirs
    driver = browser.driver
    driver.get(f"http://127.0.0.1:{settings.api_port}/dashboard/#/tuning-jobs/{name}")
    wait_for("the training jobs table", lambda: len(table_column(browser, "name")) == 8)
    assert dict(zip(table_column(browser, "name"), table_column(browser, "resumes"), strict=True)) == resumed
    child, parent = next((c, p) for c, p in sorted(resumed.items()) if p)
    driver.find_element("css selector", f"#tj-body tr[data-name='{child}'] td[data-col='resumes'] a").click()
    wait_for("the paused training job's page", lambda: driver.current_url.endswith(f"#/training-jobs/{parent}"))
    assert browser.errors() == [], "the browser logged errors"


def test_dashboard_shows_the_definition_each_training_job_ran(
    browser: Browser, api: TunestreamClient, settings: Settings, run_id: str
) -> None:
    """Several TrainingJobDefinitions: a Definition column, and one column per tuned name across the
    definitions (a training job's cell is empty for a range its definition lacks)."""
    name = f"dash-defs-{run_id}"
    job = several_definitions(
        trainer_job(name, jobs=6, parallel=2),
        [
            {"name": "narrow", "ranges": {"ContinuousParameterRanges": [continuous("x", "0", "0.2")]}},
            {
                "name": "wide",
                "ranges": {"IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "3"}]},
            },
        ],
    )
    api.create_tuning_job(job)
    assert wait_until_ended(api, name, timeout_s=120)["HyperParameterTuningJobStatus"] == "Completed"
    ran = {j["TrainingJobName"]: j["TrainingJobDefinitionName"] for j in api.training_jobs(name)}
    assert set(ran.values()) == {"narrow", "wide"}

    browser.drain()
    browser.console.clear()
    browser.driver.get(f"http://127.0.0.1:{settings.api_port}/dashboard/#/tuning-jobs/{name}")
    wait_for("the training jobs table", lambda: len(table_column(browser, "name")) == 6)
    names = table_column(browser, "name")
    assert dict(zip(names, table_column(browser, "definition"), strict=True)) == ran
    for job_name, x, depth in zip(names, table_column(browser, "hp:x"), table_column(browser, "hp:depth"), strict=True):
        assert (x != "" and depth == "") if ran[job_name] == "narrow" else (x == "" and depth != ""), (x, depth)
    assert browser.errors() == [], "the browser logged errors"
