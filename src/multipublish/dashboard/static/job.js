// One job: summary, per-platform timeline of attempts (time, outcome, error in words, what next),
// links to the posts, webhook deliveries; cancel and retry only where allowed, after a confirmation.
"use strict";

const JOB = document.getElementById("job-id").dataset.job;
const DONE = ["completed", "failed", "cancelled"];
let timer = null;
let lastStatus = null;

function msg(text) { const m = document.getElementById("message"); m.textContent = text || ""; m.hidden = !text; }

const KIND_WORDS = {
  auth: "the platform refused the account's credentials (reconnect the account)",
  quota: "the platform's quota is used up",
  rate_limited: "the platform asked us to slow down",
  transient: "a temporary failure (network or platform)",
  permanent: "the platform refused the post",
  validation: "the video or text breaks the platform's rules",
};

function next(job, name, r) {
  const status = r.status || "pending";
  if (status === "published" || status === "succeeded") return "Done.";
  if (job.status === "cancelled") return "Cancelled: it will not run.";
  if (status === "failed" && job.status === "failed") return `Gave up after ${r.attempts || job.attempts} attempt(s). Retry runs it again.`;
  if (status === "deferred" || job.status === "retrying")
    return "Next try " + human(r.not_before || job.run_at) + (job.wait_reason ? ` (${job.wait_reason})` : "") + ".";
  if (job.status === "scheduled") return "Publishes " + human(job.scheduled_time || job.run_at) + ".";
  if (job.status === "processing") return "Publishing now…";
  return "Waiting for a worker.";
}

function confirmThen(text, action) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  dlg.returnValue = "";
  dlg.showModal();
  dlg.addEventListener("close", () => { if (dlg.returnValue === "ok") action(); }, { once: true });
}

async function act(what) {
  try {
    await api("POST", `/api/publishing/jobs/${encodeURIComponent(JOB)}/${what}`);
    msg("");
  } catch (e) {
    msg(e.status === 409 ? `Cannot ${what}: ${e.message}. The page now shows the job as it is.` : `${what}: ${e.message}`);
  }
  load();
}

function renderActions(job) {
  const box = document.getElementById("actions");
  box.replaceChildren();
  if (!DONE.includes(job.status))
    box.append(el("button", { id: "cancel", class: "danger", onclick: () => confirmThen(
      "Cancel this job? Platforms that already published keep their post.", () => act("cancel")) }, "Cancel job"));
  if (job.status === "failed") // the queue retries failed jobs only (a cancelled one is a 409)
    box.append(el("button", { id: "retry", onclick: () => confirmThen(
      "Run this job again? Only platforms that have not published run.", () => act("retry")) }, "Retry"));
}

async function load() {
  let job, extra;
  try {
    [job, extra] = await Promise.all([
      api("GET", "/api/publishing/jobs/" + encodeURIComponent(JOB)),
      api("GET", `/api/publishing/jobs/${encodeURIComponent(JOB)}/attempts`)]);
  } catch (e) {
    document.getElementById("summary").replaceChildren(el("p", { class: "error" }, e.status === 404 ? `No job ${JOB}.` : e.message));
    return;
  }
  document.getElementById("summary").replaceChildren(
    el("p", {}, el("b", {}, job.title || "(untitled)"), " · ", job.account_id, " · ",
      el("span", { class: "badge status-" + job.status, id: "job-status", "data-status": job.status }, job.status)),
    el("p", { class: "muted" }, `Created ${human(job.created_at)}` +
      (job.scheduled_time ? ` · scheduled ${human(job.scheduled_time)}` : "") +
      (job.completed_at ? ` · finished ${human(job.completed_at)}` : "") + ` · attempts ${job.attempts}/${job.max_retries + 1}`),
    ...(job.error_message ? [el("p", { class: "error" }, job.error_message)] : []));
  renderActions(job);
  const holder = document.getElementById("platforms");
  holder.replaceChildren();
  for (const name of job.platforms) {
    const r = (job.results || {})[name] || {};
    const base = name.split(":")[0];
    const tries = extra.attempts.filter((a) => a.platform === base || a.platform === name);
    const card = el("section", { class: "platform-card", "data-platform": name, "data-status": r.status || "pending" },
      el("h3", {}, name, " ", el("span", { class: "badge status-" + (r.status || "pending") }, r.status || "pending")),
      r.phase === "preparing" ? el("p", { class: "phase", "data-phase": "preparing" },
        `preparing: ${Math.round(100 * (r.progress || 0))}%`, " ",
        el("progress", { max: "100", value: String(Math.round(100 * (r.progress || 0))) })) : null,
      r.phase === "uploading" && job.status === "processing" ? el("p", { class: "phase", "data-phase": "uploading" }, "uploading…") : null,
      r.preparation && (r.preparation.actions || []).length ? el("p", { class: "muted prepared" },
        "Prepared for this platform: " + r.preparation.actions.join(", ")) : null,
      r.url ? el("p", {}, el("a", { href: r.url, rel: "noopener noreferrer", target: "_blank", class: "post-link" }, "Open the post ↗")) : null,
      r.error ? el("p", { class: "error" }, r.error + (r.error_kind && KIND_WORDS[r.error_kind] ? ` — ${KIND_WORDS[r.error_kind]}` : "")) : null);
    const list = el("ol", { class: "timeline", "aria-label": `Attempts on ${name}` });
    for (const a of tries) {
      list.append(el("li", { "data-outcome": a.outcome },
        el("time", { datetime: a.occurred_at }, human(a.occurred_at)), ` — attempt ${a.attempt}: `,
        el("b", { class: a.success ? "ok" : "error" }, a.success ? "published" : a.outcome),
        a.error ? el("span", {}, ": " + a.error + (KIND_WORDS[a.error_kind] ? ` (${KIND_WORDS[a.error_kind]})` : "")) : null,
        el("span", { class: "muted" }, ` · ${a.duration_s.toFixed(1)} s`)));
    }
    if (!tries.length) list.append(el("li", { class: "muted" }, "No attempt yet."));
    list.append(el("li", { class: "next" }, el("b", {}, "Next: "), next(job, name, r)));
    card.append(list);
    holder.append(card);
  }
  const hooks = document.getElementById("webhooks");
  hooks.replaceChildren();
  if (!job.webhook_url) hooks.append(el("p", { class: "muted" }, "This job has no webhook."));
  else if (!extra.webhooks.length) hooks.append(el("p", { class: "muted" }, `Nothing sent to ${job.webhook_url} yet.`));
  for (const w of extra.webhooks) {
    hooks.append(el("section", { class: "platform-card webhook", "data-status": w.status },
      el("p", {}, el("b", {}, w.event), ` → ${w.url} · `, el("span", { class: "badge status-" + (w.status === "delivered" ? "completed" : w.status) }, w.status)),
      el("ul", {}, ...w.deliveries.map((d) => el("li", {}, human(d.created_at), ` — try ${d.attempt}: `,
        d.success ? el("span", { class: "ok" }, `delivered (HTTP ${d.status_code})`) :
          el("span", { class: "error" }, d.status_code ? `HTTP ${d.status_code}` : (d.error || "no answer")))),
        w.status === "pending" ? el("li", { class: "muted" }, "next try " + human(w.next_attempt_at)) : null)));
  }
  lastStatus = job.status;
  clearTimeout(timer);
  timer = setTimeout(load, DONE.includes(job.status) ? 10000 : 1000);
}

document.addEventListener("DOMContentLoaded", () => { load(); document.addEventListener("mp:tz", load); });
