// Insights: per account and platform, views at 1 h / 24 h / 7 d per post, best and worst posts,
// engagement, the weekly trend, and the best-times heatmap with its 90 % band (uPlot charts; every
// chart has a table of the same figures next to it, for screen readers and for reading exact values).
"use strict";

const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const charts = [];

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888"; }
function num(v) { return v === null || v === undefined ? "—" : Math.round(v).toLocaleString(); }
function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + " %"; }
function hourLabel(h, tz) { return `${DAY_NAMES[Math.floor(h / 24)]} ${String(h % 24).padStart(2, "0")}:00 ${tz}`; }

function axes(xLabel, yLabel, xValues) {
  const stroke = cssVar("--fg"), grid = { stroke: cssVar("--line"), width: 1 };
  const x = { stroke, grid, label: xLabel };
  if (xValues) x.values = xValues;
  return [x, { stroke, grid, label: yLabel, size: 60 }];
}

function chartWidth(box) { return Math.max(260, Math.min(box.clientWidth || 320, 900)); }

/** A uPlot chart in ``box``, redrawn to the box's width; kept so the theme and resizes redraw it. */
function plot(box, opts, data) {
  const u = new uPlot(Object.assign({ width: chartWidth(box), height: 220, legend: { live: false } }, opts), data, box);
  u.root.setAttribute("aria-hidden", "true"); // the table next to it carries the figures
  charts.push({ u, box });
  return u;
}

function postLink(p) {
  if (!p) return el("span", { class: "muted" }, "—");
  const name = p.title || p.video_id;
  return p.url ? el("a", { href: p.url, rel: "noopener" }, name) : el("span", {}, name);
}

function summary(g) {
  const dl = el("div", { class: "counts" });
  for (const [label, value] of [["Posts", num(g.posts)], ["Views at 1 h", num(g.avg_views_1h)],
    ["Views at 24 h", num(g.avg_views_24h)], ["Views at 7 d", num(g.avg_views_7d)],
    ["Engagement rate", pct(g.engagement_rate)], ["Total views", num(g.total_views)]]) {
    dl.append(el("div", { class: "count" }, el("b", {}, value), label));
  }
  return dl;
}

function postsTable(posts) {
  const rows = posts.map((p) => el("tr", {},
    el("td", { "data-label": "Post" }, postLink(p)),
    el("td", { "data-label": "Published" }, human(p.published_at)),
    el("td", { "data-label": "1 h" }, num(p.views_1h)), el("td", { "data-label": "24 h" }, num(p.views_24h)),
    el("td", { "data-label": "7 d" }, num(p.views_7d)), el("td", { "data-label": "Engagement" }, pct(p.engagement_rate)),
    el("td", { "data-label": "State" }, p.state)));
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Views per post" },
    el("table", { class: "posts-table stack" },
      el("caption", {}, "Views per post at 1 h, 24 h and 7 d"),
      el("thead", {}, el("tr", {}, ...["Post", "Published", "1 h", "24 h", "7 d", "Engagement", "State"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows)));
}

function postsChart(box, posts) {
  const sorted = posts.filter((p) => p.published_at).sort((a, b) => a.published_at.localeCompare(b.published_at));
  if (!sorted.length) { box.append(el("p", { class: "muted" }, "No post sampled yet.")); return; }
  const xs = sorted.map((p) => Date.parse(p.published_at) / 1000);
  const val = (k) => sorted.map((p) => (p[k] === null || p[k] === undefined ? null : p[k]));
  const point = (stroke) => ({ stroke, width: 0, points: { show: true, size: 8, fill: stroke, stroke } });
  plot(box, {
    title: "Views per post, by publish time",
    axes: axes("published", "views"),
    series: [{}, Object.assign({ label: "1 h" }, point(cssVar("--wait"))),
      Object.assign({ label: "24 h" }, point(cssVar("--accent"))), Object.assign({ label: "7 d" }, point(cssVar("--ok")))],
  }, [xs, val("views_1h"), val("views_24h"), val("views_7d")]);
}

function trendChart(box, weekly, trend) {
  const pts = weekly.filter((w) => w.views_24h !== null);
  const words = trend === null || trend === undefined ? "" : ` (trend ${trend > 0 ? "+" : ""}${(100 * trend).toFixed(0)} %)`;
  box.append(el("h4", {}, "Mean views at 24 h per week" + words));
  if (!pts.length) { box.append(el("p", { class: "muted" }, "No week with 24 h views yet.")); return; }
  const chart = el("div", { class: "uplot-box" });
  box.append(chart);
  plot(chart, {
    axes: axes("week (Mondays, UTC)", "views at 24 h"),
    series: [{}, { label: "views at 24 h", stroke: cssVar("--accent"), width: 2, points: { show: true, size: 7 } }],
  }, [pts.map((w) => Date.parse(w.week_start + "T00:00:00Z") / 1000), pts.map((w) => w.views_24h)]);
  box.append(el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Weekly trend" },
    el("table", { class: "compact" }, el("caption", {}, "Mean views at 24 h per week"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Week of"), el("th", { scope: "col" }, "Posts"),
        el("th", { scope: "col" }, "Views at 24 h"))),
      el("tbody", {}, ...weekly.map((w) => el("tr", {}, el("td", {}, w.week_start), el("td", {}, String(w.posts)),
        el("td", {}, num(w.views_24h))))))));
}

function heatmap(model) {
  const values = model.hours.map((h) => h.expected_views);
  const min = Math.min(...values), span = Math.max(1e-9, Math.max(...values) - min);
  const best = new Set(model.best.map((b) => b.hour_of_week));
  const head = el("tr", {}, el("th", { scope: "col" }, model.timezone),
    ...Array.from({ length: 24 }, (_, h) => el("th", { scope: "col" }, String(h).padStart(2, "0"))));
  const rows = DAY_NAMES.map((d, day) => el("tr", {}, el("th", { scope: "row" }, d),
    ...Array.from({ length: 24 }, (_, hour) => {
      const c = model.hours[day * 24 + hour];
      const level = Math.min(5, Math.floor((5 * (c.expected_views - min)) / span + 0.5)); // lowest to highest hour
      const words = `${hourLabel(c.hour_of_week, model.timezone)}: ${num(c.expected_views)} expected views (90 % band ${num(c.low)} to ${num(c.high)})`;
      return el("td", { class: `heat heat-${level}${best.has(c.hour_of_week) ? " heat-best" : ""}`, title: words,
        "data-hour": String(c.hour_of_week) }, el("span", { class: "visually-hidden" }, words));
    })));
  return el("div", { class: "table-wrap heat-wrap", tabindex: "0", role: "region", "aria-label": "Best-times heatmap" },
    el("table", { class: "heatmap" }, el("caption", {}, "Expected views at 24 h by hour of week (stronger colour is more; outlined: the best hours)"),
      el("thead", {}, head), el("tbody", {}, ...rows)));
}

function bandChart(box, model) {
  const xs = model.hours.map((h) => h.hour_of_week);
  plot(box, {
    title: "Expected views by hour of week, with the 90 % band",
    axes: axes(`hour of week (${model.timezone})`, "views at 24 h", (u, ticks) => ticks.map((t) => (t % 24 === 0 ? DAY_NAMES[t / 24] || "" : ""))),
    scales: { x: { time: false } },
    series: [{}, { label: "low", stroke: cssVar("--muted"), dash: [4, 4], width: 1 },
      { label: "expected", stroke: cssVar("--accent"), width: 2 },
      { label: "high", stroke: cssVar("--muted"), dash: [4, 4], width: 1 }],
    bands: [{ series: [3, 1], fill: "rgba(127,127,127,0.18)" }],
  }, [xs, model.hours.map((h) => h.low), model.hours.map((h) => h.expected_views), model.hours.map((h) => h.high)]);
}

async function bestTimes(box, g) {
  box.append(el("h4", {}, "Best times"));
  let model;
  try {
    // hours of week on the wall clock of the zone chosen in the header (the calendar's)
    const q = new URLSearchParams({ account_id: g.account_id, platform: g.platform, timezone: userTz() });
    model = await api("GET", "/api/publishing/best-times?" + q.toString());
  } catch (e) { box.append(el("p", { class: "error" }, e.reason || e.message)); return; }
  const conf = { none: "no posts yet: a flat prior", low: `only ${model.posts} posts: shrunk toward a flat prior, wide band`, ok: `${model.posts} posts` }[model.confidence];
  box.append(el("p", { class: "hint" }, `Learned from this account's own posts (${conf}).`));
  box.append(el("p", { class: "hint best-tz" }, `Hours in ${model.timezone} (the time zone chosen at the top of the page).`));
  if (model.best.length) {
    box.append(el("ol", { class: "best-hours" }, ...model.best.map((b) => el("li", {},
      `${b.label}: ${num(b.expected_views)} views (90 % band ${num(b.low)}–${num(b.high)})`))));
  }
  if (model.next_free_slot) {
    const q = new URLSearchParams({ account: g.account_id, platform: g.platform, at: model.next_free_slot });
    box.append(el("p", {}, el("a", { class: "button primary add-best", href: "/compose?" + q.toString() },
      `Add to queue at the best free slot: ${human(model.next_free_slot)}`)));
  } else {
    box.append(el("p", { class: "muted" }, "No free best slot in the next 7 days."));
  }
  box.append(heatmap(model));
  const chart = el("div", { class: "uplot-box band-chart" });
  box.append(chart);
  bandChart(chart, model);
}

async function load() {
  const f = document.getElementById("insight-filters");
  const q = new URLSearchParams({ since: f.since.value });
  if (f.account_id.value) q.set("account_id", f.account_id.value);
  if (f.platform.value) q.set("platform", f.platform.value);
  const status = document.getElementById("insight-status");
  const out = document.getElementById("groups");
  while (charts.length) charts.pop().u.destroy();
  out.replaceChildren();
  let data;
  try { data = await api("GET", "/api/publishing/insights?" + q.toString()); showMessage(""); }
  catch (e) { showMessage(e.reason || e.message); status.textContent = ""; return; }
  const accounts = document.getElementById("f-account");
  for (const g of data.groups) {
    if (![...accounts.options].some((o) => o.value === g.account_id)) accounts.append(el("option", { value: g.account_id }, g.account_id));
  }
  status.textContent = data.groups.length ? `${data.groups.length} account and platform pair(s).` : "No published post followed in this period yet.";
  for (const g of data.groups) {
    const posts = data.posts.filter((p) => p.account_id === g.account_id && p.platform === g.platform);
    const section = el("section", { class: "insight-group card", "aria-label": `${g.account_id} on ${g.platform}` },
      el("h2", {}, `${g.account_id} · ${g.platform}`), summary(g),
      el("p", {}, "Best post: ", postLink(g.best_post), g.best_post ? ` (${num(g.best_post.views_24h)} views at 24 h)` : ""),
      el("p", {}, "Worst post: ", postLink(g.worst_post), g.worst_post ? ` (${num(g.worst_post.views_24h)} views at 24 h)` : ""));
    out.append(section);
    const postsBox = el("div", { class: "uplot-box posts-chart" });
    section.append(postsBox);
    postsChart(postsBox, posts);
    section.append(postsTable(posts));
    const trendBox = el("div", { class: "trend" });
    section.append(trendBox);
    trendChart(trendBox, g.weekly, g.trend_24h);
    const bestBox = el("div", { class: "best-times" });
    section.append(bestBox);
    await bestTimes(bestBox, g);
  }
  document.body.dataset.insightsReady = "true";
}

function redraw() { for (const c of charts) c.u.setSize({ width: chartWidth(c.box), height: 220 }); }

document.addEventListener("DOMContentLoaded", () => {
  const f = document.getElementById("insight-filters");
  f.addEventListener("change", load);
  f.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  document.addEventListener("mp:tz", load);
  let timer = null;
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(redraw, 150); });
  // Colours come from the theme's CSS variables: a theme switch redraws the charts in its colours.
  new MutationObserver(load).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  load();
});
