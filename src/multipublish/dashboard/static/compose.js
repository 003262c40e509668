// The composer: resumable upload (tus), accounts and platforms, text, live checks per platform,
// per-platform preview and overrides, publish now / at a time / into the next queue slot, drafts.
"use strict";

const C = {
  rules: {},          // /api/publishing/platforms
  accounts: [],       // [{account_id, platform}]
  videoPath: "",
  videoName: "",
  objectUrl: null,    // the dragged file, for the preview
  media: null,        // what the server probed (width, height, duration, ...)
  report: {},         // per platform key: {valid, errors, warnings}
  upload: null,       // the running tus.Upload
  draftId: null,
  draftVersion: null, // the version this tab opened or last saved (a stale save is refused)
  idempotencyKey: null,
  checkTimer: null,
  fixable: {},        // per platform key: true when media preparation can make the file valid
};

const $ = (id) => document.getElementById(id);
const form = () => $("composer");

function say(text, kind) {
  const m = $("message");
  m.textContent = text || "";
  m.className = kind === "error" ? "error" : "ok";
  m.setAttribute("role", kind === "error" ? "alert" : "status");
  m.hidden = !text;
}

// -- what the user chose ----------------------------------------------------------------------
function tags() {
  return $("tags").value.split(",").map((t) => t.trim().replace(/^#/, "")).filter(Boolean);
}
function chosen() {
  // [{platform, postType, key}] for every ticked platform
  return [...document.querySelectorAll('#platforms input[name="platform"]:checked')].map((box) => {
    const p = box.value;
    const sel = document.querySelector(`select[name="post_type-${p}"]`);
    const postType = sel ? sel.value : Object.keys(C.rules[p].post_types)[0];
    const first = Object.keys(C.rules[p].post_types)[0];
    return { platform: p, postType, key: postType === first ? p : `${p}:${postType}` };
  });
}
function rulesOf(c) { return C.rules[c.platform].post_types[c.postType]; }
function override(p) { const t = document.querySelector(`textarea[name="override-${p}"]`); return t ? t.value : ""; }
function options(p) {
  const out = {};
  for (const sel of document.querySelectorAll(`select[data-option-of="${p}"]`)) if (sel.value) out[sel.dataset.option] = sel.value;
  return out;
}
function whenMode() { return (form().querySelector('input[name="when"]:checked') || {}).value || "now"; }

// -- accounts and platforms -------------------------------------------------------------------
function renderPlatforms() {
  const account = $("account").value;
  const have = new Set(C.accounts.filter((a) => a.account_id === account).map((a) => a.platform));
  const box = $("platforms");
  const before = new Set(chosen().map((c) => c.platform));
  box.replaceChildren(el("legend", {}, "Platforms"));
  for (const p of Object.keys(C.rules)) {
    const ok = have.has(p);
    const input = el("input", { type: "checkbox", name: "platform", value: p, id: "pf-" + p });
    if (!ok) input.disabled = true;
    if (ok && (before.has(p) || before.size === 0)) input.checked = true;
    input.addEventListener("change", () => { renderCards(); scheduleCheck(); });
    box.append(el("label", { for: "pf-" + p }, input, " " + p,
      ok ? null : el("span", { class: "hint" }, " (not connected to this account)")));
  }
  renderCards();
  refreshNextSlot();
}

// -- per-platform cards: options, override, counters, preview, checks -------------------------
function renderCards() {
  const holder = $("platform-cards");
  const picked = chosen();
  const keep = {};
  for (const t of holder.querySelectorAll("textarea, select")) keep[t.name] = t.value;
  holder.replaceChildren();
  if (!picked.length) { holder.append(el("p", { class: "muted" }, "Pick an account and platforms.")); return; }
  for (const c of picked) {
    const p = c.platform;
    const card = el("section", { class: "platform-card", id: "card-" + p, "data-platform": p, "aria-labelledby": "h-" + p });
    card.append(el("h3", { id: "h-" + p }, p));
    const types = Object.keys(C.rules[p].post_types);
    const row = el("div", { class: "row" });
    if (types.length > 1) {
      const sel = el("select", { name: "post_type-" + p, id: "post_type-" + p });
      for (const t of types) sel.append(el("option", { value: t }, t));
      sel.value = keep["post_type-" + p] || c.postType;
      sel.addEventListener("change", () => { renderCards(); scheduleCheck(); });
      row.append(el("label", { for: "post_type-" + p }, "Post type ", sel));
    }
    for (const [name, values] of Object.entries(C.rules[p].options || {})) {
      if (name === "post_type") continue;
      const id = `opt-${p}-${name}`;
      const sel = el("select", { id, name: id, "data-option-of": p, "data-option": name });
      sel.append(el("option", { value: "" }, "(platform default)"));
      for (const v of values) sel.append(el("option", { value: v }, v));
      sel.value = keep[id] || "";
      row.append(el("label", { for: id }, name.replace("_", " ") + " ", sel));
    }
    card.append(row);
    const oid = "override-" + p;
    const ta = el("textarea", { id: oid, name: oid, rows: "2", placeholder: "Leave empty to use the description" });
    ta.value = keep[oid] || "";
    ta.addEventListener("input", () => { updateCard(p); scheduleCheck(); });
    card.append(el("label", { for: oid }, `Caption for ${p} (optional)`, ta));
    card.append(el("div", { class: "counters", id: "counters-" + p }));
    card.append(el("div", { class: "preview", id: "preview-" + p }));
    card.append(el("ul", { class: "checks", id: "checks-" + p, "aria-live": "polite" }));
    holder.append(card);
    updateCard(p);
  }
}

function captionFor(c) {
  // what the platform shows: the caption, plus the tags as hashtags where the platform has no tag field
  const text = override(c.platform) || $("description").value;
  if (c.platform === "youtube") return text;
  const extra = tags().map((t) => "#" + t).filter((h) => !text.includes(h));
  return extra.length ? (text ? text + "\n\n" : "") + extra.join(" ") : text;
}
const utf8 = (s) => new TextEncoder().encode(s).length;
const size = (s, unit) => (unit === "bytes" ? utf8(s) : [...s].length);

function counter(label, n, max, id) {
  const over = max !== null && max !== undefined && n > max;
  return el("span", { class: "counter" + (over ? " over" : ""), "data-counter": id },
    `${label} ${n}${max ? " / " + max : ""}`);
}

function frameGeometry(r) {
  // The frame each platform shows and whether it pads (letterbox) or crops to it.
  const vw = C.media ? C.media.width : 1080, vh = C.media ? C.media.height : 1920;
  const v = vw / vh;
  const ratio = (s) => { const [a, b] = s.split(":").map(Number); return a / b; };
  if (r.aspect_range) {
    const [lo, hi] = r.aspect_range;
    const f = Math.min(Math.max(v, lo), hi);
    return { frame: f, mode: Math.abs(f - v) < 0.01 ? "as is" : "crop", video: v };
  }
  const target = (r.preferred_aspect_ratios && r.preferred_aspect_ratios[0]) || (r.aspect_ratios && r.aspect_ratios[0]);
  const f = target ? ratio(target) : v;
  return { frame: f, mode: Math.abs(f - v) / f < 0.03 ? "as is" : "pad", video: v, label: target };
}

function updateCard(p) {
  const c = chosen().find((x) => x.platform === p);
  if (!c) return;
  const r = rulesOf(c);
  const caption = captionFor(c);
  const title = $("title").value;
  const hashtags = (caption.match(/#[\p{L}\p{N}_]+/gu) || []).length + (p === "youtube" ? 0 : 0);
  const counters = $("counters-" + p);
  counters.replaceChildren(...[
    r.title_max_length ? counter("Title", size(title, r.title_unit), r.title_max_length, "title") : null,
    counter("Caption", size(caption, r.description_unit), r.description_max_length, "caption"),
    counter("Hashtags", hashtags + (p === "youtube" ? 0 : 0), r.max_hashtags, "hashtags"),
    p === "youtube" ? counter("Tags", tags().length, r.max_tags, "tags") : null,
  ].filter(Boolean));
  // preview: the frame, then the caption as shown (the part past the limit struck through)
  const g = frameGeometry(r);
  const box = el("div", { class: "frame " + (g.mode === "crop" ? "crop" : "pad"), "data-mode": g.mode });
  box.style.aspectRatio = String(g.frame);
  if (C.objectUrl) {
    const v = el("video", { src: C.objectUrl, muted: "", playsinline: "", preload: "metadata", "aria-label": `${p} preview` });
    v.muted = true;
    box.append(v);
  } else {
    const inner = el("div", { class: "placeholder" });
    inner.style.background = "linear-gradient(135deg, #5b7bd5, #c55b9b)";
    if (g.mode === "crop" || g.video > g.frame) { inner.style.width = "100%"; inner.style.aspectRatio = String(g.video); }
    else { inner.style.height = "100%"; inner.style.aspectRatio = String(g.video); }
    if (g.mode === "crop") { inner.style.height = "100%"; inner.style.width = "auto"; }
    box.append(inner);
  }
  const max = r.description_max_length;
  const chars = [...caption];
  const cap = el("div", { class: "caption", "data-caption": p });
  if (title && p === "youtube") cap.append(el("b", {}, title), document.createTextNode("\n"));
  if (max && r.description_unit !== "bytes" && chars.length > max) {
    cap.append(chars.slice(0, max).join(""), el("span", { class: "cut", title: "cut by " + p }, chars.slice(max).join("")));
  } else cap.append(caption || el("span", { class: "muted" }, "(no caption)"));
  const how = g.mode === "as is" ? "shown as it is" : `${g.mode === "crop" ? "cropped" : "padded"} to ${g.label || g.frame.toFixed(2)}`;
  $("preview-" + p).replaceChildren(box, el("div", { class: "caption-col" }, el("p", { class: "hint" }, how), cap));
  // checks: the server's verdict for this platform (file and text), else the local counters
  const list = $("checks-" + p);
  list.replaceChildren();
  const rep = C.report[c.key];
  const local = [];
  if (r.title_max_length && size(title, r.title_unit) > r.title_max_length) local.push(`title is longer than ${r.title_max_length} ${r.title_unit}`);
  if (max && size(caption, r.description_unit) > max) local.push(`caption is longer than ${max} ${r.description_unit}; ${p} would cut or refuse it`);
  if (r.max_hashtags && hashtags > r.max_hashtags) local.push(`at most ${r.max_hashtags} hashtags`);
  if (r.title_required && !title.trim() && !rep) local.push("a title is required");
  const fixing = $("auto_fix").checked && C.fixable[c.key];
  const fileErrors = rep ? rep.errors.filter((e) => !fixing || TEXT_FIELDS.test(e)) : [];
  const errors = [...new Set([...fileErrors, ...local])];
  if (fixing && rep && !rep.valid) list.append(el("li", { class: "warn" }, "will be fixed before upload: " + rep.errors.filter((e) => !TEXT_FIELDS.test(e)).join("; ")));
  for (const e of errors) list.append(el("li", { class: "error" }, e));
  for (const w of rep ? rep.warnings : []) list.append(el("li", { class: "warn" }, w));
  if (!errors.length && rep) list.append(el("li", { class: "ok" }, "ready for " + p));
  if (!C.videoPath) list.append(el("li", { class: "muted" }, "the video is checked once it is uploaded"));
  const card = $("card-" + p);
  card.dataset.valid = rep ? String(!errors.length) : (errors.length ? "false" : "unknown");
}

function updateAll() {
  for (const c of chosen()) updateCard(c.platform);
  // a refusal the user has since fixed should not stay on screen
  const m = $("message");
  if (!m.hidden && m.textContent.startsWith("Fix what the cards say") && !document.querySelector('.platform-card[data-valid="false"]')) say("");
}

// -- live validation against the server's rules -----------------------------------------------
function scheduleCheck() {
  C.idempotencyKey = null; // the form changed: a new publish is a new request
  updateAll();
  clearTimeout(C.checkTimer);
  C.checkTimer = setTimeout(check, 350);
}

async function check() {
  const picked = chosen();
  if (!C.videoPath || !picked.length) return;
  const body = { video_path: C.videoPath, platforms: picked.map((c) => c.key), title: $("title").value,
    description: $("description").value, tags: tags() };
  try {
    const report = await api("POST", "/api/publishing/validate", body);
    C.report = report;
    const any = Object.values(report)[0];
    if (any && any.media) {
      C.media = any.media;
      const m = C.media;
      $("media-facts").textContent = `${C.videoName || "video"}: ${m.width}×${m.height}, ${m.duration.toFixed(1)} s, ` +
        `${m.container}/${m.video_codec}${m.audio_codec ? "/" + m.audio_codec : ", no audio"}, ${(m.size / 1048576).toFixed(1)} MB`;
    } else if (any && !any.valid) {
      $("media-facts").textContent = `${C.videoName || "the file"}: ${any.errors[0] || "cannot be read as a video"}`;
    }
    fieldError(form(), "video_path", "");
    await offerFix(report);
    updateAll();
  } catch (e) {
    if (e.field === "video_path") fieldError(form(), "video_file", e.reason || e.message);
    else say(e.message, "error");
  }
}

const TEXT_FIELDS = /title|description|caption|hashtag|tag|mention/i;
async function offerFix(report) {
  // a platform that refuses the file itself (not its text) may take it after media preparation
  const refused = Object.entries(report).filter(([, r]) => !r.valid && r.errors.some((e) => !TEXT_FIELDS.test(e)));
  C.fixable = {};
  const box = $("fix-offer");
  if (!refused.length) { box.hidden = true; return; }
  try {
    const plan = await api("POST", "/api/publishing/fix-plan", { video_path: C.videoPath, platforms: refused.map(([k]) => k) });
    const can = Object.entries(plan).filter(([, p]) => p.fixable).map(([k]) => k);
    for (const k of can) C.fixable[k] = true;
    const cannot = Object.entries(plan).filter(([, p]) => !p.fixable).map(([k, p]) => `${k}: ${p.reason}`);
    box.hidden = !can.length;
    $("fix-text").textContent = (can.length ? `Fix offered: media preparation can make this video fit ${can.join(", ")}.` : "") +
      (cannot.length ? ` Cannot be fixed: ${cannot.join("; ")}.` : "");
  } catch (e) { box.hidden = true; }
}

// -- the video: resumable upload, or one already uploaded -------------------------------------
function setVideo(path, name) {
  $("fix-offer").hidden = true;
  $("auto_fix").checked = false;
  C.fixable = {};
  C.videoPath = path;
  C.videoName = name || path.split("/").pop();
  $("video_path").value = path;
  C.report = {};
  C.media = null;
  $("media-facts").textContent = "Checking the video…";
  scheduleCheck();
}

function uploadStatus(text, kind) {
  const s = $("upload-status");
  s.textContent = text;
  s.className = kind === "error" ? "field-error" : "hint";
}

function startUpload(file) {
  fieldError(form(), "video_file", "");
  if (file.type && !file.type.startsWith("video/")) {
    fieldError(form(), "video_file", `${file.name} is not a video (${file.type}). Choose an MP4, MOV or WebM file.`);
    return;
  }
  if (C.upload) C.upload.abort();
  if (C.objectUrl) URL.revokeObjectURL(C.objectUrl);
  C.objectUrl = URL.createObjectURL(file);
  const bar = $("upload-progress");
  bar.hidden = false; bar.value = 0;
  const chunk = parseInt($("video-drop").dataset.chunkSize, 10) || 8388608;
  let delays = [0, 1000, 3000, 5000];
  try { if ($("video-drop").dataset.retryDelays) delays = JSON.parse($("video-drop").dataset.retryDelays); } catch (e) { /* keep */ }
  const upload = new tus.Upload(file, {
    endpoint: "/api/publishing/uploads/tus",
    chunkSize: chunk,
    retryDelays: delays,
    metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
    headers: { "X-CSRF-Token": csrf() },
    removeFingerprintOnSuccess: true,
    onProgress(sent, total) {
      const pct = total ? Math.floor((sent / total) * 100) : 0;
      bar.value = pct;
      bar.setAttribute("aria-valuetext", pct + "%");
      uploadStatus(`Uploading ${file.name}: ${pct}% (${(sent / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MB)`);
    },
    onError(err) {
      const resp = err.originalResponse;
      let why = "the connection was lost";
      if (resp) {
        try { why = JSON.parse(resp.getBody()).message || why; } catch (e) { why = resp.getBody() || why; }
        if (resp.getStatus() === 415) { fieldError(form(), "video_file", why); uploadStatus(""); bar.hidden = true; return; }
      }
      uploadStatus(`Upload of ${file.name} stopped at ${bar.value}% (${why}). Press “Resume upload”, or choose the same file again: it goes on from there.`, "error");
      $("upload-pause").hidden = true;
      $("upload-resume").hidden = false;
    },
    async onSuccess() {
      bar.value = 100;
      $("upload-pause").hidden = true;
      $("upload-resume").hidden = true;
      uploadStatus(`Uploaded ${file.name}.`);
      const uid = upload.url.split("/").pop();
      try {
        const info = await api("GET", "/api/publishing/uploads/files/" + encodeURIComponent(uid));
        setVideo(info.video_path, file.name);
        loadUploaded();
      } catch (e) { uploadStatus(e.message, "error"); }
    },
  });
  C.upload = upload;
  $("upload-pause").hidden = false;
  $("upload-resume").hidden = true;
  upload.findPreviousUploads().then((previous) => {
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      uploadStatus(`Resuming the earlier upload of ${file.name}…`);
    } else uploadStatus(`Uploading ${file.name}…`);
    upload.start();
  });
}

async function loadUploaded() {
  try {
    const data = await api("GET", "/api/publishing/uploads/files");
    const sel = $("uploaded");
    const current = sel.value;
    sel.replaceChildren(el("option", { value: "" }, "(none)"),
      ...data.files.map((f) => el("option", { value: f.video_path }, `${f.filename} · ${(f.size / 1048576).toFixed(1)} MB · ${human(f.uploaded_at)}`)));
    sel.value = current;
  } catch (e) { /* no media root: the select stays empty */ }
}

// -- queue slot -------------------------------------------------------------------------------
async function refreshNextSlot() {
  const out = $("next-slot");
  const account = $("account").value;
  if (!account) { out.textContent = ""; return; }
  try {
    const next = await api("GET", `/api/publishing/slots/${encodeURIComponent(account)}/next`);
    out.textContent = "(next free slot: " + human(next.scheduled_time) + ")";
    out.dataset.at = next.scheduled_time;
  } catch (e) { out.textContent = "(" + (e.reason || e.message) + ")"; out.dataset.at = ""; }
}

// -- drafts -----------------------------------------------------------------------------------
function formState() {
  const data = { account_id: $("account").value, title: $("title").value, description: $("description").value,
    tags: $("tags").value, when: whenMode(), scheduled_time: $("scheduled_time").value,
    video_path: C.videoPath, video_name: C.videoName, platforms: chosen().map((c) => c.platform), fields: {} };
  for (const t of $("platform-cards").querySelectorAll("textarea, select")) data.fields[t.name] = t.value;
  return data;
}

function applyState(d) {
  $("account").value = d.account_id || "";
  renderPlatforms();
  for (const box of document.querySelectorAll('#platforms input[name="platform"]'))
    box.checked = !box.disabled && (d.platforms || []).includes(box.value);
  renderCards();
  for (const [name, value] of Object.entries(d.fields || {})) {
    const f = $("platform-cards").querySelector(`[name="${CSS.escape(name)}"]`);
    if (f) f.value = value;
  }
  renderCards();
  $("title").value = d.title || ""; $("description").value = d.description || ""; $("tags").value = d.tags || "";
  for (const r of form().querySelectorAll('input[name="when"]')) r.checked = r.value === (d.when || "now");
  $("scheduled_time").value = d.scheduled_time || "";
  whenChanged();
  if (d.video_path) setVideo(d.video_path, d.video_name); else scheduleCheck();
}

async function loadDrafts() {
  const data = await api("GET", "/api/publishing/drafts");
  const sel = $("drafts");
  sel.replaceChildren(el("option", { value: "" }, "Open a draft…"),
    ...data.drafts.map((d) => el("option", { value: d.id }, `${d.title || "(untitled)"} · ${human(d.updated_at)}`)));
  if (C.draftId) sel.value = C.draftId;
}

function draftConflict(show) {
  $("draft-conflict").hidden = !show;
  if (show) $("draft-overwrite").focus();
}

async function saveDraft(opts) {
  const asNew = opts && opts.asNew;
  try {
    const data = formState();
    const d = C.draftId && !asNew
      ? await api("PUT", "/api/publishing/drafts/" + C.draftId, { data, version: (opts && opts.version) || C.draftVersion || undefined })
      : await api("POST", "/api/publishing/drafts", { data });
    C.draftId = d.id; C.draftVersion = d.version;
    draftConflict(false);
    await loadDrafts();
    say(`Draft saved (${human(d.updated_at)}).`);
  } catch (e) {
    if (e.status === 409) {
      // another tab saved first: nothing was written here, and this tab's words are still in the form
      draftConflict(true);
      say("This draft was changed in another tab or device since you opened it: nothing was saved. " +
        "Reload the saved one, overwrite it with this tab's, or keep this tab's as a new draft.", "error");
    } else if (e.status === 404 && C.draftId) {
      C.draftId = null; C.draftVersion = null;
      say("This draft was deleted in another tab (or published): “Save draft” keeps this tab's as a new one.", "error");
    } else say("Could not save the draft: " + e.message, "error");
  }
}

async function overwriteDraft() {
  try { // over the version saved now: a third save meanwhile is refused again
    const current = await api("GET", "/api/publishing/drafts/" + C.draftId);
    await saveDraft({ version: current.version });
  } catch (e) { say("Could not save the draft: " + e.message, "error"); }
}

// ?account=&platform=&at= (the insights page's "add to queue at the best free slot"): publish at that time.
function prefillFromQuery() {
  const q = new URLSearchParams(location.search);
  const at = q.get("at");
  if (!at || isNaN(Date.parse(at))) return;
  applyState({ account_id: q.get("account") || $("account").value, platforms: q.get("platform") ? [q.get("platform")] : [],
    when: "at", scheduled_time: utcToWall(at, userTz()).slice(0, 16) });
  say(`Set to the best free slot, ${human(at)}: add the video and the text.`);
}

async function openDraft(id) {
  try {
    const d = await api("GET", "/api/publishing/drafts/" + id);
    C.draftId = d.id; C.draftVersion = d.version;
    draftConflict(false);
    applyState(d.data);
    say(`Opened draft “${d.title || "(untitled)"}”.`);
  } catch (err) { say(err.message, "error"); }
}

// -- publish ----------------------------------------------------------------------------------
function whenChanged() {
  const mode = whenMode();
  $("scheduled_time").disabled = mode !== "at";
  $("publish").textContent = mode === "now" ? "Publish now" : mode === "at" ? "Schedule" : "Add to queue";
  fieldError(form(), "scheduled_time", "");
  C.idempotencyKey = null;
}

function jobsToSend() {
  // one job per distinct caption: platforms sharing a caption share a job
  const groups = new Map();
  for (const c of chosen()) {
    const text = override(c.platform) || $("description").value;
    if (!groups.has(text)) groups.set(text, []);
    groups.get(text).push(c);
  }
  return [...groups.entries()].map(([description, cs]) => {
    const platform_specific = {};
    for (const c of cs) { const o = options(c.platform); if (Object.keys(o).length) platform_specific[c.platform] = o; }
    const job = { account_id: $("account").value, platforms: cs.map((c) => c.key), video_path: C.videoPath,
      title: $("title").value, description, tags: tags(), platform_specific };
    if ($("auto_fix").checked && cs.some((c) => C.fixable[c.key])) job.auto_fix = true;
    return job;
  });
}

async function publish(event) {
  event.preventDefault();
  say("");
  for (const n of ["video_file", "account_id", "platforms", "scheduled_time", "title", "description"]) fieldError(form(), n, "");
  let bad = false;
  if (!C.videoPath) { fieldError(form(), "video_file", "Upload a video or pick one already uploaded."); bad = true; }
  if (!$("account").value) { fieldError(form(), "account_id", "Choose an account."); bad = true; }
  if (!chosen().length) { fieldError(form(), "platforms", "Tick at least one platform this account has."); bad = true; }
  const mode = whenMode();
  let at = null;
  if (mode === "at") {
    at = wallToUtc($("scheduled_time").value, userTz());
    if (!at) { fieldError(form(), "scheduled_time", "Choose a date and time."); bad = true; }
    else if (at.getTime() < Date.now()) {
      fieldError(form(), "scheduled_time", `${human(at.toISOString())} is in the past (${userTz()}); choose a later time.`); bad = true;
    }
  }
  if (C.videoPath) { clearTimeout(C.checkTimer); await check(); } // judge the form as it is now
  const invalid = [...document.querySelectorAll('.platform-card[data-valid="false"]')].map((c) => c.dataset.platform);
  if (invalid.length) { say(`Fix what the cards say for ${invalid.join(", ")} first.`, "error"); bad = true; }
  if (bad) return;
  const jobs = jobsToSend();
  if (at) for (const j of jobs) j.scheduled_time = at.toISOString();
  C.idempotencyKey = C.idempotencyKey || (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
  const button = $("publish");
  button.disabled = true;
  try {
    const path = mode === "queue" ? "/api/publishing/publish/queue" : "/api/publishing/publish/batch";
    const result = await api("POST", path, { jobs }, { "Idempotency-Key": C.idempotencyKey });
    const out = $("published");
    out.replaceChildren(el("p", { class: "ok" }, mode === "now" ? "Queued to publish now:" :
      `Scheduled for ${human(result.jobs[0].scheduled_time)}:`),
      el("ul", {}, ...result.jobs.map((j) => el("li", {}, el("a", { href: "/jobs/" + encodeURIComponent(j.id), class: "job-link" }, j.id),
        " " + j.platforms.join(", ")))));
    say(`${result.count} job${result.count > 1 ? "s" : ""} created.`);
    if (C.draftId) {
      await api("DELETE", "/api/publishing/drafts/" + C.draftId).catch(() => null);
      C.draftId = null; C.draftVersion = null; loadDrafts();
    }
    refreshNextSlot();
  } catch (e) {
    const field = (e.field || "").replace(/^jobs\[\d+\]\./, "");
    const known = { video_path: "video_file", account_id: "account_id", scheduled_time: "scheduled_time", title: "title",
      description: "description", platforms: "platforms" };
    if (known[field]) fieldError(form(), known[field], e.reason || e.message);
    else if (e.status === 404 && /account/.test(e.message)) fieldError(form(), "platforms", e.message);
    say(e.message, "error");
  } finally { button.disabled = false; }
}

// -- start ------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  for (const n of document.querySelectorAll(".tz-name")) n.textContent = userTz();
  document.addEventListener("mp:tz", () => { for (const n of document.querySelectorAll(".tz-name")) n.textContent = userTz(); refreshNextSlot(); });
  const drop = $("video-drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files.length) startUpload(e.dataTransfer.files[0]);
  });
  $("video-file").addEventListener("change", (e) => { if (e.target.files.length) startUpload(e.target.files[0]); });
  $("upload-pause").addEventListener("click", () => {
    if (!C.upload) return;
    C.upload.abort(); $("upload-pause").hidden = true; $("upload-resume").hidden = false;
    uploadStatus(`Paused at ${$("upload-progress").value}%.`);
  });
  $("upload-resume").addEventListener("click", () => {
    if (!C.upload) return;
    $("upload-resume").hidden = true; $("upload-pause").hidden = false;
    uploadStatus("Resuming…"); C.upload.start();
  });
  $("uploaded").addEventListener("change", (e) => {
    if (!e.target.value) return;
    if (C.objectUrl) { URL.revokeObjectURL(C.objectUrl); C.objectUrl = null; }
    setVideo(e.target.value, e.target.selectedOptions[0].textContent.split(" · ")[0]);
  });
  $("account").addEventListener("change", () => { renderPlatforms(); scheduleCheck(); });
  $("auto_fix").addEventListener("change", () => { C.idempotencyKey = null; updateAll(); });
  for (const id of ["title", "description", "tags"]) $(id).addEventListener("input", scheduleCheck);
  for (const r of form().querySelectorAll('input[name="when"]')) r.addEventListener("change", whenChanged);
  $("scheduled_time").addEventListener("input", () => { C.idempotencyKey = null; fieldError(form(), "scheduled_time", ""); });
  form().addEventListener("submit", publish);
  $("save-draft").addEventListener("click", () => saveDraft());
  $("draft-overwrite").addEventListener("click", overwriteDraft);
  $("draft-reload").addEventListener("click", () => openDraft(C.draftId));
  $("draft-copy").addEventListener("click", () => saveDraft({ asNew: true }));
  $("drafts").addEventListener("change", (e) => { if (e.target.value) openDraft(e.target.value); });
  try {
    const [rules, accounts] = await Promise.all([api("GET", "/api/publishing/platforms"), api("GET", "/api/publishing/accounts")]);
    C.rules = rules;
    C.accounts = accounts;
    const ids = [...new Set(accounts.map((a) => a.account_id))].sort();
    $("account").replaceChildren(...(ids.length ? ids.map((a) => el("option", { value: a }, a))
      : [el("option", { value: "" }, "(no accounts yet: add one first)")]));
    renderPlatforms();
    whenChanged();
    loadUploaded();
    loadDrafts();
    prefillFromQuery();
  } catch (e) { say(e.message, "error"); }
});
