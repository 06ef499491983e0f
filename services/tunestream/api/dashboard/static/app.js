/* tunestream dashboard: a single page in plain JS with hash routes.
 *
 *   #/                        tuning jobs
 *   #/tuning-jobs/<name>      one tuning job: counters, best job, plots, training jobs
 *   #/training-jobs/<name>    one training job: DescribeTrainingJob, learning curve, log
 *
 * Every string that comes from the api is inserted as text (textContent / text nodes), never as
 * HTML; strings handed to plotly (which understands a few tags) are entity-escaped first.
 */
"use strict";

(() => {
  const TOKEN_KEY = "tunestream.apiToken";
  const ENDED = new Set(["Completed", "Failed", "Stopped"]);
  const POLL_MS = 2000;
  const LIST_POLL_MS = 5000;
  const LIST_PAGE_SIZE = 25;
  const STATUSES = ["InProgress", "Completed", "Stopped", "Stopping", "Failed"];
  const PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ];
  const STATUS_COLOURS = {
    Completed: "#1a8a4a", Stopped: "#c46a00", Failed: "#c62828", InProgress: "#2f6fdb", Stopping: "#2f6fdb",
  };
  const PLOT_CONFIG = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };
  const BASE_LAYOUT = {
    margin: { l: 64, r: 24, t: 36, b: 48 },
    font: { size: 12, color: "#1f2430" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    hovermode: "closest",
    uirevision: "keep",
  };

  const main = document.getElementById("main");
  const live = document.getElementById("live");
  const crumbs = document.getElementById("crumbs");
  let generation = 0;
  let analyticsRoute = true; // false once GET /tuning-jobs/{name}/analytics/metrics answered 404
  const listState = { name: "", status: "", tokens: [null], page: 0 };
  const describeCache = new Map(); // tuning job -> Describe, for the list page's best objective

  // ---------------------------------------------------------------- DOM, as text only

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    return append(el, children);
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function badge(status, extra) {
    return h("span", { class: `badge ${status || ""}`, title: extra || null }, status || "–");
  }

  function select(id, options, value, onchange) {
    const el = h("select", { id, onchange: () => onchange(el.value) });
    for (const [v, label] of options) el.appendChild(h("option", { value: v }, label));
    el.value = value;
    return el;
  }

  function kvTable(id, rows) {
    const body = h("tbody");
    for (const [k, v] of rows) {
      if (v === null || v === undefined || v === "") continue;
      body.appendChild(h("tr", { dataset: { key: k } }, h("th", {}, k), h("td", {}, v instanceof Node ? v : String(v))));
    }
    return h("table", { class: "kv", id }, body);
  }

  // ---------------------------------------------------------------- formatting

  function fmtNum(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
    return String(Number(v.toPrecision(6)));
  }

  const pad = (n, w = 2) => String(n).padStart(w, "0");

  function fmtTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  /** A date string plotly reads (local time, no zone: plotly has none). */
  function plotTime(iso) {
    const d = new Date(iso);
    return `${fmtTime(iso)}.${pad(d.getMilliseconds(), 3)}`;
  }

  function seconds(from, to) {
    if (!from) return null;
    const end = to ? new Date(to) : new Date();
    return Math.max((end - new Date(from)) / 1000, 0);
  }

  function fmtDuration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return "–";
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${pad(Math.round(s % 60))}s`;
    return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
  }

  /** Text for plotly labels and hovers: its pseudo-HTML is turned off by escaping. */
  function pt(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function wrap(s, width) {
    const words = String(s).split(/\s+/);
    const lines = [];
    let line = "";
    for (const w of words) {
      if (line && line.length + w.length + 1 > width) {
        lines.push(line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    if (line) lines.push(line);
    return lines;
  }

  const truncate = (s, n) => (String(s).length > n ? `${String(s).slice(0, n - 1)}…` : String(s));
  const enc = encodeURIComponent;
  const tuningHref = (name) => `#/tuning-jobs/${enc(name)}`;
  const trainingHref = (name) => `#/training-jobs/${enc(name)}`;

  /** The number in <tuning job>-<NNN>-<8 hex>, as the suggester names training jobs. */
  function jobIndex(name) {
    const m = /-(\d+)-[0-9a-f]{8}$/.exec(name);
    return m ? parseInt(m[1], 10) : null;
  }

  function tuningJobOf(trainingJobName) {
    return trainingJobName.replace(/-\d+-[0-9a-f]{8}$/, "");
  }

  function objectiveValue(job) {
    const m = job && job.FinalHyperParameterTuningJobObjectiveMetric;
    return m && typeof m.Value === "number" ? m.Value : null;
  }

  function failedCount(counters) {
    return (counters.NonRetryableError || 0) + (counters.RetryableError || 0);
  }

  // ---------------------------------------------------------------- api

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function storedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch (e) {
      return "";
    }
  }

  async function api(path, asText) {
    const headers = { Accept: asText ? "text/plain" : "application/json" };
    const token = storedToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (response.status === 401) {
      showAuth(token ? "The api refused the stored token; enter the right one." : "This api asks for a bearer token.");
      throw new HttpError(401, "401: missing or wrong bearer token");
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const body = await response.json();
        if (body && body.message) message = `${response.status}: ${body.message}`;
      } catch (e) {
        /* not JSON */
      }
      throw new HttpError(response.status, message);
    }
    return asText ? response.text() : response.json();
  }

  async function mapLimit(items, limit, fn) {
    const queue = items.slice();
    const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
      while (queue.length) await fn(queue.shift());
    });
    await Promise.all(workers);
  }

  async function allTrainingJobs(name) {
    const jobs = [];
    let next = null;
    do {
      const q = new URLSearchParams({ MaxResults: "100", SortBy: "Name", SortOrder: "Ascending" });
      if (next) q.set("NextToken", next);
      const page = await api(`/tuning-jobs/${enc(name)}/training-jobs?${q}`);
      jobs.push(...page.TrainingJobSummaries);
      next = page.NextToken;
    } while (next);
    return jobs;
  }

  /** Metric points of every training job: one analytics call, or one call per training job. */
  async function tuningMetrics(name, jobs, cache) {
    if (analyticsRoute) {
      try {
        const r = await api(`/tuning-jobs/${enc(name)}/analytics/metrics?format=json`);
        const out = new Map();
        for (const p of r.Metrics || []) {
          if (typeof p.Value !== "number") p.Value = Number(p.Value); // "Infinity", null
          if (!out.has(p.TrainingJobName)) out.set(p.TrainingJobName, []);
          out.get(p.TrainingJobName).push(p);
        }
        return out;
      } catch (e) {
        if (e.status !== 404) throw e;
        analyticsRoute = false;
      }
    }
    // A training job's series is read until it has been read twice after the job ended.
    const todo = jobs.filter((j) => !cache.has(j.TrainingJobName) || cache.get(j.TrainingJobName).afterEnd < 2);
    await mapLimit(todo, 4, async (j) => {
      const r = await api(`/training-jobs/${enc(j.TrainingJobName)}/metrics`);
      const entry = cache.get(j.TrainingJobName) || { afterEnd: 0 };
      entry.points = r.Metrics || [];
      if (ENDED.has(j.TrainingJobStatus)) entry.afterEnd += 1;
      cache.set(j.TrainingJobName, entry);
    });
    const out = new Map();
    for (const [k, v] of cache) out.set(k, v.points);
    return out;
  }

  // ---------------------------------------------------------------- token

  const auth = document.getElementById("auth");
  const tokenInput = document.getElementById("token-input");

  function showAuth(message) {
    document.getElementById("auth-message").textContent = message;
    if (auth.hidden) {
      auth.hidden = false;
      tokenInput.focus();
    }
  }

  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      localStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
    } catch (e) {
      /* storage off: nothing to keep it in */
    }
    tokenInput.value = "";
    auth.hidden = true;
    route();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    try {
      localStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* nothing stored */
    }
    auth.hidden = true;
    route();
  });
  document.getElementById("token-cancel").addEventListener("click", () => {
    auth.hidden = true;
  });
  document.getElementById("token-button").addEventListener("click", () => {
    if (!auth.hidden) auth.hidden = true;
    else showAuth(storedToken() ? "A token is stored; enter another to replace it." : "No token is stored.");
  });

  // ---------------------------------------------------------------- routing and polling

  function setCrumbs(parts) {
    crumbs.replaceChildren();
    for (const [label, href] of parts) {
      crumbs.appendChild(h("span", { class: "sep" }, "›"));
      crumbs.appendChild(href ? h("a", { href }, label) : h("span", {}, label));
    }
  }

  function setLive(text, on) {
    live.textContent = text;
    live.classList.toggle("on", Boolean(on));
  }

  function errorBox() {
    return h("div", { class: "error", id: "page-error", hidden: true });
  }

  function showError(box, error) {
    box.textContent = error ? String(error.message || error) : "";
    box.hidden = !error;
  }

  /** Runs `fn` now and again `ms` after it returns true, while this route is current. */
  function poller(g, box, fn, ms) {
    let timer = null;
    let running = false;
    let again = false;
    const tick = async () => {
      if (g !== generation) return;
      clearTimeout(timer);
      if (running) {
        again = true;
        return;
      }
      running = true;
      let more = true;
      try {
        more = await fn();
        if (g === generation) showError(box, null);
      } catch (error) {
        if (g !== generation) return;
        showError(box, error);
        more = error.status !== 401 && error.status !== 404;
        if (!more) setLive("not refreshing", false);
      } finally {
        running = false;
      }
      if (g !== generation) return;
      if (again) {
        again = false;
        tick();
      } else if (more) timer = setTimeout(tick, ms);
    };
    tick();
    return tick;
  }

  function route() {
    generation += 1;
    const g = generation;
    if (window.Plotly) for (const el of main.querySelectorAll(".js-plotly-plot")) Plotly.purge(el);
    const hash = location.hash.replace(/^#\/?/, "");
    const [kind, ...rest] = hash.split("/");
    const name = decodeURIComponent(rest.join("/"));
    window.scrollTo(0, 0);
    if (!kind) listPage(g);
    else if (kind === "tuning-jobs" && name) tuningJobPage(g, name);
    else if (kind === "training-jobs" && name) trainingJobPage(g, name);
    else {
      setCrumbs([["not found", null]]);
      main.replaceChildren(h("div", { class: "error" }, `No page at ${location.hash}`));
    }
  }

  // ---------------------------------------------------------------- plots

  function drawPlot(div, empty, traces, layout, hasData) {
    if (!window.Plotly) {
      empty.textContent = "plotly.js did not load";
      empty.hidden = false;
      return;
    }
    if (!hasData) {
      if (div.classList.contains("js-plotly-plot")) Plotly.purge(div);
      div.hidden = true;
      div.dataset.key = "";
      empty.hidden = false;
      return;
    }
    empty.hidden = true;
    div.hidden = false;
    const key = JSON.stringify([traces, layout]);
    if (div.dataset.key === key) return;
    div.dataset.key = key;
    Plotly.react(div, traces, { ...BASE_LAYOUT, ...layout }, PLOT_CONFIG);
  }

  function plotBox(id, emptyText, tall) {
    const div = h("div", { id, class: tall ? "plot tall" : "plot", hidden: true });
    const empty = h("div", { class: "empty-plot" }, emptyText);
    return { div, empty, nodes: [div, empty] };
  }

  /** Steps are whole numbers: a tick per step while they are few. */
  function stepTicks(traces) {
    const last = Math.max(1, ...traces.flatMap((t) => t.x || []));
    return last <= 20 ? { dtick: 1, range: [0.8, last + 0.2] } : {};
  }

  function better(a, b, maximize) {
    return maximize ? a > b : a < b;
  }

  function convergenceTraces(points, maximize, metric, xOf) {
    const xs = [];
    const ys = [];
    const colours = [];
    const texts = [];
    const bestX = [];
    const bestY = [];
    let best = null;
    for (const p of points) {
      xs.push(xOf(p));
      ys.push(p.value);
      colours.push(STATUS_COLOURS[p.job.TrainingJobStatus] || "#7f7f7f");
      texts.push(`${pt(p.job.TrainingJobName)}<br>${pt(metric)} = ${fmtNum(p.value)}<br>${p.job.TrainingJobStatus}`);
      if (best === null || better(p.value, best, maximize)) best = p.value;
      bestX.push(xOf(p));
      bestY.push(best);
    }
    return [
      {
        type: "scatter", mode: "markers", name: "objective", x: xs, y: ys, text: texts,
        customdata: points.map((p) => p.job.TrainingJobName),
        hovertemplate: "%{text}<extra></extra>", marker: { color: colours, size: 8, opacity: 0.85 },
      },
      {
        type: "scatter", mode: "lines", name: "best so far", x: bestX, y: bestY,
        line: { shape: "hv", width: 2.5, color: "#1a8a4a" }, hovertemplate: "best so far %{y}<extra></extra>",
      },
    ];
  }

  function logScaled(range) {
    const min = parseFloat(range.MinValue);
    const max = parseFloat(range.MaxValue);
    if (range.ScalingType === "Logarithmic") return min > 0;
    return range.ScalingType === "Auto" && min > 0 && max / min >= 100;
  }

  /** The tuned ranges; with several TrainingJobDefinitions, every definition's, one axis per name
   *  (a name two definitions share spans both ranges). */
  function parameterRanges(describe) {
    const all = [(describe.HyperParameterTuningJobConfig || {}).ParameterRanges || {}];
    for (const d of describe.TrainingJobDefinitions || []) all.push(d.HyperParameterRanges || {});
    const byName = new Map();
    const add = (p, kind) => {
      const seen = byName.get(p.Name);
      if (!seen) { byName.set(p.Name, { ...p, kind }); return; }
      if (kind === "Categorical") {
        seen.Values = [...new Set([...(seen.Values || []), ...p.Values])];
      } else {
        seen.MinValue = String(Math.min(parseFloat(seen.MinValue), parseFloat(p.MinValue)));
        seen.MaxValue = String(Math.max(parseFloat(seen.MaxValue), parseFloat(p.MaxValue)));
      }
    };
    for (const r of all) {
      for (const p of r.IntegerParameterRanges || []) add(p, "Integer");
      for (const p of r.ContinuousParameterRanges || []) add(p, "Continuous");
      for (const p of r.CategoricalParameterRanges || []) add(p, "Categorical");
    }
    return [...byName.values()];
  }

  /** parcoords writes its labels and tick texts as plain SVG text (no pseudo-HTML): not escaped. */
  function parcoordsTrace(ranges, jobs, maximize, metric) {
    const dims = ranges.map((r) => {
      const values = jobs.map((j) => (j.TunedHyperParameters || {})[r.Name]);
      if (r.kind === "Categorical") {
        const cats = r.Values.map(String);
        return {
          label: truncate(r.Name, 24),
          values: values.map((v) => cats.indexOf(String(v))),
          tickvals: cats.map((_, i) => i),
          ticktext: cats.map((c) => truncate(c, 28)),
          range: [0, Math.max(cats.length - 1, 1)],
        };
      }
      const log = logScaled(r);
      const f = (v) => (log ? Math.log10(parseFloat(v)) : parseFloat(v));
      return {
        label: truncate(log ? `log10(${r.Name})` : r.Name, 28),
        values: values.map(f),
        range: [f(r.MinValue), f(r.MaxValue)],
      };
    });
    const objectives = jobs.map(objectiveValue);
    dims.push({ label: truncate(metric, 28), values: objectives });
    return {
      type: "parcoords",
      dimensions: dims,
      labelangle: 0,
      labelfont: { size: 12 },
      tickfont: { size: 11 },
      line: {
        color: objectives,
        colorscale: "Viridis",
        reversescale: !maximize,
        showscale: true,
        colorbar: { title: { text: pt(truncate(metric, 20)) }, thickness: 14 },
      },
    };
  }

  function curveTraces(jobs, metricsByJob, metric, bestName) {
    const traces = [];
    const many = jobs.length > 20;
    for (const j of jobs) {
      const points = (metricsByJob.get(j.TrainingJobName) || [])
        .filter((p) => p.MetricName === metric && Number.isFinite(p.Value))
        .sort((a, b) => a.Step - b.Step);
      if (!points.length) continue;
      const index = jobIndex(j.TrainingJobName);
      const colour = PALETTE[((index || traces.length + 1) - 1) % PALETTE.length];
      const stopped = j.TrainingJobStatus === "Stopped";
      const reason = j.EarlyStoppingReason || (stopped ? "stopped" : null);
      const last = points.length - 1;
      const label = `#${pad(index === null ? traces.length + 1 : index, 3)}`;
      const extra = reason ? `<br>${wrap(`stopped early: ${reason}`, 70).map(pt).join("<br>")}` : "";
      traces.push({
        type: "scatter",
        mode: "lines+markers",
        name: stopped ? `${label} ✕ stopped` : label,
        meta: j.TrainingJobName,
        customdata: points.map(() => j.TrainingJobName),
        x: points.map((p) => p.Step),
        y: points.map((p) => p.Value),
        text: points.map((p) => `${pt(j.TrainingJobName)} (${j.TrainingJobStatus})<br>step ${p.Step}: ${fmtNum(p.Value)}${extra}`),
        hovertemplate: "%{text}<extra></extra>",
        showlegend: !many,
        opacity: stopped ? 0.75 : 1,
        line: {
          color: colour,
          width: j.TrainingJobName === bestName ? 3.5 : 1.8,
          dash: stopped ? "dot" : j.TrainingJobStatus === "Failed" ? "dash" : "solid",
        },
        marker: {
          size: points.map((_, k) => (stopped && k === last ? 13 : 5)),
          symbol: points.map((_, k) => (stopped && k === last ? "x" : "circle")),
          color: points.map((_, k) => (stopped && k === last ? "#c62828" : colour)),
        },
      });
    }
    return traces;
  }

  // ---------------------------------------------------------------- page: tuning jobs

  function listPage(g) {
    document.title = "Tuning jobs · tunestream";
    setCrumbs([]);
    const box = errorBox();
    const body = h("tbody", { id: "jobs-body" });
    const count = h("span", { class: "count", id: "jobs-count" });
    const prev = h("button", { type: "button", class: "ghost small", id: "jobs-prev" }, "‹ newer");
    const next = h("button", { type: "button", class: "ghost small", id: "jobs-next" }, "older ›");
    const pageLabel = h("span", { class: "muted" });
    let debounce = null;
    const nameInput = h("input", {
      id: "jobs-name-filter", type: "search", placeholder: "name contains…", value: listState.name,
      oninput: () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => {
          listState.name = nameInput.value.trim();
          listState.tokens = [null];
          listState.page = 0;
          wake();
        }, 300);
      },
    });
    const statusSelect = select(
      "jobs-status-filter", [["", "all statuses"], ...STATUSES.map((s) => [s, s])], listState.status,
      (v) => {
        listState.status = v;
        listState.tokens = [null];
        listState.page = 0;
        wake();
      },
    );
    prev.addEventListener("click", () => {
      if (listState.page > 0) listState.page -= 1;
      wake();
    });
    next.addEventListener("click", () => {
      if (listState.tokens[listState.page + 1]) listState.page += 1;
      wake();
    });
    const heads = [
      ["Name"], ["Status"], ["Strategy"], ["Objective"], ["Completed", "num"], ["In progress", "num"],
      ["Stopped", "num"], ["Failed", "num"], ["Training jobs", "num"], ["Created"], ["Duration", "num"],
      ["Best objective", "num"],
    ];
    main.replaceChildren(
      box,
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Tuning jobs"), h("span", { class: "muted" }, "refreshed every 5 s")),
        h("div", { class: "toolbar" }, nameInput, statusSelect, count),
        h("div", { class: "table-scroll" },
          h("table", { id: "jobs-table" },
            h("thead", {}, h("tr", {}, heads.map(([label, cls]) => h("th", { class: cls || null }, label)))),
            body)),
        h("div", { class: "pager" }, prev, pageLabel, next)),
    );

    const wake = poller(g, box, async () => {
      const q = new URLSearchParams({ MaxResults: String(LIST_PAGE_SIZE), SortBy: "CreationTime", SortOrder: "Descending" });
      if (listState.name) q.set("NameContains", listState.name);
      if (listState.status) q.set("StatusEquals", listState.status);
      const token = listState.tokens[listState.page];
      if (token) q.set("NextToken", token);
      const page = await api(`/tuning-jobs?${q}`);
      if (g !== generation) return false;
      listState.tokens[listState.page + 1] = page.NextToken || null;
      const summaries = page.HyperParameterTuningJobSummaries || [];
      const todo = summaries.filter((s) => {
        const d = describeCache.get(s.HyperParameterTuningJobName);
        return !d || !ENDED.has(d.HyperParameterTuningJobStatus) || d.LastModifiedTime !== s.LastModifiedTime;
      });
      await mapLimit(todo, 4, async (s) => {
        try {
          describeCache.set(s.HyperParameterTuningJobName, await api(`/tuning-jobs/${enc(s.HyperParameterTuningJobName)}`));
        } catch (e) {
          if (e.status === 401) throw e;
        }
      });
      if (g !== generation) return false;
      renderList(body, summaries);
      count.textContent = `${summaries.length} shown`;
      prev.disabled = listState.page === 0;
      next.disabled = !listState.tokens[listState.page + 1];
      pageLabel.textContent = `page ${listState.page + 1}`;
      setLive(`refreshed ${fmtTime(new Date().toISOString()).slice(11)}`, true);
      return true;
    }, LIST_POLL_MS);
  }

  function renderList(body, summaries) {
    body.replaceChildren();
    if (!summaries.length) {
      body.appendChild(h("tr", {}, h("td", { colspan: 12, class: "muted" }, "No tuning jobs.")));
      return;
    }
    for (const s of summaries) {
      const name = s.HyperParameterTuningJobName;
      const d = describeCache.get(name);
      const c = s.TrainingJobStatusCounters || {};
      const total = (c.Completed || 0) + (c.InProgress || 0) + (c.Stopped || 0) + failedCount(c);
      const objective = d && d.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective;
      const best = d ? objectiveValue(d.BestTrainingJob) : null;
      const limits = s.ResourceLimits || {};
      const cell = (col, value, cls) => h("td", { class: cls || null, dataset: { col } }, value);
      body.appendChild(
        h("tr", { class: "clickable", dataset: { name }, onclick: (e) => { if (!e.target.closest("a")) location.hash = tuningHref(name); } },
          cell("name", h("a", { href: tuningHref(name) }, name)),
          cell("status", badge(s.HyperParameterTuningJobStatus)),
          cell("strategy", s.Strategy),
          cell("objective", objective ? `${objective.Type} ${objective.MetricName}` : "–"),
          cell("Completed", String(c.Completed || 0), "num"),
          cell("InProgress", String(c.InProgress || 0), "num"),
          cell("Stopped", String(c.Stopped || 0), "num"),
          cell("Failed", String(failedCount(c)), "num"),
          cell("count", `${total} / ${limits.MaxNumberOfTrainingJobs ?? "?"}`, "num"),
          cell("created", fmtTime(s.CreationTime)),
          cell("duration", fmtDuration(seconds(s.CreationTime, s.HyperParameterTuningEndTime)), "num"),
          h("td", { class: "num", dataset: { col: "best", value: best === null ? "" : String(best) } }, fmtNum(best)),
        ),
      );
    }
  }

  // ---------------------------------------------------------------- page: one tuning job

  function tuningJobPage(g, name) {
    document.title = `${name} · tunestream`;
    setCrumbs([["Tuning jobs", "#/"], [name, null]]);
    const st = {
      sort: { key: "index", dir: 1 }, status: "", text: "", metric: null, jobs: [], describe: null,
      metrics: new Map(), metricCache: new Map(), afterEnd: 0, tableKey: null, convergenceX: "index",
    };
    const box = errorBox();
    const statusEl = h("span", { id: "job-status" });
    const facts = h("div", { class: "facts", id: "job-facts" });
    const reason = h("div", { class: "reason", id: "job-reason", hidden: true });
    const counters = h("div", { id: "job-counters" });
    const best = h("div", { id: "best-job" }, h("p", { class: "muted" }, "No training job has reported the objective yet."));
    const convIndex = plotBox("plot-convergence-index", "No objective values yet.");
    const convTime = plotBox("plot-convergence-time", "No objective values yet.");
    const par = plotBox("plot-parcoords", "No finished training job with an objective yet.", true);
    const curves = plotBox("plot-curves", "No metrics reported yet.", true);
    const metricSelect = h("select", { id: "curve-metric" });
    metricSelect.addEventListener("change", () => {
      st.metric = metricSelect.value;
      renderCurves(st, curves);
    });
    const statusFilter = select("tj-status-filter", [["", "all statuses"], ...STATUSES.map((s) => [s, s])], "", (v) => {
      st.status = v;
      renderTable(st, table);
    });
    const textFilter = h("input", {
      id: "tj-text-filter", type: "search", placeholder: "filter: name, hyperparameter, reason…",
      oninput: () => {
        st.text = textFilter.value.trim().toLowerCase();
        renderTable(st, table);
      },
    });
    const table = {
      head: h("thead"), body: h("tbody", { id: "tj-body" }), count: h("span", { class: "count", id: "tj-count" }),
    };
    const calls = h("tbody", { id: "api-calls-body" });

    main.replaceChildren(
      box,
      h("div", { class: "card" },
        h("div", { class: "title-row" }, h("h1", { id: "job-name" }, name), statusEl), facts, reason),
      h("div", { class: "grid2" },
        h("div", { class: "card" }, h("h2", {}, "Training jobs"), counters),
        h("div", { class: "card" }, h("h2", {}, "Best training job"), best)),
      h("div", { class: "grid2" },
        h("div", { class: "card" }, h("h2", {}, "Best objective so far, by training job"), convIndex.nodes),
        h("div", { class: "card" }, h("h2", {}, "Best objective so far, by wall-clock time"), convTime.nodes)),
      h("p", { class: "muted legend-note" },
        "Dots: each finished training job's objective (green: completed, orange: stopped early, red: failed)."),
      h("div", { class: "card" }, h("h2", {}, "Tuned hyperparameters, coloured by objective"), par.nodes),
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Learning curves"), h("label", { class: "muted" }, "metric ", metricSelect),
          h("span", { class: "muted" }, "dotted with ✕: stopped early (hover for the reason)")),
        curves.nodes),
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Training jobs")),
        h("div", { class: "toolbar" }, statusFilter, textFilter, table.count),
        h("div", { class: "table-scroll" }, h("table", { id: "tj-table" }, table.head, table.body))),
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "API calls"),
          h("span", { class: "muted" }, "who changed this tuning job, or tried to (GET /tuning-jobs/…/api-calls)")),
        h("div", { class: "table-scroll" }, h("table", { id: "api-calls-table" },
          h("thead", {}, h("tr", {}, ["Time", "Principal", "Role", "Operation", "Resource", "Via", "Answer"].map((c) => h("th", {}, c)))),
          calls))),
    );

    poller(g, box, async () => {
      const describe = await api(`/tuning-jobs/${enc(name)}`);
      const jobs = await allTrainingJobs(name);
      const metrics = await tuningMetrics(name, jobs, st.metricCache);
      const audit = await api(`/tuning-jobs/${enc(name)}/api-calls`);
      if (g !== generation) return false;
      Object.assign(st, { describe, jobs, metrics });
      renderApiCalls(audit.ApiCalls || [], calls);
      renderHeader(st, statusEl, facts, reason);
      renderCounters(st, counters);
      renderBest(st, best);
      renderConvergence(st, convIndex, convTime);
      renderParcoords(st, par);
      renderMetricChoice(st, metricSelect);
      renderCurves(st, curves);
      renderTable(st, table);
      for (const plot of [convIndex, convTime, curves]) {
        if (plot.div.on && !plot.div.dataset.clicks) {
          plot.div.dataset.clicks = "1";
          plot.div.on("plotly_click", (ev) => {
            const n = ev.points && ev.points[0] && ev.points[0].customdata;
            if (typeof n === "string") location.hash = trainingHref(n);
          });
        }
      }
      const ended = ENDED.has(describe.HyperParameterTuningJobStatus);
      if (ended) st.afterEnd += 1;
      // One more read after the end: metrics travel on their own topic and may arrive a moment later.
      const more = !ended || st.afterEnd < 2;
      setLive(more ? `live · ${fmtTime(new Date().toISOString()).slice(11)}` : "ended · not refreshing", more);
      return more;
    }, POLL_MS);
  }

  function renderApiCalls(rows, body) {
    body.replaceChildren(
      ...rows.map((c) =>
        h("tr", { class: c.Status >= 400 ? "refused" : null, dataset: { operation: c.Operation, principal: c.Principal } },
          h("td", { class: "nowrap" }, fmtTime(c.Time)),
          h("td", {}, c.Principal),
          h("td", {}, c.Role),
          h("td", {}, c.Operation),
          h("td", { class: "wrap" }, c.Resource),
          h("td", {}, c.Via),
          h("td", {}, c.Error ? `${c.Status} ${c.Error}` : String(c.Status)))),
    );
    if (!rows.length) body.appendChild(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No API call recorded.")));
  }

  function renderHeader(st, statusEl, facts, reason) {
    const d = st.describe;
    const config = d.HyperParameterTuningJobConfig || {};
    const objective = config.HyperParameterTuningJobObjective || {};
    const limits = config.ResourceLimits || {};
    statusEl.replaceChildren(badge(d.HyperParameterTuningJobStatus));
    statusEl.dataset.value = d.HyperParameterTuningJobStatus;
    const fact = (label, value, id) => h("span", { id: id || null }, `${label} `, h("b", {}, value));
    facts.replaceChildren(
      fact("strategy", config.Strategy || "–"),
      fact("objective", objective.MetricName ? `${objective.Type} ${objective.MetricName}` : "–"),
      fact("early stopping", config.TrainingJobEarlyStoppingType || "Off"),
      fact("parallel", String(limits.MaxParallelTrainingJobs ?? "–")),
      fact("random seed", String(config.RandomSeed ?? "–")),
      fact("created", fmtTime(d.CreationTime)),
      fact("ended", fmtTime(d.HyperParameterTuningEndTime)),
      fact("duration", fmtDuration(seconds(d.CreationTime, d.HyperParameterTuningEndTime))),
      // AWS-only members the request carried: accepted, without effect here (docs/request-members.md).
      ...(d.InertMembers && d.InertMembers.length
        ? [h("span", { id: "inert-members", title: "accepted, without effect here" }, "inert ",
          h("b", {}, d.InertMembers.join(", ")))]
        : []),
    );
    const text = [d.CompletionReason, d.FailureReason && `Failure: ${d.FailureReason}`].filter(Boolean).join("\n");
    reason.textContent = text;
    reason.hidden = !text;
  }

  function renderCounters(st, el) {
    const d = st.describe;
    const limits = (d.HyperParameterTuningJobConfig || {}).ResourceLimits || {};
    const group = (label, attr, counters, keys) =>
      h("div", { class: "counter-group" }, h("div", { class: "gl" }, label),
        h("div", { class: "counters" },
          keys.map((k) => h("div", { class: `counter ${k}`, dataset: { [attr]: k, value: String(counters[k] ?? 0) } },
            h("div", { class: "n" }, String(counters[k] ?? 0)), h("div", { class: "l" }, k)))));
    el.replaceChildren(
      h("div", { class: "counter-group" },
        h("div", { class: "gl" }, "training jobs started"),
        h("div", { class: "counters" },
          h("div", { class: "counter", id: "training-job-count", dataset: { value: String(st.jobs.length) } },
            h("div", { class: "n" }, `${st.jobs.length} / ${limits.MaxNumberOfTrainingJobs ?? "?"}`),
            h("div", { class: "l" }, "of MaxNumberOfTrainingJobs")))),
      group("TrainingJobStatusCounters", "counter", d.TrainingJobStatusCounters || {},
        ["Completed", "InProgress", "Stopped", "RetryableError", "NonRetryableError"]),
      group("ObjectiveStatusCounters", "objectiveCounter", d.ObjectiveStatusCounters || {}, ["Succeeded", "Pending", "Failed"]),
    );
  }

  function renderBest(st, el) {
    const b = st.describe.BestTrainingJob;
    if (!b) {
      el.replaceChildren(h("p", { class: "muted", id: "best-none" }, "No training job has reported the objective yet."));
      return;
    }
    const metric = b.FinalHyperParameterTuningJobObjectiveMetric || {};
    const value = objectiveValue(b);
    const hps = h("tbody");
    for (const [k, v] of Object.entries(b.TunedHyperParameters || {})) {
      hps.appendChild(h("tr", { dataset: { name: k } }, h("th", {}, k), h("td", { class: "val" }, String(v))));
    }
    el.replaceChildren(
      h("div", { class: "title-row" },
        h("a", { href: trainingHref(b.TrainingJobName), id: "best-name", class: "mono" }, b.TrainingJobName),
        badge(b.TrainingJobStatus)),
      h("div", { class: "facts" },
        h("span", {}, `${metric.MetricName || "objective"} `,
          h("b", { id: "best-objective", dataset: { value: value === null ? "" : String(value) } }, fmtNum(value))),
        h("span", {}, "ended ", h("b", {}, fmtTime(b.TrainingEndTime)))),
      h("h2", { style: "margin-top:12px" }, "Tuned hyperparameters"),
      h("table", { class: "kv", id: "best-hps" }, hps),
    );
  }

  function objectivePoints(st) {
    return st.jobs
      .filter((j) => objectiveValue(j) !== null && ENDED.has(j.TrainingJobStatus))
      .map((j) => ({ job: j, value: objectiveValue(j), index: jobIndex(j.TrainingJobName) }));
  }

  function objectiveInfo(st) {
    const o = (st.describe.HyperParameterTuningJobConfig || {}).HyperParameterTuningJobObjective || {};
    return { metric: o.MetricName || "objective", maximize: o.Type !== "Minimize" };
  }

  function renderConvergence(st, byIndex, byTime) {
    const { metric, maximize } = objectiveInfo(st);
    const points = objectivePoints(st);
    const yaxis = { title: { text: pt(metric) }, zeroline: false, gridcolor: "#eef0f4" };
    const legend = { orientation: "h", x: 0, y: 1.14 };
    const ordered = points.slice().sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    drawPlot(byIndex.div, byIndex.empty, convergenceTraces(ordered, maximize, metric, (p) => p.index), {
      xaxis: { title: { text: "training job #" }, dtick: ordered.length > 30 ? null : 1, gridcolor: "#eef0f4" },
      yaxis, legend,
    }, ordered.length > 0);
    const timed = points.filter((p) => p.job.TrainingEndTime)
      .sort((a, b) => new Date(a.job.TrainingEndTime) - new Date(b.job.TrainingEndTime));
    drawPlot(byTime.div, byTime.empty, convergenceTraces(timed, maximize, metric, (p) => plotTime(p.job.TrainingEndTime)), {
      xaxis: { title: { text: "training job ended at (local time)" }, type: "date", gridcolor: "#eef0f4" },
      yaxis, legend,
    }, timed.length > 0);
  }

  function renderParcoords(st, plot) {
    const { metric, maximize } = objectiveInfo(st);
    const ranges = parameterRanges(st.describe);
    const jobs = objectivePoints(st).map((p) => p.job);
    drawPlot(plot.div, plot.empty, [parcoordsTrace(ranges, jobs, maximize, metric)], {
      margin: { l: 70, r: 70, t: 56, b: 30 },
    }, jobs.length > 0 && ranges.length > 0);
  }

  function renderMetricChoice(st, sel) {
    const names = new Set();
    for (const points of st.metrics.values()) for (const p of points) names.add(p.MetricName);
    const { metric } = objectiveInfo(st);
    const sorted = [...names].sort((a, b) => (a === metric ? -1 : b === metric ? 1 : a.localeCompare(b)));
    if (!st.metric || !names.has(st.metric)) st.metric = names.has(metric) ? metric : sorted[0] || metric;
    const current = [...sel.options].map((o) => o.value).join("\n");
    if (current !== sorted.join("\n")) {
      sel.replaceChildren(...sorted.map((n) => h("option", { value: n }, n)));
    }
    sel.value = st.metric;
  }

  function renderCurves(st, plot) {
    const jobs = st.jobs.slice().sort((a, b) => (jobIndex(a.TrainingJobName) ?? 0) - (jobIndex(b.TrainingJobName) ?? 0));
    const bestName = st.describe.BestTrainingJob && st.describe.BestTrainingJob.TrainingJobName;
    const traces = curveTraces(jobs, st.metrics, st.metric, bestName);
    drawPlot(plot.div, plot.empty, traces, {
      xaxis: { title: { text: "step" }, gridcolor: "#eef0f4", ...stepTicks(traces) },
      yaxis: { title: { text: pt(st.metric || "") }, gridcolor: "#eef0f4" },
      legend: { orientation: "v", x: 1.02, y: 1 },
      margin: { l: 64, r: 24, t: 20, b: 48 },
    }, traces.length > 0);
  }

  function tableColumns(st) {
    const { metric } = objectiveInfo(st);
    const cols = [
      { key: "index", label: "#", num: true, get: (j) => jobIndex(j.TrainingJobName) },
      {
        key: "name", label: "Training job", nowrap: true, get: (j) => j.TrainingJobName,
        cell: (j) => h("a", { href: trainingHref(j.TrainingJobName), class: "mono" }, j.TrainingJobName),
      },
      { key: "status", label: "Status", get: (j) => j.TrainingJobStatus, cell: (j) => badge(j.TrainingJobStatus) },
      { key: "objective", label: metric, num: true, get: objectiveValue, show: fmtNum },
    ];
    // Several TrainingJobDefinitions: which one each training job ran.
    if (st.jobs.some((j) => j.TrainingJobDefinitionName)) {
      cols.push({
        key: "definition", label: "Definition", nowrap: true, get: (j) => j.TrainingJobDefinitionName || null,
      });
    }
    // Promotion Hyperband: a resumed training job links to the paused one it continues.
    if (st.jobs.some((j) => j.ResumedFrom)) {
      cols.push({
        key: "resumes", label: "Resumes", nowrap: true, get: (j) => j.ResumedFrom || null,
        cell: (j) => (j.ResumedFrom ? h("a", { href: trainingHref(j.ResumedFrom), class: "mono" }, j.ResumedFrom) : ""),
      });
    }
    for (const r of parameterRanges(st.describe)) {
      const numeric = r.kind !== "Categorical";
      cols.push({
        key: `hp:${r.Name}`, label: r.Name, num: numeric,
        get: (j) => {
          const v = (j.TunedHyperParameters || {})[r.Name];
          if (v === undefined) return null;
          return numeric ? parseFloat(v) : String(v);
        },
        show: (v) => (numeric ? fmtNum(v) : v),
      });
    }
    cols.push(
      { key: "started", label: "Started", nowrap: true, get: (j) => j.TrainingStartTime || null, show: fmtTime },
      {
        key: "duration", label: "Duration", num: true,
        get: (j) => seconds(j.TrainingStartTime, j.TrainingEndTime), show: fmtDuration,
      },
      {
        key: "notes", label: "Stop / failure reason", wrap: true,
        get: (j) => j.EarlyStoppingReason || j.FailureReason || j.ObjectiveStatusReason || null,
      },
    );
    return cols;
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  function renderTable(st, table) {
    const cols = tableColumns(st);
    const key = JSON.stringify([st.jobs, st.sort, st.status, st.text, st.describe.BestTrainingJob, cols.map((c) => c.key)]);
    if (key === st.tableKey) return;
    st.tableKey = key;
    table.head.replaceChildren(
      h("tr", {},
        cols.map((c) => {
          const sorted = st.sort.key === c.key ? (st.sort.dir > 0 ? "sorted-asc" : "sorted-desc") : "";
          return h("th", {
            class: `sortable ${c.num ? "num" : ""} ${sorted}`, dataset: { key: c.key }, title: "sort",
            onclick: () => {
              st.sort = st.sort.key === c.key ? { key: c.key, dir: -st.sort.dir } : { key: c.key, dir: 1 };
              renderTable(st, table);
            },
          }, c.label);
        })),
    );
    const sortCol = cols.find((c) => c.key === st.sort.key) || cols[0];
    const bestName = st.describe.BestTrainingJob && st.describe.BestTrainingJob.TrainingJobName;
    const rows = st.jobs
      .filter((j) => !st.status || j.TrainingJobStatus === st.status)
      .filter((j) => {
        if (!st.text) return true;
        const hay = [j.TrainingJobName, j.TrainingJobStatus, ...Object.values(j.TunedHyperParameters || {}),
          j.EarlyStoppingReason, j.FailureReason, j.ObjectiveStatusReason].filter(Boolean).join("\n").toLowerCase();
        return hay.includes(st.text);
      })
      .map((j) => ({ j, v: sortCol.get(j) }))
      .sort((a, b) => {
        const an = a.v === null || a.v === undefined || Number.isNaN(a.v);
        const bn = b.v === null || b.v === undefined || Number.isNaN(b.v);
        if (an || bn) return an && bn ? 0 : an ? 1 : -1; // blanks last, either way
        return st.sort.dir * compare(a.v, b.v) || compare(a.j.TrainingJobName, b.j.TrainingJobName);
      });
    table.body.replaceChildren(
      ...rows.map(({ j }) =>
        h("tr", {
          class: `clickable${j.TrainingJobName === bestName ? " best" : ""}`,
          dataset: { name: j.TrainingJobName, status: j.TrainingJobStatus },
          title: j.TrainingJobName === bestName ? "best training job" : null,
          onclick: (e) => { if (!e.target.closest("a")) location.hash = trainingHref(j.TrainingJobName); },
        },
        cols.map((c) => {
          const v = c.get(j);
          const content = c.cell ? c.cell(j) : v === null || v === undefined ? "–" : c.show ? c.show(v) : String(v);
          const cls = [c.num ? "num" : "", c.wrap ? "wrap" : "", c.nowrap ? "nowrap" : "", c.key.startsWith("hp:") && !c.num ? "val" : ""]
            .join(" ").trim();
          return h("td", { class: cls || null, dataset: { col: c.key, value: v === null || v === undefined ? "" : String(v) } }, content);
        }))),
    );
    if (!rows.length) {
      table.body.appendChild(h("tr", {}, h("td", { colspan: cols.length, class: "muted" }, st.jobs.length ? "No training job matches." : "No training jobs yet.")));
    }
    table.count.textContent = `${rows.length} of ${st.jobs.length} training jobs`;
  }

  // ---------------------------------------------------------------- page: one training job

  function trainingJobPage(g, name) {
    const tuningName = tuningJobOf(name);
    document.title = `${name} · tunestream`;
    setCrumbs([["Tuning jobs", "#/"], [tuningName, tuningHref(tuningName)], [name, null]]);
    const box = errorBox();
    const statusEl = h("span", { id: "tj-status" });
    const facts = h("div", { class: "facts", id: "tj-facts" });
    const reason = h("div", { class: "reason", id: "tj-reason", hidden: true });
    const details = h("div", { id: "tj-details" });
    const hps = h("div", { id: "tj-hyperparameters" });
    const finals = h("div", { id: "tj-final-metrics" });
    const stopping = h("div", { id: "tj-early-stopping" });
    const curve = plotBox("plot-training-curve", "No metrics reported yet.");
    const log = h("pre", { class: "log", id: "tj-log" }, "…");
    main.replaceChildren(
      box,
      h("div", { class: "card" },
        h("div", { class: "title-row" }, h("h1", { id: "tj-name" }, name), statusEl), facts, reason),
      h("div", { class: "grid2" },
        h("div", { class: "card" }, h("h2", {}, "DescribeTrainingJob"), details),
        h("div", {},
          h("div", { class: "card" }, h("h2", {}, "Hyperparameters"), hps),
          h("div", { class: "card" }, h("h2", {}, "Final metrics"), finals),
          h("div", { class: "card", id: "tj-stopping-card", hidden: true }, h("h2", {}, "Early stopping / proposal"), stopping))),
      h("div", { class: "card" }, h("h2", {}, "Learning curve"), curve.nodes),
      h("div", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Log"),
        h("span", { class: "muted" }, "GET /training-jobs/…/logs")), log),
    );

    let tuning = null;
    let afterEnd = 0;
    poller(g, box, async () => {
      const d = await api(`/training-jobs/${enc(name)}`);
      if (tuning === null) tuning = await api(`/tuning-jobs/${enc(tuningName)}`).catch(() => ({}));
      const [metrics, text] = await Promise.all([
        api(`/training-jobs/${enc(name)}/metrics`),
        api(`/training-jobs/${enc(name)}/logs`, true),
      ]);
      if (g !== generation) return false;
      renderTrainingJob(d, tuning, metrics.Metrics || [], text, { statusEl, facts, reason, details, hps, finals, stopping, curve, log });
      const ended = ENDED.has(d.TrainingJobStatus);
      if (ended) afterEnd += 1;
      const more = !ended || afterEnd < 2;
      setLive(more ? `live · ${fmtTime(new Date().toISOString()).slice(11)}` : "ended · not refreshing", more);
      return more;
    }, POLL_MS);
  }

  function renderTrainingJob(d, tuning, points, text, el) {
    const config = tuning.HyperParameterTuningJobConfig || {};
    const objective = config.HyperParameterTuningJobObjective || {};
    const tuned = new Set(parameterRanges(tuning).map((r) => r.Name));
    el.statusEl.replaceChildren(badge(d.TrainingJobStatus), " ", d.SecondaryStatus ? badge(d.SecondaryStatus) : null);
    el.statusEl.dataset.value = d.TrainingJobStatus;
    const fact = (label, value) => h("span", {}, `${label} `, h("b", {}, value));
    const final = (d.FinalMetricDataList || []).find((m) => m.MetricName === objective.MetricName);
    el.facts.replaceChildren(
      fact("tuning job", h("a", { href: tuningHref(tuningJobOf(d.TrainingJobName)) }, tuningJobOf(d.TrainingJobName))),
      fact(objective.MetricName || "objective", final ? fmtNum(final.Value) : "–"),
      fact("started", fmtTime(d.TrainingStartTime)),
      fact("ended", fmtTime(d.TrainingEndTime)),
      fact("training time", fmtDuration(seconds(d.TrainingStartTime, d.TrainingEndTime))),
    );
    const failureSaysStop = d.StopReason && d.FailureReason && d.FailureReason.includes(d.StopReason);
    const why = [
      d.FailureReason && !failureSaysStop && `Failure: ${d.FailureReason}`,
      d.StopReason && `Stopped: ${d.StopReason}`,
      d.ObjectiveStatusReason && `Objective: ${d.ObjectiveStatusReason}`,
    ].filter(Boolean).join("\n");
    el.reason.textContent = why;
    el.reason.hidden = !why;

    const algo = d.AlgorithmSpecification || {};
    const stopping = d.StoppingCondition || {};
    el.details.replaceChildren(kvTable("tj-describe", [
      ["TrainingJobStatus", d.TrainingJobStatus],
      ["SecondaryStatus", d.SecondaryStatus],
      ["FailureReason", d.FailureReason],
      ["StopReason", d.StopReason],
      ["ObjectiveStatus", d.ObjectiveStatus],
      ["ObjectiveStatusReason", d.ObjectiveStatusReason],
      ["CreationTime", fmtTime(d.CreationTime)],
      ["TrainingStartTime", fmtTime(d.TrainingStartTime)],
      ["TrainingEndTime", d.TrainingEndTime && fmtTime(d.TrainingEndTime)],
      ["LastModifiedTime", fmtTime(d.LastModifiedTime)],
      ["TrainingTimeInSeconds", d.TrainingTimeInSeconds],
      ["ExitCode", d.ExitCode],
      ["LauncherId", d.LauncherId],
      ["Gpus", d.Gpus && JSON.stringify(d.Gpus)],
      ["FailedAttempts", d.FailedAttempts && JSON.stringify(d.FailedAttempts, null, 1)],
      ["TrainingImage", algo.TrainingImage],
      ["Command", algo.Command && JSON.stringify(algo.Command)],
      ["MaxRuntimeInSeconds", stopping.MaxRuntimeInSeconds],
      ["ModelArtifacts", d.ModelArtifacts && d.ModelArtifacts.S3ModelArtifacts],
      ["LogUri", d.LogUri],
      ["TrainingJobArn", d.TrainingJobArn],
    ]));

    const hpBody = h("tbody");
    const entries = Object.entries(d.HyperParameters || {}).sort(([a], [b]) => (tuned.has(b) - tuned.has(a)) || a.localeCompare(b));
    for (const [k, v] of entries) {
      hpBody.appendChild(h("tr", { dataset: { name: k } },
        h("th", {}, k, tuned.has(k) ? [" ", h("span", { class: "badge InProgress" }, "tuned")] : null),
        h("td", { class: "val mono" }, String(v))));
    }
    el.hps.replaceChildren(h("table", { class: "kv", id: "tj-hps" }, hpBody));

    const finalBody = h("tbody");
    for (const m of d.FinalMetricDataList || []) {
      finalBody.appendChild(h("tr", { dataset: { name: m.MetricName } },
        h("th", {}, m.MetricName), h("td", { class: "num", dataset: { value: String(m.Value) } }, fmtNum(m.Value)),
        h("td", { class: "muted" }, fmtTime(m.Timestamp))));
    }
    el.finals.replaceChildren((d.FinalMetricDataList || []).length
      ? h("table", { id: "tj-finals" }, finalBody) : h("p", { class: "muted" }, "None yet."));

    const extra = [];
    if (d.EarlyStopping) for (const [k, v] of Object.entries(d.EarlyStopping)) extra.push([`EarlyStopping.${k}`, typeof v === "object" ? JSON.stringify(v) : v]);
    if (d.ProposalReason) extra.push(["ProposalReason", d.ProposalReason]);
    if (d.ProposalDetails) for (const [k, v] of Object.entries(d.ProposalDetails)) extra.push([`ProposalDetails.${k}`, typeof v === "object" ? JSON.stringify(v) : v]);
    el.stopping.replaceChildren(kvTable("tj-stopping", extra));
    el.stopping.parentElement.hidden = !extra.length;

    // One trace per metric; the objective first and thicker; where early stopping cut, its cutoff.
    const byMetric = new Map();
    for (const p of points) {
      if (!byMetric.has(p.MetricName)) byMetric.set(p.MetricName, []);
      byMetric.get(p.MetricName).push(p);
    }
    const names = [...byMetric.keys()].sort((a, b) => (a === objective.MetricName ? -1 : b === objective.MetricName ? 1 : a.localeCompare(b)));
    const traces = names.map((n, i) => {
      const ps = byMetric.get(n).sort((a, b) => a.Step - b.Step);
      return {
        type: "scatter", mode: "lines+markers", name: pt(n), x: ps.map((p) => p.Step), y: ps.map((p) => p.Value),
        line: { width: n === objective.MetricName ? 3 : 1.6, color: PALETTE[i % PALETTE.length] },
        marker: { size: 5 }, hovertemplate: `${pt(n)} step %{x}: %{y}<extra></extra>`,
      };
    });
    const es = d.EarlyStopping;
    if (es && typeof es.Step === "number" && typeof es.Value === "number") {
      traces.push({
        type: "scatter", mode: "markers", name: "stopped here", x: [es.Step], y: [es.Value],
        marker: { symbol: "x", size: 14, color: "#c62828" },
        hovertemplate: `${wrap(`stopped early: ${d.StopReason || es.Rule || ""}`, 70).map(pt).join("<br>")}<extra></extra>`,
      });
      if (typeof es.Cutoff === "number") {
        traces.push({
          type: "scatter", mode: "markers", name: "cutoff", x: [es.Step], y: [es.Cutoff],
          marker: { symbol: "line-ew-open", size: 22, color: "#c62828", line: { width: 2 } },
          hovertemplate: `cutoff ${fmtNum(es.Cutoff)} (${pt(es.Rule || "")})<extra></extra>`,
        });
      }
    }
    drawPlot(el.curve.div, el.curve.empty, traces, {
      xaxis: { title: { text: "step" }, gridcolor: "#eef0f4", ...stepTicks(traces) },
      yaxis: { title: { text: "value" }, gridcolor: "#eef0f4" },
      legend: { orientation: "h", x: 0, y: 1.12 },
    }, points.length > 0);

    const pre = el.log;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    const shown = text || "(no output yet)";
    if (pre.textContent !== shown) {
      pre.textContent = shown;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
  }

  window.addEventListener("hashchange", route);
  route();
})();
