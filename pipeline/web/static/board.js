// Hall board: renders /api/board, refetches on every push of the live feed (alerts, presence flips,
// camera states) and every few seconds for the figures nobody pushes (fps, ages, database-backed data).
(function () {
  "use strict";
  const root = document.getElementById("board");
  if (!root) return;
  const L = JSON.parse(root.dataset.labels);
  const lang = document.querySelector('meta[name="lang"]').content;
  const POLL_MS = 5000;
  let state = null;

  const pad = n => String(n).padStart(2, "0");
  const clock = (t, secs) => {
    const d = new Date(t * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + (secs ? ":" + pad(d.getSeconds()) : "");
  };
  const fill = (tpl, k, v) => tpl.replace("{" + k + "}", v);
  function ago(sec) {
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return fill(L.ago_s, "n", sec);
    if (sec < 3600) return fill(L.ago_min, "n", Math.floor(sec / 60));
    return fill(L.ago_h, "n", Math.floor(sec / 3600));
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  // server time minus browser time, so ages do not depend on the screen's clock
  let skew = 0;
  const now = () => Date.now() / 1000 + skew;

  function tile(p) {
    const t = el("article", "tile " + p.state);
    t.dataset.post = p.post_id;
    t.dataset.state = p.state;
    const head = el("div", "tile-head");
    head.append(el("span", "post-name", p.name));
    if (p.name !== p.post_id) head.append(el("span", "post-id", p.post_id));
    if (p.alerts && p.alerts.length) head.append(el("span", "alert-count", "⚠ " + p.alerts.length));
    t.append(head);
    t.append(el("div", "tile-state", L[p.state]));
    let sub = "";
    if (p.state === "away" && p.since) sub = fill(L.away_since, "t", clock(p.since));
    else if (p.state === "staffed" && p.since) sub = fill(L.staffed_since, "t", clock(p.since));
    else if (p.state === "unknown") sub = L[p.reason] || L.no_data;
    const since = el("div", "tile-since", sub);
    t.append(since);
    if (p.staff && p.staff.length) t.append(el("div", "tile-staff", p.staff.map(s => s.name).join(" · ")));
    if (p.customers !== null && p.customers !== undefined && p.customers > 0) {
      t.append(el("div", "tile-customers", fill(L.customers, "n", p.customers)));
    }
    return t;
  }

  function render() {
    if (!state) return;
    // posts, camera by camera
    const posts = document.getElementById("board-posts");
    const groups = [];
    for (const p of state.posts) {
      let g = groups.find(x => x.id === p.camera_id);
      if (!g) { g = { id: p.camera_id, name: p.camera_name, posts: [] }; groups.push(g); }
      g.posts.push(p);
    }
    posts.replaceChildren(...groups.map(g => {
      const sec = el("section", "cam-group");
      sec.dataset.camera = g.id;
      sec.append(el("h2", "", g.name));
      // where the posts sit in the camera picture (seat zone centres), coloured by state
      const placed = g.posts.filter(p => p.x !== null && p.x !== undefined);
      if (placed.length) {
        const map = el("div", "minimap");
        map.setAttribute("aria-hidden", "true");
        for (const p of placed) {
          const m = el("span", "pin " + p.state, p.name);
          m.dataset.post = p.post_id;
          m.style.left = (p.x * 100).toFixed(1) + "%";
          m.style.top = (p.y * 100).toFixed(1) + "%";
          map.append(m);
        }
        sec.append(map);
      }
      const grid = el("div", "tiles");
      grid.append(...g.posts.map(tile));
      sec.append(grid);
      return sec;
    }));
    // queue
    const q = state.queue;
    const qEl = document.getElementById("board-queue");
    qEl.textContent = q.waiting === null || q.waiting === undefined ? "—" : String(q.waiting);
    qEl.dataset.known = q.waiting === null ? "0" : "1";
    document.getElementById("board-queue-note").textContent =
      q.waiting !== null ? "" : (q.configured ? L.queue_unknown : L.queue_none);
    // duties
    document.getElementById("board-duties").replaceChildren(...state.duties.map(d => {
      const li = el("li", "duty cov-" + d.coverage);
      li.dataset.duty = d.duty_id;
      li.dataset.coverage = d.coverage;
      li.append(el("span", "duty-name", d.name));
      li.append(el("span", "duty-cov", L["cov_" + d.coverage]));
      const who = el("div", "duty-who");
      for (const k of ["a", "b"]) {
        const r = d[k];
        const s = el("span", "role " + r.state, k.toUpperCase() + " " + r.name + " · " + r.post_name);
        who.append(s);
      }
      li.append(who);
      return li;
    }));
    renderAges();
    // cameras
    document.getElementById("board-cameras").replaceChildren(...state.cameras.map(c => {
      const li = el("li", "cam " + c.state);
      li.dataset.camera = c.camera_id;
      li.append(el("span", "cam-name", c.name));
      li.append(el("span", "cam-state " + c.state, L["state_" + c.state] || c.state));
      const fig = el("div", "cam-fig muted");
      fig.dataset.lastFrame = c.last_frame || "";
      li.append(fig);
      if (c.outage_since) li.append(el("div", "cam-outage", fill(L.outage_since, "t", clock(c.outage_since))));
      return li;
    }));
    renderAges();
    const asof = document.getElementById("board-asof");
    asof.textContent = (state.source === "live" ? L.src_live : L.src_db) +
      (state.as_of ? " · " + fill(L.as_of, "t", clock(state.as_of, true)) : "");
  }

  // the parts that change every second: clock, alert ages, camera last-frame ages
  function renderAges() {
    if (!state) return;
    const n = now();
    document.getElementById("board-clock").textContent = clock(n, true);
    const ul = document.getElementById("board-alerts");
    if (!state.alerts.length) ul.replaceChildren(el("li", "muted none", L.no_alerts));
    else ul.replaceChildren(...state.alerts.map(a => {
      const li = el("li", "alert sev-" + a.severity);
      li.dataset.event = a.event_id;
      const link = el("a", "alert-rule", a.rule_name);
      link.href = "/events/" + encodeURIComponent(a.event_id);
      li.append(link);
      li.append(el("span", "alert-where", [a.post_name, a.camera_name].filter(Boolean).join(" · ")));
      li.append(el("span", "alert-age", a.start ? ago(n - a.start) : ""));
      return li;
    }));
    document.querySelectorAll("#board-cameras .cam-fig").forEach(f => {
      const c = state.cameras.find(x => x.camera_id === f.parentElement.dataset.camera);
      if (!c) return;
      const lf = c.last_frame ? L.last_frame + " " + ago(n - c.last_frame) : L.last_frame + " —";
      f.textContent = L.fps + " " + Number(c.fps).toFixed(1) + " · " + lf;
    });
  }

  let inflight = false, again = false;
  async function refresh() {
    if (inflight) { again = true; return; }
    inflight = true;
    try {
      const r = await fetch("/api/board?lang=" + lang, { credentials: "same-origin", cache: "no-store" });
      if (r.status === 401) { location.href = "/login?next=/board"; return; }
      if (r.ok) {
        state = await r.json();
        skew = state.now - Date.now() / 1000;
        render();
        window.cwBoard = state;  // what is on screen, for scripts reading the wall (and the tests)
        root.dataset.loaded = String(+(root.dataset.loaded || 0) + 1);
      }
    } catch (_) { /* network blip: the next poll retries */ }
    inflight = false;
    if (again) { again = false; refresh(); }
  }
  let debounce = null;
  const soon = () => { clearTimeout(debounce); debounce = setTimeout(refresh, 250); };

  const live = document.getElementById("board-live");
  function setLive(s) {
    live.dataset.state = s;
    live.textContent = s === "on" ? L.live_on : s === "tail" ? L.live_tail : s === "retry" ? L.live_retry : L.live_off;
  }
  // "run": cameras in this process push everything; "tail" (`serve`): new events from the database only
  if (root.dataset.live && window.EventSource) {
    const es = new EventSource("/api/events/stream?kinds=event,presence,camera");
    es.onopen = () => setLive(root.dataset.live === "run" ? "on" : "tail");
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) { setLive("off"); es.close(); } else setLive("retry"); };
    ["alert", "presence", "camera"].forEach(k => es.addEventListener(k, () => { root.dataset.pushes = String(+(root.dataset.pushes || 0) + 1); soon(); }));
  } else setLive("off");

  refresh();
  setInterval(refresh, POLL_MS);
  setInterval(renderAges, 1000);
})();
