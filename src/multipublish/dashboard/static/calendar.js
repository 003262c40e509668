// The calendar: FullCalendar (month, week, list) in the user's zone; drag a waiting job to move it
// (PATCH /api/publishing/jobs/{id}), refused in words where it cannot move; slots drawn behind;
// busy days drawn as a count that opens the day's list.
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
function rangeUtc(info, tz) {
  return [wallToUtc(info.startStr.slice(0, 16), tz), wallToUtc(info.endStr.slice(0, 16), tz)];
}

function jobEvent(j, tz) {
  return {
    id: j.id, title: j.title || j.id, start: utcToWall(j.scheduled_time, tz), url: "/jobs/" + encodeURIComponent(j.id),
    classNames: ["job", "status-" + j.status], editable: MOVABLE.includes(j.status),
    extendedProps: { status: j.status, account: j.account_id, platforms: j.platforms, utc: j.scheduled_time },
  };
}

// A busy range is not drawn post by post: the server counts the posts per day (one grouped query)
// and sends the posts only of the days that hold few; the other days get an "N posts" badge that
// opens the day's list a page at a time. The month shows at most 4 per day anyway; the week view
// and the list draw more before falling back to badges.
const DENSITY = { month: { limit: 150, few: 3 }, week: { limit: 400, few: 60 } };

async function jobEvents(info, ok, fail) {
  const tz = userTz();
  const [start, end] = rangeUtc(info, tz);
  // by the range's length: the view is not known yet on the first fetch
  const d = end - start > 8 * 86400e3 ? DENSITY.month : DENSITY.week;
  const q = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), timezone: tz,
    limit: String(d.limit), few: String(d.few) });
  try {
    const data = await api("GET", "/api/publishing/calendar/summary?" + q);
    const events = data.jobs.map((j) => jobEvent(j, tz));
    if (!data.complete) {
      const drawn = new Set(data.jobs.map((j) => utcToWall(j.scheduled_time, tz).slice(0, 10)));
      for (const day of data.days) {
        if (drawn.has(day.date)) continue;
        events.push({ id: "day-" + day.date, title: `${day.count} posts`, start: day.date, allDay: true,
          editable: false, classNames: ["day-count"], extendedProps: { dayCount: day.count, date: day.date } });
      }
    }
    holder().dataset.mode = data.complete ? "posts" : "counts";
    ok(events);
  } catch (e) { calMsg(e.message); fail(e); }
}

const holder = () => document.getElementById("calendar");

// -- one day's posts, a page at a time (a badge opens it) ---------------------------------------
const DAY_PAGE = 50;
let dayShown = null, dayAsked = 0;

function nextDay(date) {
  const d = new Date(date + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

async function showDay(date, offset) {
  const tz = userTz();
  const panel = document.getElementById("day-list");
  const list = document.getElementById("day-jobs");
  const more = document.getElementById("day-more");
  if (!offset) {
    dayShown = date;
    list.replaceChildren();
    document.getElementById("day-title").textContent =
      new Intl.DateTimeFormat(undefined, { timeZone: "UTC", weekday: "long", day: "numeric", month: "long", year: "numeric" })
        .format(new Date(date + "T00:00:00Z"));
    panel.hidden = false;
  }
  const start = wallToUtc(date + "T00:00", tz), end = wallToUtc(nextDay(date) + "T00:00", tz);
  const q = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(),
    limit: String(DAY_PAGE), offset: String(offset || 0) });
  more.disabled = true;
  const asked = ++dayAsked;
  try {
    const data = await api("GET", "/api/publishing/calendar?" + q);
    if (asked !== dayAsked) return; // another page or day was asked for meanwhile
    for (const j of data.jobs) {
      list.append(el("li", { "data-job": j.id, "data-status": j.status },
        el("time", { datetime: j.scheduled_time }, human(j.scheduled_time, { weekday: undefined, day: undefined, month: undefined, year: undefined })),
        " ", el("a", { href: "/jobs/" + encodeURIComponent(j.id) }, j.title || j.id),
        " ", el("span", { class: "hint" }, `${j.account_id} · ${(j.platforms || []).join(", ")} · ${j.status}`)));
    }
    more.hidden = !data.more;
    more.dataset.offset = String((offset || 0) + data.jobs.length);
    document.getElementById("day-count").textContent = `${list.children.length} shown${data.more ? ", more below" : ""}.`;
  } catch (e) { calMsg(e.message); } finally { more.disabled = false; }
  if (!offset) document.getElementById("day-title").focus();
}

async function slotEvents(info, ok, fail) {
  const tz = userTz();
  const [start, end] = rangeUtc(info, tz);
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
  const box = holder();
  const narrow = window.matchMedia("(max-width: 640px)").matches;
  cal = new FullCalendar.Calendar(box, {
    timeZone: "UTC",
    now: () => utcToWall(new Date().toISOString(), userTz()),
    initialView: narrow ? "listWeek" : "dayGridMonth",
    initialDate: box.dataset.initial || undefined,
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
    lazyFetching: false, // a week inside a fetched month still asks: it may draw posts the month counted
    eventDrop: moved,
    eventClick(arg) {
      const p = arg.event.extendedProps;
      if (p.dayCount) { arg.jsEvent.preventDefault(); showDay(p.date, 0); }
    },
    loading(busy) { // aria-busy while posts are fetched and redrawn (a drag then would land on nothing)
      box.setAttribute("aria-busy", busy ? "true" : "false");
      if (!busy) box.dataset.loaded = "true";
    },
    datesSet() {
      // the toolbar's arrow icons are decoration: the buttons carry the words
      for (const icon of box.querySelectorAll(".fc-icon")) { icon.removeAttribute("role"); icon.setAttribute("aria-hidden", "true"); }
    },
    eventDidMount(arg) {
      const p = arg.event.extendedProps;
      if (p.dayCount) { // a badge is a button (FullCalendar makes it focusable; Enter clicks it)
        arg.el.title = `${p.dayCount} posts on ${p.date}: show the list`;
        arg.el.setAttribute("role", "button");
        arg.el.dataset.day = p.date;
      }
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
  const more = document.getElementById("day-more");
  more.addEventListener("click", () => showDay(dayShown, Number(more.dataset.offset)));
  document.getElementById("day-week").addEventListener("click", () => {
    cal.changeView("timeGridWeek", dayShown);
    holder().scrollIntoView();
  });
  document.getElementById("day-close").addEventListener("click", () => {
    document.getElementById("day-list").hidden = true; dayShown = null;
  });
  document.addEventListener("mp:tz", () => {
    for (const n of document.querySelectorAll(".tz-name")) n.textContent = userTz();
    cal.destroy(); build();
  });
});
