// Queue slots: edit an account's weekly posting times (and its zone), saved with PUT.
"use strict";

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
let slots = [];

function say(text, bad) { const m = document.getElementById("message"); m.textContent = text || ""; m.className = bad ? "error" : "ok"; m.hidden = !text; }

function draw() {
  slots.sort((a, b) => a.weekday - b.weekday || a.time.localeCompare(b.time));
  const body = document.querySelector("#slot-list tbody");
  body.replaceChildren();
  if (!slots.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "muted" }, "No posting times yet.")));
  slots.forEach((s, i) => body.append(el("tr", { "data-slot": `${s.weekday}-${s.time}` },
    el("td", { "data-label": "Day" }, DAYS[s.weekday]), el("td", { "data-label": "Time" }, s.time),
    el("td", {}, el("button", { type: "button", class: "danger", "aria-label": `Remove ${DAYS[s.weekday]} ${s.time}`,
      onclick: () => { slots.splice(i, 1); draw(); } }, "Remove")))));
}

// Until an account's saved times are in, the form is disabled: an edit made meanwhile (a zone
// picked, a time added) would be overwritten when they arrive. Only the latest load applies.
let loading = 0;

function busy(on) {
  document.getElementById("slots-form").setAttribute("aria-busy", on ? "true" : "false");
  for (const id of ["slot-tz", "slot-day", "slot-time", "slot-add", "slot-save"])
    document.getElementById(id).disabled = on;
}

async function load() {
  const account = document.getElementById("slot-account").value;
  if (!account) return;
  const mine = ++loading;
  busy(true);
  try {
    const data = await api("GET", "/api/publishing/slots/" + encodeURIComponent(account));
    if (mine !== loading) return; // another account was chosen meanwhile
    slots = data.slots.map((s) => ({ weekday: s.weekday, time: s.time }));
    document.getElementById("slot-tz").value = data.slots.length ? data.timezone : userTz();
    draw();
    next(account);
  } finally {
    if (mine === loading) busy(false);
  }
}

async function next(account) {
  const out = document.getElementById("slot-next");
  try { out.textContent = "Next free slot: " + human((await api("GET", `/api/publishing/slots/${encodeURIComponent(account)}/next`)).scheduled_time); }
  catch (e) { out.textContent = e.reason || e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  const tz = document.getElementById("slot-tz");
  let zones = [];
  try { zones = Intl.supportedValuesOf("timeZone"); } catch (e) { zones = ["UTC"]; }
  if (!zones.includes("UTC")) zones.unshift("UTC");
  tz.replaceChildren(...zones.map((z) => el("option", { value: z }, z)));
  tz.value = userTz();
  document.getElementById("slot-account").addEventListener("change", load);
  document.getElementById("slot-add").addEventListener("click", () => {
    const form = document.getElementById("slots-form");
    const time = document.getElementById("slot-time").value;
    fieldError(form, "time", "");
    if (!/^\d{2}:\d{2}$/.test(time)) { fieldError(form, "time", "Enter a time like 09:30."); return; }
    const day = document.getElementById("slot-day").value;
    for (const d of day === "all" ? [0, 1, 2, 3, 4, 5, 6] : [Number(day)])
      if (!slots.some((s) => s.weekday === d && s.time === time)) slots.push({ weekday: d, time });
    draw();
  });
  document.getElementById("slots-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const account = document.getElementById("slot-account").value;
    if (!account) { say("Add an account first.", true); return; }
    try {
      await api("PUT", "/api/publishing/slots/" + encodeURIComponent(account), { timezone: tz.value, slots });
      say(`Saved ${slots.length} posting time(s) for ${account} (${tz.value}).`);
      next(account);
    } catch (err) { say(err.message, true); }
  });
  load().catch((e) => say(e.message, true));
});
