// multipublish dashboard: polls the JSON API with the session cookie; sends the CSRF header on POST.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ "Accept": "application/json" }, extraHeaders || {});
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 401) { window.location = "/login"; throw new Error("logged out"); }
  const data = resp.status === 204 ? {} : await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(data.message || ("HTTP " + resp.status));
    err.status = resp.status; err.field = data.field; err.reason = data.reason; err.body = data;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function showMessage(text) {
  const m = document.getElementById("message");
  if (!m) return;
  m.textContent = text || "";
  m.hidden = !text;
}

// -- the user's time zone and human dates ------------------------------------------------------
const BROWSER_TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
function userTz() {
  try { return localStorage.getItem("mp-tz") || BROWSER_TZ; } catch (e) { return BROWSER_TZ; }
}
function setUserTz(tz) { try { localStorage.setItem("mp-tz", tz); } catch (e) { /* private mode */ } }

/** "Tue 1 Dec, 14:05" in the user's zone (with the year when it is not this year). */
function human(iso, opts) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const sameYear = d.getFullYear() === new Date().getFullYear();
  const key = [userTz(), sameYear, JSON.stringify(opts || {})].join("|");
  let fmt = FORMATS.get(key);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat(undefined, Object.assign({
      timeZone: userTz(), weekday: "short", day: "numeric", month: "short",
      year: sameYear ? undefined : "numeric", hour: "2-digit", minute: "2-digit",
    }, opts || {}));
    FORMATS.set(key, fmt);
  }
  return fmt.format(d);
}
// Intl formatters are costly to build: one per zone (and options), reused.
const FORMATS = new Map();
function when(iso) { return iso ? human(iso) : "now"; }

/** The offset (ms) of zone ``tz`` from UTC at instant ``ms``. */
function tzOffset(ms, tz) {
  const parts = {};
  let fmt = FORMATS.get("parts|" + tz);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    FORMATS.set("parts|" + tz, fmt);
  }
  for (const p of fmt.formatToParts(new Date(ms))) parts[p.type] = p.value;
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}
/** A wall-clock "YYYY-MM-DDTHH:MM" in ``tz`` as a UTC Date (DST-safe to the minute). */
function wallToUtc(wall, tz) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(wall || "");
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let utc = guess - tzOffset(guess, tz);
  utc = guess - tzOffset(utc, tz);
  return new Date(utc);
}
/** A UTC instant as wall-clock "YYYY-MM-DDTHH:MM:SS" in ``tz`` (what FullCalendar is fed). */
function utcToWall(iso, tz) {
  const ms = new Date(iso).getTime();
  return new Date(ms + tzOffset(ms, tz)).toISOString().slice(0, 19);
}

function setupPrefs() {
  const select = document.getElementById("user-tz");
  if (select) {
    let zones = [];
    try { zones = Intl.supportedValuesOf("timeZone"); } catch (e) { zones = [BROWSER_TZ, "UTC"]; }
    if (!zones.includes("UTC")) zones.unshift("UTC");
    const current = userTz();
    if (!zones.includes(current)) zones.unshift(current);
    select.replaceChildren(...zones.map((z) => el("option", { value: z }, z)));
    select.value = current;
    select.addEventListener("change", () => {
      setUserTz(select.value);
      document.dispatchEvent(new CustomEvent("mp:tz", { detail: select.value }));
    });
  }
  const toggle = document.getElementById("theme-toggle");
  if (toggle) {
    const dark = () => {
      const t = document.documentElement.dataset.theme;
      return t ? t === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    };
    const show = () => {
      toggle.setAttribute("aria-pressed", String(dark()));
      toggle.textContent = dark() ? "Light mode" : "Dark mode";
    };
    toggle.addEventListener("click", () => {
      const next = dark() ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem("mp-theme", next); } catch (e) { /* ignore */ }
      show();
    });
    show();
  }
}

/** Show ``text`` under the field ``name`` of a form (the API's ``field`` tells which). */
function fieldError(form, name, text) {
  const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
  const id = "err-" + name.replace(/[^A-Za-z0-9_-]/g, "-");
  let box = document.getElementById(id);
  if (!text) { if (box) box.remove(); if (input) input.removeAttribute("aria-invalid"); return; }
  if (!box) {
    box = el("p", { id, class: "field-error", role: "alert" });
    if (input) (input.closest("label") || input).after(box); else form.prepend(box);
  }
  box.textContent = text;
  if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", id); }
}

// -- jobs ------------------------------------------------------------------------------------
const FINISHED = ["completed", "failed", "cancelled"];

function platformCell(job) {
  const list = el("ul", { class: "results" });
  for (const name of job.platforms || []) {
    const r = (job.results || {})[name] || {};
    const status = r.status || "pending";
    const item = el("li", { class: "result status-" + status, "data-platform": name },
      el("b", {}, name + ": "), status);
    if (r.url) item.append(" ", el("a", { href: r.url, rel: "noopener noreferrer", target: "_blank" }, "view"));
    if (r.error) item.append(el("span", { class: "error" }, " " + r.error));
    list.append(item);
  }
  return list;
}

function actions(job) {
  const cell = el("td", { class: "actions", "data-label": "Actions" });
  const act = (what) => async () => {
    try { await api("POST", `/api/publishing/jobs/${encodeURIComponent(job.id)}/${what}`); showMessage(""); }
    catch (e) { showMessage(`${what} ${job.id}: ${e.message}`); }
    refreshJobs();
  };
  if (!FINISHED.includes(job.status))
    cell.append(el("button", { class: "cancel", "data-job": job.id, onclick: act("cancel") }, "Cancel"));
  if (job.status === "failed" || job.status === "cancelled")
    cell.append(el("button", { class: "retry", "data-job": job.id, onclick: act("retry") }, "Retry"));
  return cell;
}

async function refreshJobs() {
  const form = document.getElementById("filters");
  const params = new URLSearchParams({ limit: "50" });
  for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
  try {
    const data = await api("GET", "/api/publishing/jobs?" + params);
    const body = document.querySelector("#jobs tbody");
    body.replaceChildren();
    if (!data.jobs.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No jobs.")));
    for (const job of data.jobs) {
      const row = el("tr", { id: "job-" + job.id, "data-status": job.status },
        el("td", { "data-label": "Job" }, el("a", { href: "/jobs/" + encodeURIComponent(job.id) }, el("code", {}, job.id)),
          el("div", { class: "muted" }, job.title || "")),
        el("td", { "data-label": "Account" }, job.account_id),
        el("td", { "data-label": "Status" }, el("span", { class: "badge status-" + job.status }, job.status),
          job.wait_reason ? el("div", { class: "muted" }, job.wait_reason) : null,
          job.error_message ? el("div", { class: "error" }, job.error_message) : null),
        el("td", { "data-label": "Scheduled" }, el("time", { datetime: job.scheduled_time || "" }, when(job.scheduled_time))),
        el("td", { "data-label": "Priority" }, String(job.priority ?? "")),
        el("td", { "data-label": "Per platform" }, platformCell(job)),
        actions(job));
      body.append(row);
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.getElementById("jobs").dataset.loaded = "true";
  } catch (e) { showMessage(e.message); }
}

// -- stats -----------------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(platforms) {
  const names = Object.keys(platforms);
  const w = 520, row = 34, left = 100, width = 360;
  const root = svg("svg", { width: w, height: Math.max(row, names.length * row) + 10, role: "img",
    "aria-label": "Success rate by platform: " + (names.map((n) => `${n} ${platforms[n].rate === null ? "no data" : platforms[n].rate.toFixed(1) + "%"}`).join(", ") || "no finished publishes yet") });
  if (!names.length) root.append(svg("text", { x: 0, y: 20 }, "No finished publishes yet."));
  names.forEach((name, i) => {
    const p = platforms[name], y = i * row + 5, rate = p.rate ?? 0;
    root.append(svg("text", { x: 0, y: y + 18 }, name));
    root.append(svg("rect", { x: left, y, width, height: 22, class: "track" }));
    root.append(svg("rect", { x: left, y, width: (width * rate) / 100, height: 22, class: "bar", "data-platform": name }));
    root.append(svg("text", { x: left + width + 8, y: y + 18 }, p.rate === null ? "–" : `${rate.toFixed(1)}% (${p.success}/${p.total})`));
  });
  return root;
}

async function refreshStats() {
  try {
    const [stats, rates] = await Promise.all([
      api("GET", "/api/publishing/queue/stats"), api("GET", "/api/publishing/stats/success-rate")]);
    const counts = document.getElementById("counts");
    counts.replaceChildren();
    for (const [k, v] of Object.entries(stats)) {
      if (typeof v !== "number") continue;
      counts.append(el("div", { class: "count", "data-key": k }, el("b", {}, String(v)), el("span", {}, k.replace("_", " "))));
    }
    document.getElementById("chart").replaceChildren(chart(rates.platforms));
  } catch (e) { showMessage(e.message); }
}

// -- validate --------------------------------------------------------------------------------
async function validate(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = { video_path: data.get("video_path"), platforms: data.getAll("platforms") };
  if (data.get("title")) body.title = data.get("title");
  const table = document.getElementById("validation");
  try {
    const report = await api("POST", "/api/publishing/validate", body);
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren();
    for (const [name, r] of Object.entries(report)) {
      tbody.append(el("tr", { "data-platform": name },
        el("td", {}, name), el("td", { class: r.valid ? "ok" : "error" }, r.valid ? "valid" : "invalid"),
        el("td", {}, (r.errors || []).join("; ")), el("td", {}, (r.warnings || []).join("; "))));
    }
    table.hidden = false;
    showMessage("");
  } catch (e) { table.hidden = true; showMessage(e.message); }
}

document.addEventListener("DOMContentLoaded", () => {
  setupPrefs();
  const humanize = () => document.querySelectorAll("time.human").forEach((t) => { t.textContent = human(t.getAttribute("datetime")); });
  humanize();
  document.addEventListener("mp:tz", humanize);
  const page = document.body.dataset.page;
  if (page === "jobs") {
    document.addEventListener("mp:tz", refreshJobs);
    refreshJobs();
    setInterval(refreshJobs, 1000);
    document.getElementById("filters").addEventListener("change", refreshJobs);
    document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); refreshJobs(); });
  } else if (page === "stats") {
    refreshStats();
    setInterval(refreshStats, 5000);
  } else if (page === "validate") {
    document.getElementById("validate-form").addEventListener("submit", validate);
  }
});
