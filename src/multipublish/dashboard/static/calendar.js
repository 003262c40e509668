// The calendar: FullCalendar (month, week, list) in the user's zone; drag a waiting job to move it
// (PATCH /api/publishing/jobs/{id}), refused in words where it cannot move; slots drawn behind.
"use strict";

const MOVABLE = ["pending", "scheduled", "retrying"];
let cal = null;

function calMsg(text, kind) {
  const m = document.getElementById("message");
  m.textContent = text || "";
  m.className = kind === "ok" ? "ok" : "error";
  m.hidden = !text;
}

// FullCalendar is fed wall-clock times of the user's zone and runs in "UTC", so what it shows is
// that zone's wall clock without a time-zone plugin; utcToWall/wallToUtc (app.js) convert.
async function jobEvents(info, ok, fail) {
  const tz = userTz();
  const start = wallToUtc(info.startStr.slice(0, 16), tz), end = wallToUtc(info.endStr.slice(0, 16), tz);
  try {
    const data = await api("GET", `/api/publishing/calendar?start=${start.toISOString()}&end=${end.toISOString()}`);
    ok(data.jobs.map((j) => ({
      id: j.id, title: j.title || j.id, start: utcToWall(j.scheduled_time, tz), url: "/jobs/" + encodeURIComponent(j.id),
      classNames: ["job", "status-" + j.status], editable: MOVABLE.includes(j.status),
      extendedProps: { status: j.status, account: j.account_id, platforms: j.platforms, utc: j.scheduled_time },
    })));
  } catch (e) { calMsg(e.message); fail(e); }
}

async function slotEvents(info, ok, fail) {
  const tz = userTz();
  const start = wallToUtc(info.startStr.slice(0, 16), tz), end = wallToUtc(info.endStr.slice(0, 16), tz);
  try {
    const data = await api("GET", `/api/publishing/slot-times?start=${start.toISOString()}&end=${end.toISOString()}`);
    ok(data.slots.map((s) => {
      const wall = utcToWall(s.start, tz);
      const endWall = utcToWall(new Date(new Date(s.start).getTime() + 30 * 60000).toISOString(), tz);
      return { start: wall, end: endWall, display: "background", classNames: [s.taken ? "slot-taken" : "slot-free"],
        title: `${s.account_id} slot${s.taken ? " (taken)" : ""}` };
    }));
  } catch (e) { fail(e); }
}

async function moved(info) {
  const ev = info.event;
  const tz = userTz();
  const at = wallToUtc(ev.startStr.slice(0, 16), tz);
  if (!at || at.getTime() < Date.now()) {
    info.revert();
    calMsg(`“${ev.title}” cannot move to ${human(at ? at.toISOString() : "")}: that is in the past.`);
    return;
  }
  try {
    const job = await api("PATCH", "/api/publishing/jobs/" + encodeURIComponent(ev.id), { scheduled_time: at.toISOString() });
    calMsg(`Moved “${ev.title}” to ${human(job.scheduled_time)}.`, "ok");
    ev.setExtendedProp("utc", job.scheduled_time);
    cal.refetchEvents();
  } catch (e) {
    info.revert();
    calMsg(e.status === 409 ? `“${ev.title}” can no longer move: ${e.message}.` : `Could not move “${ev.title}”: ${e.message}`);
    cal.refetchEvents();
  }
}

function build() {
  const holder = document.getElementById("calendar");
  const narrow = window.matchMedia("(max-width: 640px)").matches;
  cal = new FullCalendar.Calendar(holder, {
    timeZone: "UTC",
    now: () => utcToWall(new Date().toISOString(), userTz()),
    initialView: narrow ? "listWeek" : "dayGridMonth",
    initialDate: holder.dataset.initial || undefined,
    headerToolbar: narrow ? { left: "prev,next", center: "title", right: "dayGridMonth,listWeek" }
      : { left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,listWeek" },
    buttonText: { today: "Today", month: "Month", week: "Week", list: "List" },
    firstDay: 1,
    height: "auto",
    dayMaxEvents: 4, // a busy day shows "+N more" (a fixed count: no measuring of every post)
    nowIndicator: true,
    editable: true,
    eventDurationEditable: false,
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    eventSources: [{ events: jobEvents, id: "jobs" }, { events: slotEvents, id: "slots" }],
    eventDrop: moved,
    loading(busy) { if (!busy) holder.dataset.loaded = "true"; },
    datesSet() {
      // the toolbar's arrow icons are decoration: the buttons carry the words
      for (const icon of holder.querySelectorAll(".fc-icon")) { icon.removeAttribute("role"); icon.setAttribute("aria-hidden", "true"); }
    },
    eventDidMount(arg) {
      const p = arg.event.extendedProps;
      if (p.status) {
        arg.el.dataset.job = arg.event.id;
        arg.el.dataset.status = p.status;
        arg.el.title = `${arg.event.title} · ${p.account} · ${(p.platforms || []).join(", ")} · ${p.status}`;
      }
    },
  });
  cal.render();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const n of document.querySelectorAll(".tz-name")) n.textContent = userTz();
  build();
  document.addEventListener("mp:tz", () => {
    for (const n of document.querySelectorAll(".tz-name")) n.textContent = userTz();
    cal.destroy(); build();
  });
});
