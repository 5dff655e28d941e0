// The class board's page: the instructor's view (/board) and the projector's (/projector, counts
// only, no names). Everything is built with textContent, never innerHTML: a learner's name is data,
// never markup. Live updates arrive as server-sent events, one learner row each.
"use strict";

const projector = location.pathname.startsWith("/projector");
const state = { factors: [], learners: new Map(), offset: 0, book: "/book/", bookServed: false };
// When each learner's latest post was first shown (board clock), and over all live events, how
// many arrived and the longest post→page delay: kept on <body> as data-* attributes, which the
// board's browser test reads (`cargo xtask room bench`).
const shownAt = new Map();
let liveEvents = 0;
let maxLagMs = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

function serverNow() {
  return Date.now() + state.offset;
}

function minutes(ms) {
  const m = Math.floor(ms / 60000);
  return m < 1 ? "<1 min" : m + " min";
}

function factorInfo(number) {
  return state.factors.find((f) => f.number === number);
}

function available() {
  return state.factors.filter((f) => f.available);
}

async function signIn(token) {
  const response = await fetch("/api/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
    credentials: "same-origin",
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || "sign-in failed (" + response.status + ")");
  }
}

async function load() {
  const response = await fetch("/api/board", { credentials: "same-origin" });
  if (response.status === 401) {
    showSignIn("");
    return false;
  }
  if (!response.ok) throw new Error("the board answered " + response.status);
  const snapshot = await response.json();
  state.offset = snapshot.now_ms - Date.now();
  state.factors = snapshot.factors;
  state.book = snapshot.book;
  state.bookServed = snapshot.book_served;
  // The snapshot is reloaded when the event stream (re)opens, while live events already arrive: a
  // row an event brought in the meantime is newer than the snapshot's, and stays (else that post
  // would vanish from the page until the learner's next check).
  const rows = new Map(snapshot.learners.map((row) => [row.id, row]));
  for (const [id, known] of state.learners) {
    const row = rows.get(id);
    if (!row || (known.last_seen_ms || 0) > (row.last_seen_ms || 0)) rows.set(id, known);
  }
  state.learners = rows;
  document.getElementById("class-name").textContent = snapshot.class.name;
  document.getElementById("class-code").textContent = snapshot.class.code;
  document.getElementById("sign-in").hidden = true;
  document.getElementById("board").hidden = false;
  render();
  return true;
}

function showSignIn(message) {
  document.getElementById("sign-in").hidden = false;
  document.getElementById("board").hidden = true;
  document.getElementById("sign-in-error").textContent = message;
}

function sortedLearners() {
  return [...state.learners.values()].sort((a, b) => {
    const as = a.stuck_since_ms, bs = b.stuck_since_ms;
    if ((as === null) !== (bs === null)) return as === null ? 1 : -1;
    if (as !== null && as !== bs) return as - bs;
    return a.name.localeCompare(b.name);
  });
}

function cellText(cell) {
  if (!cell.compiled) return "does not compile";
  return cell.passed + "/" + cell.total;
}

function cellClass(cell) {
  if (!cell.compiled) return "cell broken";
  if (cell.total > 0 && cell.passed === cell.total) return "cell green";
  return "cell red";
}

function renderLearners() {
  const table = document.getElementById("learners");
  const head = el("tr", {}, el("th", { text: "learner" }), el("th", { text: "stuck" }));
  for (const f of available()) head.append(el("th", { title: f.title, text: f.roman }));
  head.append(el("th", { text: "doctor" }));
  table.tHead.replaceChildren(head);
  const rows = sortedLearners().map((learner) => {
    const stuck = learner.stuck_since_ms === null || learner.current === null
      ? ""
      : minutes(serverNow() - learner.stuck_since_ms) + " on " + factorInfo(learner.current).roman;
    const tr = el("tr", { "data-learner": learner.id },
      el("td", { class: "name", text: learner.name }),
      el("td", { class: "stuck", text: stuck }));
    if (learner.last_seen_ms !== null) {
      tr.dataset.receivedMs = String(learner.last_seen_ms);
    }
    if (shownAt.has(learner.id)) tr.dataset.shownMs = String(shownAt.get(learner.id));
    for (const f of available()) {
      const cell = learner.factors[f.number];
      if (!cell) {
        tr.append(el("td", { class: "cell none", text: "·" }));
        continue;
      }
      const marks = (cell.hints_used ? " h" + cell.hints_used : "") + (cell.checks_edited ? " ✎" : "");
      const title = (cell.failing.length ? "failing: " + cell.failing.join(", ") : "") +
        (cell.not_checkable ? " (" + cell.not_checkable + " not checkable on this laptop)" : "");
      const td = el("td", { class: cellClass(cell) + (learner.current === f.number ? " current" : ""), title },
        cellText(cell), marks ? el("small", { text: marks }) : null);
      tr.append(td);
    }
    const problems = learner.doctor;
    tr.append(el("td", { class: problems && problems.length ? "doctor bad" : "doctor",
      text: problems === null ? "" : problems.length ? problems.join(", ") : "ok" }));
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
}

// Per factor: how many learners are on it now (their latest check, still red or not compiling: a
// learner who just made it green has moved on), how many have it green, how many cannot compile it.
function renderProgress() {
  const table = document.getElementById("progress");
  table.tHead.replaceChildren(el("tr", {}, el("th", { text: "factor" }), el("th", { text: "working on it" }),
    el("th", { text: "green" }), el("th", { text: "does not compile" }), el("th", { text: "checked" })));
  const learners = [...state.learners.values()];
  const rows = available().map((f) => {
    let current = 0, green = 0, broken = 0, checked = 0;
    for (const learner of learners) {
      const cell = learner.factors[f.number];
      if (!cell) continue;
      checked++;
      const isGreen = cell.compiled && cell.passed === cell.total;
      if (learner.current === f.number && !isGreen) current++;
      if (!cell.compiled) broken++;
      else if (isGreen) green++;
    }
    return el("tr", {}, el("td", { text: f.roman + " " + f.title }), el("td", { text: String(current) }),
      el("td", { text: String(green) }), el("td", { text: String(broken) }), el("td", { text: String(checked) }));
  });
  table.tBodies[0].replaceChildren(...rows);
}

// Which checks fail, for how many of the learners who have checked the factor (their latest verdict).
function failures() {
  const result = [];
  const learners = [...state.learners.values()];
  for (const f of available()) {
    const cells = learners.map((l) => l.factors[f.number]).filter(Boolean);
    if (!cells.length) continue;
    const counts = new Map();
    for (const cell of cells) for (const name of cell.failing) counts.set(name, (counts.get(name) || 0) + 1);
    const broken = cells.filter((c) => !c.compiled).length;
    const checks = f.checks
      .map((check) => ({ check, count: counts.get(check.name) || 0 }))
      .filter((item) => item.count > 0)
      .sort((a, b) => b.count - a.count || a.check.name.localeCompare(b.check.name));
    result.push({ factor: f, checked: cells.length, broken, checks });
  }
  return result;
}

function bookLink(factor, anchor, label) {
  return el("a", { href: state.book + factor.page + "#" + anchor, target: "_blank", rel: "noopener", text: label });
}

function renderHeatmap() {
  const all = failures();
  const top = all.flatMap((f) => f.checks.map((c) => ({ ...c, factor: f.factor, checked: f.checked })))
    .sort((a, b) => b.count - a.count)[0];
  const most = document.getElementById("most-failed");
  if (top) {
    most.replaceChildren(el("span", { text: "Most failed now: " }), el("code", { id: "most-failed-check", text: top.check.name }),
      el("span", { text: " · " + top.count + " of " + top.checked + " fail it (Factor " + top.factor.roman + ")" }));
  } else {
    most.replaceChildren(el("span", { text: "No failing check yet." }));
  }
  // Factors where everyone who checked is green take one line; the others get a block each.
  const green = all.filter((f) => !f.checks.length && !f.broken).map((f) => f.factor.roman);
  const blocks = all.filter((f) => f.checks.length || f.broken).map(({ factor, checked, broken, checks }) => {
    const list = el("ol", { class: "checks" });
    if (broken) {
      const bar = el("span", { class: "bar broken" });
      bar.style.setProperty("--share", String(broken / checked));
      list.append(el("li", { "data-check": "(does not compile)", "data-count": String(broken) },
        el("div", { class: "line" }, bar, el("span", { text: "does not compile" }),
          el("span", { class: "count", text: broken + " of " + checked }))));
    }
    for (const { check, count } of checks) {
      const bar = el("span", { class: "bar" });
      bar.style.setProperty("--share", String(count / checked));
      const item = el("li", { "data-check": check.name, "data-count": String(count) },
        el("div", { class: "line" }, bar, el("code", { text: check.name }),
          el("span", { class: "count", text: count + " of " + checked })));
      if (!projector) {
        const links = el("div", { class: "links" }, bookLink(factor, check.section, "chapter: #" + check.section),
          " · ", bookLink(factor, "instructor-notes", "speaker notes"));
        item.append(links);
        if (check.note) item.append(el("p", { class: "note", text: check.note }));
      }
      list.append(item);
    }
    const heading = el("h3", { text: factor.roman + ". " + factor.title },
      el("small", { text: " · " + checked + " checked" }));
    return el("div", { class: "factor", "data-factor": String(factor.number) }, heading, list);
  });
  if (green.length) {
    blocks.push(el("p", { class: "all-green", text: "No failing check on " + green.join(", ") + "." }));
  }
  document.getElementById("heatmap").replaceChildren(...blocks);
}

function render() {
  const learners = [...state.learners.values()];
  const stuck = learners.filter((l) => l.stuck_since_ms !== null).length;
  document.getElementById("summary").textContent =
    learners.length + " learners · " + stuck + " working on a red factor";
  if (!projector) renderLearners();
  renderProgress();
  renderHeatmap();
}

// Live events can come in bursts (a room of 200 checking at once): the page redraws at most every
// 60 ms, with everything that arrived meanwhile.
let redrawPending = false;
function scheduleRender() {
  if (redrawPending) return;
  redrawPending = true;
  setTimeout(() => {
    redrawPending = false;
    render();
  }, 60);
}

function connect() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => {
    live.textContent = "● live";
    live.className = "on";
    // After a reconnect (the board restarted), anything missed is in the snapshot.
    load().catch(() => {});
  });
  events.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.className = "off";
  });
  events.addEventListener("learner", (event) => {
    const { row, now_ms } = JSON.parse(event.data);
    state.offset = now_ms - Date.now();
    const known = state.learners.get(row.id);
    // Rows are built after the post's response, so two may arrive out of order.
    if (known && (known.last_seen_ms || 0) > (row.last_seen_ms || 0)) return;
    state.learners.set(row.id, row);
    if (!known || known.last_seen_ms !== row.last_seen_ms) {
      const shown = serverNow();
      shownAt.set(row.id, shown);
      if (row.last_seen_ms !== null) maxLagMs = Math.max(maxLagMs, shown - row.last_seen_ms);
    }
    liveEvents++;
    document.body.dataset.events = String(liveEvents);
    document.body.dataset.maxLagMs = String(maxLagMs);
    scheduleRender();
  });
}

async function start() {
  document.body.classList.toggle("projector", projector);
  // The projector shows counts, never names.
  document.getElementById("learners-section").hidden = projector;
  document.getElementById(projector ? "to-projector" : "to-board").classList.add("here");
  document.getElementById("sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(document.getElementById("token").value.trim());
      if (await load()) connect();
    } catch (err) {
      showSignIn(err.message);
    }
  });
  if (location.hash.startsWith("#ri_")) {
    const token = location.hash.slice(1);
    // The token leaves the address bar (and the history) at once.
    history.replaceState(null, "", location.pathname);
    try {
      await signIn(token);
    } catch (err) {
      showSignIn(err.message);
      return;
    }
  }
  try {
    if (await load()) connect();
  } catch (err) {
    showSignIn(err.message);
  }
  // "Stuck for" grows while nothing is posted.
  setInterval(() => { if (state.factors.length) render(); }, 15000);
}

start();
