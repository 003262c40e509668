// Accounts: check each one against its services; add an upload-post profile after checking it.
"use strict";

function msg(text, bad) { const m = document.getElementById("message"); m.textContent = text || ""; m.className = bad ? "error" : "ok"; m.hidden = !text; }

async function checkAccount(button) {
  const account = button.dataset.account;
  button.disabled = true;
  button.textContent = "Checking…";
  try {
    const report = await api("POST", `/api/publishing/accounts/${encodeURIComponent(account)}/check`);
    for (const p of report.platforms) {
      const cell = document.querySelector(`tr[data-account="${CSS.escape(account)}"][data-platform="${CSS.escape(p.platform)}"] .account-status`);
      if (!cell) continue;
      const failed = p.checks.filter((c) => !c.ok);
      cell.replaceChildren(el("span", { class: p.ok ? "ok" : "error", "data-ok": String(p.ok) },
        p.ok ? "connected" : "needs attention"),
        el("ul", { class: "checks" }, ...(failed.length ? failed : p.checks).map((c) => el("li", { class: c.ok ? "" : "error", "data-check": c.name }, c.detail))),
        el("button", { type: "button", class: "check", "data-account": account, onclick: (e) => checkAccount(e.target) }, p.ok ? "Check again" : "Reconnect, then check"));
    }
  } catch (e) { msg(e.message, true); button.disabled = false; button.textContent = "Check"; }
}

let checked = null;

async function checkProfile() {
  const form = document.getElementById("profile-form");
  for (const n of ["account_id", "api_key", "user"]) fieldError(form, n, "");
  const body = { api_key: document.getElementById("new-key").value.trim(), user: document.getElementById("new-user").value.trim() };
  let bad = false;
  if (!document.getElementById("new-account").value.trim()) { fieldError(form, "account_id", "Name the account (letters, digits, _ . @ : -)."); bad = true; }
  if (body.api_key.length < 8) { fieldError(form, "api_key", "Paste the API key from upload-post (API Keys)."); bad = true; }
  if (!body.user) { fieldError(form, "user", "The profile's username in upload-post (Manage Users)."); bad = true; }
  if (bad) return;
  const out = document.getElementById("profile-result");
  out.replaceChildren(el("p", { class: "hint" }, "Asking upload-post…"));
  document.getElementById("profile-save").disabled = true;
  try {
    const r = await api("POST", "/api/publishing/upload-post/profile-check", body);
    checked = r.ok ? body : null;
    const box = el("fieldset", { id: "profile-platforms" }, el("legend", {}, "Networks connected to " + body.user));
    for (const [p, name] of Object.entries(r.connected)) {
      const id = "add-" + p;
      const input = el("input", { type: "checkbox", id, name: "platform", value: p, checked: "" });
      input.addEventListener("change", pageIdField);
      box.append(el("label", { for: id }, input, ` ${p}${name ? " (" + name + ")" : ""}`));
    }
    out.replaceChildren(el("p", { class: r.ok ? "ok" : "error", id: "profile-verdict" }, r.message + (r.plan ? ` · plan ${r.plan}` : "")),
      ...(Object.keys(r.connected).length ? [box] : []));
    if (!r.ok && /key/.test(r.message)) fieldError(form, "api_key", r.message);
    else if (!r.ok && /profile/.test(r.message)) fieldError(form, "user", r.message);
    document.getElementById("profile-save").disabled = !r.ok;
    pageIdField();
  } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); }
}

function pageIdField() {
  const fb = document.getElementById("add-facebook");
  document.getElementById("page-id-label").hidden = !(fb && fb.checked);
}

async function save(event) {
  event.preventDefault();
  const form = document.getElementById("profile-form");
  if (!checked) { msg("Check the key and profile with upload-post first.", true); return; }
  const account = document.getElementById("new-account").value.trim();
  const platforms = [...document.querySelectorAll('#profile-platforms input[name="platform"]:checked')].map((i) => i.value);
  if (!platforms.length) { msg("Tick at least one connected network.", true); return; }
  const pageId = document.getElementById("new-page-id").value.trim();
  if (platforms.includes("facebook") && !pageId) { fieldError(form, "page_id", "Facebook posts go to a page: give its id."); return; }
  try {
    for (const p of platforms) {
      const credentials = { api_key: checked.api_key, user: checked.user };
      if (p === "facebook") credentials.page_id = pageId;
      await api("POST", "/api/publishing/accounts", { account_id: account, platform: p, credentials });
    }
    window.location.reload();
  } catch (e) {
    if (e.field) fieldError(form, e.field.replace(/^credentials\./, ""), e.reason || e.message);
    msg(e.message, true);
  }
}

async function connectYouTube(event) {
  event.preventDefault();
  const form = document.getElementById("youtube-form");
  const body = { account_id: document.getElementById("yt-account").value.trim(),
    client_id: document.getElementById("yt-client-id").value.trim(),
    client_secret: document.getElementById("yt-client-secret").value.trim(),
    analytics: document.getElementById("yt-analytics").checked };
  for (const n of ["yt_account_id", "client_id", "client_secret"]) fieldError(form, n, "");
  let bad = false;
  if (!body.account_id) { fieldError(form, "yt_account_id", "Name the account."); bad = true; }
  if (body.client_id.length < 5) { fieldError(form, "client_id", "The client id from Google Cloud (APIs & Services → Credentials)."); bad = true; }
  if (body.client_secret.length < 5) { fieldError(form, "client_secret", "The client's secret."); bad = true; }
  if (bad) return;
  try {
    const r = await api("POST", "/api/publishing/youtube/connect", body);
    window.location.assign(r.auth_url);
  } catch (e) {
    if (e.field) fieldError(form, e.field === "account_id" ? "yt_account_id" : e.field, e.reason || e.message);
    msg(e.message, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("yt-redirect").textContent = location.origin + "/accounts/youtube/callback";
  document.getElementById("youtube-form").addEventListener("submit", connectYouTube);
  const q = new URLSearchParams(location.search);
  if (q.get("youtube_connected")) msg(`YouTube connected for ${q.get("youtube_connected")}.`
    + (q.get("youtube_note") ? " " + q.get("youtube_note") + "." : ""));
  if (q.get("youtube_error")) msg("YouTube was not connected: " + q.get("youtube_error"), true);
  for (const b of document.querySelectorAll("button.check")) b.addEventListener("click", () => checkAccount(b));
  document.getElementById("profile-check").addEventListener("click", checkProfile);
  document.getElementById("profile-form").addEventListener("submit", save);
  for (const id of ["new-key", "new-user"]) document.getElementById(id).addEventListener("input", () => {
    checked = null; document.getElementById("profile-save").disabled = true;
  });
});
