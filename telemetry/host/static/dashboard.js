// The Reelscope operators' dashboard: polls GET /dashboard/figures (the report's JSON, exactly
// what `reelscope-report --json` prints for the window) and draws tiles, tables and uPlot charts.
// One request at a time; a refresh that fails or is late keeps the last figures and shows their
// age. Every value from the store is written as text (textContent), never as markup.
"use strict";

const KEY_ITEM = "reelscope.dashboard.key";
const WINDOWS = ["15m", "1h", "24h", "7d", "all"];
const DEFAULT_WINDOW = "1h";
const BLUE = "#3b6fd8";

// Formatting rules (the browser test mirrors them): counts with "," thousands separators;
// durations in ms below 1 s, s with 2 decimals below 1 min, min with 1 decimal below 1 h, else
// h with 1 decimal; ratios as percentages with 1 decimal (rebuffer ratio 2); missing as "–".
const NONE = "–";
const count = (v) => (v == null ? NONE : v.toLocaleString("en-US"));
const number = (v, digits = 2) => (v == null ? NONE : v.toFixed(digits));
const percent = (v, digits = 1) => (v == null ? NONE : `${(v * 100).toFixed(digits)} %`);
function ms(v) {
  if (v == null) return NONE;
  if (Math.abs(v) < 1000) return `${Math.round(v)} ms`;
  if (Math.abs(v) < 60000) return `${(v / 1000).toFixed(2)} s`;
  if (Math.abs(v) < 3600000) return `${(v / 60000).toFixed(1)} min`;
  return `${(v / 3600000).toFixed(1)} h`;
}
const estimate = (e, format) =>
  e.value == null ? NONE : `${format(e.value)} [${format(e.low)}, ${format(e.high)}]`;

const FORMATS = {
  count: (v) => [count(v), ""],
  ms: (v) => [ms(v), ""],
  number: (v) => [number(v), ""],
  percent: (v) => [percent(v), ""],
  percent2: (v) => [percent(v, 2), ""],
  rate: (v) => [percent(v.rate), `${count(v.count)} of ${count(v.total)}`],
};

const QOE_TILES = [
  ["Attempts", "qoe.attempts", "count"],
  ["Plays", "qoe.plays", "count"],
  ["Startup p50", "qoe.startup.p50", "ms"],
  ["Startup p95", "qoe.startup.p95", "ms"],
  ["Rebuffer ratio", "qoe.rebuffer_ratio", "percent2"],
  ["Rebuffer frequency (stalls/min)", "qoe.rebuffer_per_minute", "number"],
  ["Stalls", "qoe.stalls", "count"],
  ["Seek latency p50", "qoe.seek_latency.p50", "ms"],
  ["Seek latency p95", "qoe.seek_latency.p95", "ms"],
  ["Start failures", "qoe.video_start_failures", "rate"],
  ["Playback failures", "qoe.playback_failures", "rate"],
  ["Exits before start", "qoe.exits_before_video_start", "rate"],
  ["Completion", "qoe.completion", "rate"],
  ["Watch time", "qoe.watch_ms", "ms"],
  ["Content watched", "qoe.content_watched_ms", "ms"],
];
const BROWSE_TILES = [
  ["Feeds", "browse.feeds", "count"],
  ["Impressions", "browse.impressions", "count"],
  ["Attributed plays", "browse.attributed_plays", "count"],
  ["Take rate", "browse.take_rate", "percent"],
  ["Reach", "browse.reach", "rate"],
  ["Dwell median", "browse.dwell_median_ms", "ms"],
];

const state = {
  window: initialWindow(),
  generation: 0,
  inFlight: false,
  timer: null,
  refreshMs: 5000,
  shownWindow: null, // the window of the figures on the page, once there are some
  computedAt: 0, // performance.now() at which the shown figures were computed
  computeMs: 0,
  error: "",
};
const charts = {};

function initialWindow() {
  const asked = new URLSearchParams(location.search).get("window");
  return WINDOWS.includes(asked) ? asked : DEFAULT_WINDOW;
}

const $ = (selector) => document.querySelector(selector);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function lookup(report, path) {
  return path.split(".").reduce((value, part) => (value == null ? null : value[part]), report);
}

function renderTiles(container, tiles, report) {
  container.replaceChildren(
    ...tiles.map(([label, path, format]) => {
      const [value, detail] = FORMATS[format](lookup(report, path));
      const tile = element("div", null, "tile");
      tile.dataset.figure = path;
      tile.append(element("span", label, "label"), element("b", value, "value"));
      tile.append(element("span", detail, "detail"));
      return tile;
    }),
  );
}

function renderRows(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(
    ...rows.map((cells) => {
      const row = document.createElement("tr");
      row.append(...cells.map((cell) => element("td", cell)));
      return row;
    }),
  );
}

const counted = (counts) => Object.entries(counts).map(([name, n]) => [name, count(n)]);
const line = (l) => [String(l.index), count(l.impressions), count(l.plays),
  percent(l.take_rate), ms(l.dwell_median_ms)];

function qualityValue(value) {
  if (value !== null && typeof value === "object") {
    const parts = Object.entries(value).map(([name, n]) => `${name}: ${count(n)}`);
    return parts.length ? parts.join(", ") : "none";
  }
  return count(value);
}

function renderExperiments(experiments) {
  const section = $("#experiments-section");
  section.hidden = experiments == null;
  if (experiments == null) return;
  renderRows($("#experiments"), experiments.variants.map((v) => [
    v.name, count(v.devices), count(v.feeds), count(v.impressions), count(v.plays),
    estimate(v.take_rate, percent), estimate(v.plays_per_feed, number),
    estimate(v.watch_ms_per_feed, ms), estimate(v.completion, percent), ms(v.startup.p50),
    estimate(v.rebuffer_ratio, (x) => percent(x, 2)),
  ]));
  $("#verdicts").replaceChildren(...experiments.verdicts.map((text) => element("li", text)));
}

// A chart is drawn again when its categories change (bars), else only given the new data.
function chart(id, data, options, categories = "") {
  const figure = $(`#${id}`);
  const empty = data[0].length === 0;
  figure.classList.toggle("empty", empty);
  const drawn = charts[id];
  if (drawn && !empty && drawn.categories === categories) {
    drawn.plot.setData(data);
    return;
  }
  if (drawn) drawn.plot.destroy();
  delete charts[id];
  if (empty) return;
  const width = Math.max(320, figure.clientWidth - 8);
  charts[id] = { categories, plot: new uPlot({ width, height: 220, ...options }, data, figure) };
}

// Bars at x = 0, 1, ... labelled with `labels` (one label in every few, so none overlap).
function bars(id, labels, values, seriesLabel, axisLabel) {
  const every = Math.ceil(labels.length / 8);
  chart(id, [labels.map((_, i) => i), values], {
    scales: {
      x: { time: false, range: [-0.5, labels.length - 0.5] },
      y: { range: (u, low, high) => [0, high > 0 ? high * 1.1 : 1] },
    },
    legend: { show: false },
    axes: [{
      label: axisLabel,
      splits: () => labels.map((_, i) => i),
      values: (u, splits) => splits.map((i) => (i % every === 0 ? labels[i] : "")),
    }, {}],
    series: [{}, { label: seriesLabel, stroke: BLUE, fill: `${BLUE}99`, points: { show: false },
      paths: uPlot.paths.bars({ size: [0.8, 60] }) }],
  }, JSON.stringify(labels));
}

function renderCharts(report) {
  const histogram = report.qoe.startup_histogram;
  bars("startup-chart",
    histogram.map((b) => (b.high == null ? `≥${count(b.low)}` : count(b.low))),
    histogram.map((b) => b.count), "sessions", "startup ms (bar start)");
  // Hours without sessions are not in the list, and the line joins their neighbours; an hour
  // whose sessions never played has no ratio (null), and is joined over alike (spanGaps), not
  // left as a break that leaves lone points.
  const points = report.qoe.rebuffer_over_time;
  chart("rebuffer-chart", [points.map((p) => p.start / 1000),
    points.map((p) => (p.rebuffer_ratio == null ? null : p.rebuffer_ratio * 100))], {
    legend: { show: false },
    scales: { y: { range: (u, low, high) => [0, high > 0 ? high * 1.1 : 1] } },
    series: [{}, { label: "rebuffer %", stroke: BLUE, width: 2, spanGaps: true,
      points: { show: true } }],
  });
  const ranks = report.browse.by_rank;
  bars("rank-chart", ranks.map((l) => String(l.index)),
    ranks.map((l) => (l.take_rate == null ? null : l.take_rate * 100)), "take rate %", "rank");
}

function render(report) {
  $("#board").hidden = false;
  renderTiles($("#qoe-tiles"), QOE_TILES, report);
  renderTiles($("#browse-tiles"), BROWSE_TILES, report);
  renderRows($("#failures"), counted(report.qoe.failure_categories));
  renderRows($("#end-reasons"), counted(report.qoe.end_reasons));
  renderRows($("#by-row"), report.browse.by_row.map(line));
  renderRows($("#by-rank"), report.browse.by_rank.map(line));
  renderExperiments(report.experiments);
  renderRows($("#quality"), Object.entries(report.quality).map(
    ([name, value]) => [name.replaceAll("_", " "), qualityValue(value)]));
  renderCharts(report);
  const since = report.filters.since;
  const range = $("#window-range");
  range.dataset.since = since == null ? "" : String(since);
  range.textContent = since == null ? "All stored events" : `Since ${new Date(since).toISOString()}`;
}

function showStatus() {
  const status = $("#status");
  if (state.shownWindow == null) {
    status.textContent = state.error || "Loading figures…";
    return;
  }
  const age = performance.now() - state.computedAt;
  status.dataset.ageMs = String(Math.round(age));
  status.dataset.window = state.shownWindow;
  status.classList.toggle("stale", age > 2 * state.refreshMs);
  let text = `Figures ${Math.round(age / 1000)} s old (computed in ${state.computeMs} ms; ` +
    `refreshed every ${state.refreshMs / 1000} s)`;
  if (state.error) text += ` · last refresh failed: ${state.error}`;
  status.textContent = text;
}

function askForKey(message) {
  const form = $("#key-form");
  $("#key-message").textContent = message;
  form.hidden = false;
}

async function fetchFigures(name) {
  const headers = {};
  const key = sessionStorage.getItem(KEY_ITEM);
  if (key) headers.Authorization = `Basic ${btoa(`${key}:`)}`;
  return fetch(`/dashboard/figures?window=${encodeURIComponent(name)}`,
    { headers, cache: "no-store" });
}

async function refresh() {
  if (state.inFlight) return;
  clearTimeout(state.timer);
  state.inFlight = true;
  const generation = state.generation;
  const name = state.window;
  try {
    const response = await fetchFigures(name);
    const body = await response.json();
    if (generation !== state.generation) return;
    if (response.ok) {
      const age = Number(response.headers.get("X-Reelscope-Figures-Age-Ms") || 0);
      state.refreshMs = Number(response.headers.get("X-Reelscope-Refresh-Ms") || 5000);
      state.computeMs = Number(response.headers.get("X-Reelscope-Compute-Ms") || 0);
      state.computedAt = performance.now() - age;
      state.shownWindow = name;
      state.error = "";
      $("#key-form").hidden = true;
      render(body);
    } else if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY_ITEM);
      state.error = body.message;
      askForKey(body.message);
    } else {
      state.error = body.message || `HTTP ${response.status}`;
    }
  } catch (error) {
    state.error = String(error);
  } finally {
    state.inFlight = false;
    showStatus();
    if (generation !== state.generation) {
      refresh();
    } else {
      state.timer = setTimeout(refresh, state.refreshMs);
    }
  }
}

function choose(name) {
  state.window = name;
  state.generation += 1;
  for (const button of document.querySelectorAll("#windows button")) {
    button.setAttribute("aria-pressed", String(button.dataset.window === name));
  }
  const url = new URL(location.href);
  url.searchParams.set("window", name);
  history.replaceState(null, "", url);
  refresh();
}

function start() {
  for (const button of document.querySelectorAll("#windows button")) {
    button.addEventListener("click", () => choose(button.dataset.window));
  }
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_ITEM, $("#key").value.trim());
    $("#key").value = "";
    $("#key-form").hidden = true;
    refresh();
  });
  window.addEventListener("resize", () => {
    for (const [id, drawn] of Object.entries(charts)) {
      drawn.plot.setSize({ width: Math.max(320, $(`#${id}`).clientWidth - 8), height: 220 });
    }
  });
  setInterval(showStatus, 1000);
  choose(state.window);
}

start();
