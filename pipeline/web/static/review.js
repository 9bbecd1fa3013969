// Review list: keyboard navigation (j/k, Enter, c, d), bulk verdicts (asked first, with undo), and live rows
// from the SSE feed; the live indicator shows the feed's actual state.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lang = document.querySelector('meta[name="lang"]').content;
  const table = document.getElementById("events");
  if (!table) return;
  const tbody = table.tBodies[0];
  const canReview = table.dataset.canReview === "1";
  let current = -1;

  const rows = () => Array.from(tbody.querySelectorAll("tr.ev"));

  function select(i) {
    const rs = rows();
    if (!rs.length) return;
    current = Math.max(0, Math.min(rs.length - 1, i));
    rs.forEach((r, k) => r.classList.toggle("selected", k === current));
    rs[current].scrollIntoView({ block: "nearest" });
  }

  async function api(path, body) {
    const resp = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    if (!resp.ok) {
      let msg = resp.status + "";
      try {
        const b = await resp.json();
        const m = b.message || b.detail;
        msg = Array.isArray(m) ? m.join("; ") : String(m);
      } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return resp.json();
  }

  async function refreshRow(id, highlight, retries) {
    const resp = await fetch("/fragments/event-row/" + encodeURIComponent(id) + "?lang=" + lang, { credentials: "same-origin" });
    if (resp.status === 404 && retries) {  // the alert can arrive before the event row is committed
      await new Promise(r => setTimeout(r, 1000));
      return refreshRow(id, highlight, retries - 1);
    }
    if (!resp.ok) return null;
    const tpl = document.createElement("template");
    tpl.innerHTML = (await resp.text()).trim();
    const fresh = tpl.content.querySelector("tr");
    if (!fresh) return null;
    const old = tbody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
    if (old) {
      const wasSel = old.classList.contains("selected");
      const wasPicked = old.querySelector("input.pick").checked;
      old.replaceWith(fresh);
      fresh.classList.toggle("selected", wasSel);
      fresh.querySelector("input.pick").checked = wasPicked;
    } else {
      tbody.prepend(fresh);
      if (current >= 0) current += 1;
      const empty = document.getElementById("empty");
      if (empty) empty.remove();
    }
    if (highlight) fresh.classList.add("fresh");
    return fresh;
  }

  async function verdict(ids, v) {
    if (!canReview || !ids.length) return [];
    const reason = v === "confirmed" ? "violation" : "false_alarm";
    let done = ids;
    if (ids.length === 1) await api("/api/events/" + encodeURIComponent(ids[0]) + "/review", { verdict: v, reason: reason });
    else done = (await api("/api/reviews/bulk", { event_ids: ids, verdict: v, reason: reason })).updated;
    for (const id of ids) await refreshRow(id, false);
    updatePicked();
    return done;
  }

  // bulk verdicts: ask first, then offer undo (the previous verdicts come back; the audit log keeps both)
  const bar = document.getElementById("bulk-bar");
  let pending = null, undoTimer = null;
  function showBar(text, mode) {
    if (!bar) return;
    document.getElementById("bulk-msg").textContent = text;
    document.getElementById("bulk-ok").hidden = mode !== "ask";
    document.getElementById("bulk-cancel").hidden = mode !== "ask";
    document.getElementById("bulk-undo").hidden = mode !== "undo";
    bar.dataset.mode = mode;
    bar.hidden = false;
    clearTimeout(undoTimer);
    if (mode === "undo") undoTimer = setTimeout(() => { bar.hidden = true; }, 30000);
    if (mode === "info") undoTimer = setTimeout(() => { bar.hidden = true; }, 6000);
  }
  const fill = (tpl, n, v) => tpl.replace("{n}", n).replace("{v}", v ? bar.dataset["v" + v[0].toUpperCase() + v.slice(1)] : "");
  if (bar) {
    document.getElementById("bulk-cancel").addEventListener("click", () => { pending = null; bar.hidden = true; });
    document.getElementById("bulk-ok").addEventListener("click", async () => {
      const job = pending;
      pending = null;
      if (!job) return;
      try {
        const done = await verdict(job.ids, job.v);
        pending = { ids: done, v: job.v, undo: true };
        showBar(fill(bar.dataset.done, done.length, job.v), "undo");
      } catch (err) { showBar(bar.dataset.failed + ": " + err.message, "info"); }
    });
    document.getElementById("bulk-undo").addEventListener("click", async () => {
      const job = pending;
      pending = null;
      if (!job || !job.undo) return;
      try {
        const out = await api("/api/reviews/undo", { event_ids: job.ids, verdict: job.v });
        for (const id of job.ids) await refreshRow(id, false);
        showBar(fill(bar.dataset.undone, Object.keys(out.restored).length), "info");
      } catch (err) { showBar(bar.dataset.failed + ": " + err.message, "info"); }
    });
  }

  // checkboxes and bulk buttons
  const pickAll = document.getElementById("pick-all");
  const picked = () => rows().filter(r => r.querySelector("input.pick").checked).map(r => r.dataset.id);
  function updatePicked() {
    const n = picked().length;
    const out = document.getElementById("selected");
    if (out) out.textContent = n ? out.dataset.template.replace("{n}", n) : "";
    document.querySelectorAll("#bulk-confirm, #bulk-dismiss").forEach(b => { b.disabled = n === 0; });
  }
  if (pickAll) pickAll.addEventListener("change", () => {
    rows().forEach(r => { r.querySelector("input.pick").checked = pickAll.checked; });
    updatePicked();
  });
  tbody.addEventListener("change", e => { if (e.target.matches("input.pick")) updatePicked(); });
  document.querySelectorAll("#bulk-confirm, #bulk-dismiss").forEach(b => b.addEventListener("click", () => {
    const ids = picked();
    if (!ids.length || !bar) return;
    pending = { ids: ids, v: b.dataset.verdict };
    showBar(fill(bar.dataset.ask, ids.length, b.dataset.verdict), "ask");
    document.getElementById("bulk-ok").focus();
  }));

  // clicking a row opens it (but not when clicking the checkbox or a link)
  tbody.addEventListener("click", e => {
    if (e.target.closest("input, a, button")) return;
    const tr = e.target.closest("tr.ev");
    if (tr) window.location.href = tr.dataset.href + "?back=" + encodeURIComponent(location.search.slice(1));
  });

  document.addEventListener("keydown", async e => {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const rs = rows();
    if (e.key === "j") { select(current + 1); e.preventDefault(); }
    else if (e.key === "k") { select(current < 0 ? 0 : current - 1); e.preventDefault(); }
    else if (e.key === "Enter" && current >= 0 && rs[current]) {
      window.location.href = rs[current].dataset.href + "?back=" + encodeURIComponent(location.search.slice(1));
    } else if ((e.key === "c" || e.key === "d") && current >= 0 && rs[current]) {
      e.preventDefault();
      try { await verdict([rs[current].dataset.id], e.key === "c" ? "confirmed" : "dismissed"); }
      catch (err) { if (bar) showBar(bar.dataset.failed + ": " + err.message, "info"); else alert(err.message); }
    }
  });

  // live updates: new events appear at the top of page 1 when they match the filters
  const live = document.getElementById("live");
  const f = table.dataset;
  function matches(ev) {
    if (f.filterCamera && ev.camera_id !== f.filterCamera && ev.source_id !== f.filterCamera) return false;
    if (f.filterPost && ev.post_id !== f.filterPost) return false;
    if (f.filterRule && ev.rule_id !== f.filterRule) return false;
    if (f.filterSeverity && ev.severity !== f.filterSeverity) return false;
    if (f.filterVerdict && f.filterVerdict !== "none") return false;
    return true;
  }
  function onFeed(msg) {
    let data;
    try { data = JSON.parse(msg.data); } catch (_) { return; }
    const ev = data && (data.event || data);
    const id = ev && ev.event_id;
    if (!id) return;
    markPush();
    const exists = tbody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
    if (exists) { refreshRow(id, false); return; }
    if (f.page !== "1" || !matches(ev) || new URLSearchParams(location.search).get("until")) return;
    refreshRow(id, true, 3).then(tr => { if (tr) { const c = document.getElementById("count-n"); if (c) c.textContent = String(+c.textContent + 1); } });
  }
  // the indicator says what the feed really does: connecting, on (with the last push), reconnecting, or off
  let lastPush = null;
  function setLive(state) {
    if (!live) return;
    live.dataset.state = state;
    let text = live.dataset[state === "on" ? "on" : state === "retry" ? "retry" : state === "off" ? "off" : "connecting"];
    if (state === "on" && lastPush) text += " · " + live.dataset.last.replace("{t}", lastPush);
    live.textContent = text;
  }
  function markPush() {
    lastPush = new Date().toTimeString().slice(0, 8);
    if (live && live.dataset.state === "on") setLive("on");
  }
  if (live && !f.liveMode) setLive("off");  // no alert bus in this process: nothing is ever pushed
  else if (window.EventSource && live) {
    const q = new URLSearchParams();
    if (f.filterCamera) q.set("camera", f.filterCamera);
    if (f.filterPost) q.set("post", f.filterPost);
    if (f.filterRule) q.set("rule", f.filterRule);
    const es = new EventSource("/api/events/stream" + (q.toString() ? "?" + q : ""));
    es.onopen = () => setLive("on");
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) { setLive("off"); es.close(); } else setLive("retry");
    };
    es.onmessage = onFeed;
    ["alert", "event", "start", "update", "end"].forEach(name => es.addEventListener(name, onFeed));
  }
})();
