// The dashboard: reads the forecast API (same origin) and draws inline SVG. No library, no CDN.
"use strict";
const $ = (id) => document.getElementById(id);
const HOUR = 3600e3, DAY = 24 * HOUR;
const state = { product: null, series: [], chosen: null, sortKey: "mape", sortDesc: true, glance: [] };

function token() { return sessionStorage.getItem("energy_api_token") || ""; }

async function api(path) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, { headers });
  if (response.status === 401) {
    $("token-box").hidden = false;
    throw new Error("this service needs a token: type it above");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function iso(ms) { return new Date(ms).toISOString().slice(0, 16) + "Z"; }
function q(params) {
  return Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
}
function seriesQuery() { return { area: state.chosen.area, segment: state.chosen.segment }; }
function fmt(v, digits = 1) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en", { maximumFractionDigits: digits }); }
function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %"; }
function showError(message) { $("error").textContent = message || ""; }

// ------------------------------------------------------------------ SVG chart
const NS = "http://www.w3.org/2000/svg";
function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// lines: [{points: [[ms, value]], color, width}]; band: [[ms, lo, hi]]; yFormat: value -> text
function chart(svg, { lines = [], band = [], yFormat = (v) => fmt(v, 0), marker = null, yMin = null }) {
  svg.innerHTML = "";
  const w = svg.clientWidth || 600, h = svg.clientHeight || 260, m = { l: 62, r: 12, t: 10, b: 28 };
  const xs = [], ys = [];
  for (const line of lines) for (const [t, v] of line.points) if (v !== null) { xs.push(t); ys.push(v); }
  for (const [t, lo, hi] of band) if (lo !== null && hi !== null) { xs.push(t); ys.push(lo, hi); }
  if (!xs.length) {
    el("text", { x: w / 2, y: h / 2, "text-anchor": "middle", fill: "#889" }, svg).textContent = "nothing stored for this view";
    return;
  }
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
  let y0 = yMin !== null ? yMin : Math.min(...ys), y1 = Math.max(...ys);
  if (y1 === y0) { y1 += 1; y0 -= 1; }
  const pad = (y1 - y0) * 0.06; y1 += pad; if (yMin === null) y0 -= pad;
  const X = (t) => m.l + (x1 === x0 ? 0.5 : (t - x0) / (x1 - x0)) * (w - m.l - m.r);
  const Y = (v) => h - m.b - ((v - y0) / (y1 - y0)) * (h - m.t - m.b);
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (i / 4) * (y1 - y0), y = Y(v);
    el("line", { x1: m.l, x2: w - m.r, y1: y, y2: y, stroke: "#eceff3" }, svg);
    el("text", { x: m.l - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#667" }, svg).textContent = yFormat(v);
  }
  const span = x1 - x0, step = span > 20 * DAY ? 7 * DAY : span > 3 * DAY ? DAY : span > DAY ? 6 * HOUR : 3 * HOUR;
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) {
    el("line", { x1: X(t), x2: X(t), y1: m.t, y2: h - m.b, stroke: "#f3f4f6" }, svg);
    const label = step >= DAY ? new Date(t).toISOString().slice(5, 10) : new Date(t).toISOString().slice(11, 16);
    el("text", { x: X(t), y: h - 8, "text-anchor": "middle", "font-size": 11, fill: "#667" }, svg).textContent = label;
  }
  const shown = band.filter(([, lo, hi]) => lo !== null && hi !== null);
  if (shown.length) {
    const top = shown.map(([t, , hi]) => X(t) + "," + Y(hi));
    const bottom = shown.slice().reverse().map(([t, lo]) => X(t) + "," + Y(lo));
    el("polygon", { points: top.concat(bottom).join(" "), fill: "#9ec5ff", "fill-opacity": 0.55, class: "band" }, svg);
  }
  if (marker !== null) el("line", { x1: X(marker), x2: X(marker), y1: m.t, y2: h - m.b, stroke: "#999", "stroke-dasharray": "4 3" }, svg);
  for (const line of lines) {
    let d = "", pen = false;
    for (const [t, v] of line.points) {
      if (v === null) { pen = false; continue; }
      d += (pen ? "L" : "M") + X(t).toFixed(1) + "," + Y(v).toFixed(1); pen = true;
    }
    el("path", { d, fill: "none", stroke: line.color, "stroke-width": line.width || 1.8, class: line.name || "" }, svg);
  }
}

const at = (row, key) => Date.parse(row[key]);

// ------------------------------------------------------------------ views
async function loadProducts() {
  const body = await api("/v1/products");
  const select = $("product");
  select.innerHTML = "";
  for (const p of body.rows.filter((r) => r.stored)) {
    const option = new Option(p.product + " — " + p.description, p.product, p.default, p.default);
    select.add(option);
  }
  state.product = select.value;
}

async function loadSeries() {
  const body = await api("/v1/series");
  state.series = body.rows.filter((r) => r.forecast_now || r.last_hour);
  const select = $("series");
  select.innerHTML = "";
  for (const s of state.series) select.add(new Option(s.area + " / " + s.segment, s.area + "|" + s.segment));
  if (!state.chosen && state.series.length) state.chosen = state.series[0];
  if (state.chosen) select.value = state.chosen.area + "|" + state.chosen.segment;
}

async function drawLatest() {
  const latest = await api("/v1/forecasts/latest?" + q({ product: state.product, ...seriesQuery() }));
  const rows = latest.rows;
  if (!rows.length) return;
  const first = Math.min(...rows.map((r) => at(r, "datetime_utc")));
  const last = Math.max(...rows.map((r) => at(r, "datetime_utc")));
  const origin = at(rows[0], "data_origin");
  const actuals = await api("/v1/actuals?" + q({ from: iso(origin - 6 * DAY), to: iso(last + HOUR), ...seriesQuery() }));
  chart($("latest-chart"), {
    lines: [
      { name: "actual", color: "#222", points: actuals.rows.map((r) => [at(r, "datetime_utc"), r.energy_consumption]) },
      { name: "forecast", color: "#1f6feb", points: rows.map((r) => [at(r, "datetime_utc"), r.p50 ?? r.prediction]) },
    ],
    band: rows.map((r) => [at(r, "datetime_utc"), r.p10, r.p90]),
    marker: first - HOUR / 2,
  });
  $("latest-note").textContent = `issued ${rows[0].issued_at} · data up to ${rows[0].data_origin} · model v${rows[0].model_version}`
    + ` · ${rows.length} hours ahead · weather ${rows[0].weather_used === null ? "n/a" : rows[0].weather_used ? "used" : "not used"}`;
  if (!$("issued-day").value) {
    $("issued-day").value = new Date(at(rows[0], "issued_at") - DAY).toISOString().slice(0, 10);
  }
}

async function loadIssuesOfDay() {
  const day = $("issued-day").value;
  if (!day) return;
  const start = Date.parse(day + "T00:00:00Z");
  const body = await api("/v1/forecasts?" + q({ product: state.product, from: iso(start), to: iso(start + DAY), ...seriesQuery() }));
  if ($("issued-day").value !== day) return;  // another day was picked meanwhile
  const issues = [...new Set(body.rows.map((r) => r.issued_at))].sort();
  const select = $("issued-at");
  const keep = select.value;
  select.innerHTML = "";
  for (const t of issues) select.add(new Option(t.slice(11, 16) + " UTC", t));
  if (issues.includes(keep)) select.value = keep;
  state.dayRows = body.rows;
  await drawIssued();
}

async function drawIssued() {
  const chosen = $("issued-at").value;
  const rows = (state.dayRows || []).filter((r) => r.issued_at === chosen);
  if (!rows.length) {
    chart($("issued-chart"), {});
    $("issued-note").textContent = "no forecast of this series was issued on that day";
    return;
  }
  const first = Math.min(...rows.map((r) => at(r, "datetime_utc")));
  const last = Math.max(...rows.map((r) => at(r, "datetime_utc")));
  const actuals = await api("/v1/actuals?" + q({ from: iso(first - DAY), to: iso(last + HOUR), ...seriesQuery() }));
  if ($("issued-at").value !== chosen) return;  // another issue was picked meanwhile
  chart($("issued-chart"), {
    lines: [
      { name: "actual", color: "#222", points: actuals.rows.map((r) => [at(r, "datetime_utc"), r.energy_consumption]) },
      { name: "forecast", color: "#1f6feb", points: rows.map((r) => [at(r, "datetime_utc"), r.p50 ?? r.prediction]) },
    ],
    band: rows.map((r) => [at(r, "datetime_utc"), r.p10, r.p90]),
    marker: first - HOUR / 2,
  });
  const byHour = new Map(actuals.rows.map((r) => [r.datetime_utc, r.energy_consumption]));
  const scored = rows.filter((r) => byHour.get(r.datetime_utc) != null);
  const ape = scored.map((r) => Math.abs(byHour.get(r.datetime_utc) - r.prediction) / Math.abs(byHour.get(r.datetime_utc)));
  const mape = ape.length ? ape.reduce((a, b) => a + b, 0) / ape.length : null;
  $("issued-note").textContent = `issued ${chosen} (as stored then) · ${scored.length} of ${rows.length} hours have actuals · MAPE ${pct(mape)}`;
}

async function drawAccuracy(days = 60) {
  const latest = await api("/v1/forecasts/latest?" + q({ product: "forecasts", ...seriesQuery() })).catch(() => null);
  const end = latest && latest.rows.length ? at(latest.rows[0], "issued_at") + DAY : Date.now();
  const body = await api("/v1/accuracy?" + q({ product: "forecasts", from: iso(end - days * DAY), to: iso(end), ...seriesQuery() }));
  const rows = body.rows.filter((r) => r.n_points > 0);
  chart($("accuracy-chart"), {
    lines: [
      { name: "mape", color: "#d1495b", points: rows.map((r) => [Date.parse(r.date + "T00:00:00Z"), r.mape]) },
      { name: "coverage", color: "#2a9d8f", points: rows.map((r) => [Date.parse(r.date + "T00:00:00Z"), r.coverage]) },
    ],
    yFormat: (v) => (100 * v).toFixed(0) + " %",
    yMin: 0,
  });
  $("accuracy-note").textContent = rows.length ? `${rows.length} scored days of the forecasts product` : "no scored day yet (actuals are published about 9 days late)";
}

async function loadGlance() {
  const latest = await api("/v1/forecasts/latest?" + q({ product: state.product }));
  const size = new Map();
  for (const r of latest.rows) {
    const key = r.area + "|" + r.segment;
    size.set(key, (size.get(key) || 0) + r.prediction);
  }
  const end = latest.rows.length ? Date.parse(latest.rows[0].issued_at) + DAY : Date.now();
  const accuracy = await api("/v1/accuracy?" + q({ product: "forecasts", from: iso(end - 14 * DAY), to: iso(end) }))
    .catch(() => ({ rows: [] }));
  const newest = new Map();
  for (const r of accuracy.rows.filter((r) => r.level === "series" && r.n_points > 0)) newest.set(r.area + "|" + r.segment, r);
  state.glance = [...size.entries()].map(([key, total]) => {
    const [area, segment] = key.split("|");
    const a = newest.get(key) || {};
    return { area, segment, size: total, mape: a.mape ?? null, wape: a.wape ?? null, coverage: a.coverage ?? null, date: a.date ?? null };
  });
  drawGlance();
}

function drawGlance() {
  const columns = [["area", "area"], ["segment", "segment"], ["size", "forecast kWh (all hours)"], ["mape", "MAPE"], ["wape", "WAPE"], ["coverage", "coverage"], ["date", "scored day"]];
  const { sortKey, sortDesc } = state;
  const rows = state.glance.slice().sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    if (x === y) return 0; if (x === null) return 1; if (y === null) return -1;
    return (x < y ? -1 : 1) * (sortDesc ? -1 : 1);
  });
  const head = $("glance").tHead, body = $("glance").tBodies[0];
  head.innerHTML = "<tr>" + columns.map(([k, label]) => `<th data-key="${k}">${label}${k === sortKey ? (sortDesc ? " ▼" : " ▲") : ""}</th>`).join("") + "</tr>";
  body.innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    if (state.chosen && r.area === state.chosen.area && r.segment === state.chosen.segment) tr.className = "chosen";
    for (const [k] of columns) {
      const td = document.createElement("td");
      td.textContent = k === "size" ? fmt(r.size, 0) : ["mape", "wape", "coverage"].includes(k) ? pct(r[k]) : r[k] ?? "–";
      tr.appendChild(td);
    }
    tr.addEventListener("click", () => pick(r.area, r.segment));
    body.appendChild(tr);
  }
  for (const th of head.querySelectorAll("th")) th.addEventListener("click", () => {
    state.sortDesc = state.sortKey === th.dataset.key ? !state.sortDesc : true;
    state.sortKey = th.dataset.key;
    drawGlance();
  });
}

async function guarded(work) {
  try { showError(""); $("status").textContent = "loading…"; await work(); $("status").textContent = ""; document.body.dataset.ready = "1"; }
  catch (error) { showError(error.message); $("status").textContent = ""; }
}

async function pick(area, segment) {
  state.chosen = state.series.find((s) => s.area === area && s.segment === segment) || { area, segment };
  $("series").value = area + "|" + segment;
  document.body.dataset.ready = "";
  await guarded(async () => { await Promise.all([drawLatest(), drawAccuracy()]); await loadIssuesOfDay(); drawGlance(); });
}

async function start() {
  await guarded(async () => {
    await loadProducts();
    await loadSeries();
    await Promise.all([drawLatest(), drawAccuracy(), loadGlance()]);
    await loadIssuesOfDay();
  });
}

$("series").addEventListener("change", () => { const [a, s] = $("series").value.split("|"); pick(a, s); });
$("product").addEventListener("change", () => { state.product = $("product").value; start(); });
$("issued-day").addEventListener("change", () => guarded(loadIssuesOfDay));
$("issued-at").addEventListener("change", () => guarded(drawIssued));
$("token-save").addEventListener("click", () => { sessionStorage.setItem("energy_api_token", $("token").value); $("token-box").hidden = true; start(); });
start();
