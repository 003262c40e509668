// multipublish dashboard: polls the JSON API with the session cookie; sends the CSRF header on POST.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 401) { window.location = "/login"; throw new Error("logged out"); }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.message || ("HTTP " + resp.status));
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

function when(iso) {
  if (!iso) return "now";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
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
  const cell = el("td", { class: "actions" });
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
  const params = new URLSearchParams({ limit: "100" });
  for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
  try {
    const data = await api("GET", "/api/publishing/jobs?" + params);
    const body = document.querySelector("#jobs tbody");
    body.replaceChildren();
    if (!data.jobs.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No jobs.")));
    for (const job of data.jobs) {
      body.append(el("tr", { id: "job-" + job.id, "data-status": job.status },
        el("td", {}, el("code", {}, job.id), el("div", { class: "muted" }, job.title || "")),
        el("td", {}, job.account_id),
        el("td", {}, el("span", { class: "badge status-" + job.status }, job.status),
          job.wait_reason ? el("div", { class: "muted" }, job.wait_reason) : null,
          job.error_message ? el("div", { class: "error" }, job.error_message) : null),
        el("td", {}, when(job.scheduled_time)),
        el("td", {}, String(job.priority ?? "")),
        el("td", {}, platformCell(job)),
        actions(job)));
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
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
  const root = svg("svg", { width: w, height: Math.max(row, names.length * row) + 10, role: "img" });
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
  const page = document.body.dataset.page;
  if (page === "jobs") {
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
