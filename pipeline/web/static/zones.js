// Zone editor: polygons in normalised 0..1 coordinates drawn over the camera picture.
// Drag a point, add/remove points, or type coordinates; Save sends them to /api/zones/<camera>.
(function () {
  "use strict";
  const root = document.getElementById("zone-editor");
  if (!root) return;
  const cam = root.dataset.camera;
  const L = JSON.parse(root.dataset.labels);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const svg = document.getElementById("zone-svg");
  const img = document.getElementById("zone-bg");
  const sel = document.getElementById("zone-select");
  const tbody = document.querySelector("#points tbody");
  const status = document.getElementById("zone-status");
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = { seat: "#4fc3f7", desk: "#ffb74d", customer: "#81c784", waiting: "#ba68c8", staff_area: "#e57373" };
  let W = 1600, H = 900, zones = [], active = 0, vertex = 0, sha = null, drag = null;

  function load() {
    return fetch("/api/zones/" + encodeURIComponent(cam), { credentials: "same-origin" }).then(r => {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(data => {
      sha = data.sha256;
      zones = [];
      data.posts.forEach(p => ["seat", "desk", "customer"].forEach(kind => {
        if (p[kind]) zones.push({ post: p.id, kind: kind, label: p.id + " · " + L[kind], points: p[kind] });
      }));
      ["waiting", "staff_area"].forEach(kind => data[kind].forEach((poly, i) =>
        zones.push({ post: null, kind: kind, index: i, label: L[kind] + " " + (i + 1), points: poly })));
      sel.innerHTML = "";
      zones.forEach((z, i) => { const o = document.createElement("option"); o.value = i; o.textContent = z.label; sel.appendChild(o); });
      active = Math.min(active, Math.max(0, zones.length - 1));
      sel.value = active;
      draw();
    });
  }

  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
    return e;
  }

  function draw() {
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.innerHTML = "";
    zones.forEach((z, i) => {
      const pts = z.points.map(p => (p[0] * W).toFixed(1) + "," + (p[1] * H).toFixed(1)).join(" ");
      const poly = el("polygon", { points: pts, stroke: COLORS[z.kind], fill: COLORS[z.kind], "data-zone": i });
      if (i === active) poly.classList.add("active");
      poly.addEventListener("pointerdown", e => { if (i !== active) { e.stopPropagation(); setActive(i); } });
      svg.appendChild(poly);
      const lx = Math.min(...z.points.map(p => p[0])) * W + 4, ly = Math.min(...z.points.map(p => p[1])) * H + 16;
      const label = el("text", { x: lx, y: ly });
      label.textContent = z.label;
      svg.appendChild(label);
    });
    const z = zones[active];
    if (z) z.points.forEach((p, k) => {
      const c = el("circle", { cx: p[0] * W, cy: p[1] * H, r: Math.max(6, W / 160), stroke: COLORS[z.kind], "data-vertex": k });
      if (k === vertex) c.classList.add("sel");
      c.addEventListener("pointerdown", e => {
        e.preventDefault(); e.stopPropagation();
        vertex = k; drag = { k: k }; svg.setPointerCapture(e.pointerId); draw();
      });
      svg.appendChild(c);
    });
    table();
  }

  function table() {
    tbody.innerHTML = "";
    const z = zones[active];
    if (!z) return;
    z.points.forEach((p, k) => {
      const tr = document.createElement("tr");
      if (k === vertex) tr.className = "sel";
      const th = document.createElement("td"); th.textContent = k + 1; tr.appendChild(th);
      [0, 1].forEach(axis => {
        const td = document.createElement("td");
        const inp = document.createElement("input");
        Object.assign(inp, { type: "number", min: 0, max: 1, step: 0.001, value: p[axis].toFixed(4) });
        inp.setAttribute("aria-label", L.point + " " + (k + 1) + " " + (axis ? "y" : "x"));
        inp.dataset.vertex = k; inp.dataset.axis = axis;
        inp.addEventListener("focus", () => { vertex = k; });
        inp.addEventListener("change", () => {
          const v = Math.max(0, Math.min(1, parseFloat(inp.value)));
          if (!isNaN(v)) { z.points[k][axis] = v; vertex = k; draw(); }
        });
        td.appendChild(inp); tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function setActive(i) { active = i; vertex = 0; sel.value = i; draw(); }

  function toNorm(e) {
    const m = svg.getScreenCTM().inverse();
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(m);
    return [Math.max(0, Math.min(1, pt.x / W)), Math.max(0, Math.min(1, pt.y / H))];
  }
  svg.addEventListener("pointermove", e => {
    if (!drag) return;
    zones[active].points[drag.k] = toNorm(e).map(v => Math.round(v * 10000) / 10000);
    draw();
  });
  ["pointerup", "pointercancel"].forEach(n => svg.addEventListener(n, () => { drag = null; }));

  sel.addEventListener("change", () => setActive(parseInt(sel.value, 10)));
  document.getElementById("add-point").addEventListener("click", () => {
    const z = zones[active]; if (!z) return;
    const a = z.points[vertex], b = z.points[(vertex + 1) % z.points.length];
    z.points.splice(vertex + 1, 0, [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
    vertex += 1; draw();
  });
  document.getElementById("remove-point").addEventListener("click", () => {
    const z = zones[active]; if (!z || z.points.length <= 3) return;
    z.points.splice(vertex, 1); vertex = Math.max(0, vertex - 1); draw();
  });

  document.getElementById("save-zones").addEventListener("click", async () => {
    const posts = {};
    const body = { posts: [], waiting: [], staff_area: [], base_sha256: sha };
    zones.forEach(z => {
      if (z.post) { posts[z.post] = posts[z.post] || { id: z.post, seat: null, desk: null, customer: null }; posts[z.post][z.kind] = z.points; }
      else body[z.kind].push(z.points);
    });
    body.posts = Object.values(posts);
    status.className = "muted"; status.textContent = "…";
    const resp = await fetch("/api/zones/" + encodeURIComponent(cam), {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (resp.ok) {
      sha = data.sha256;
      status.className = "ok";
      status.textContent = L.saved + (data.backup ? " (" + data.backup + ")" : "")
        + (data.reloaded && data.reloaded.length ? " · " + L.reloaded + ": " + data.reloaded.join(", ") : "");
    } else {
      status.className = "error";
      const d = data.detail;
      status.textContent = L.save_failed + ": " + (Array.isArray(d) ? d.join("; ") : (d || resp.status));
    }
  });

  function sized() { if (img.naturalWidth) { W = img.naturalWidth; H = img.naturalHeight; } draw(); }
  img.addEventListener("load", sized);
  img.addEventListener("error", () => { status.textContent = L.no_background; img.style.aspectRatio = "16 / 9"; draw(); });
  load().then(() => { if (img.complete && img.naturalWidth) sized(); })
        .catch(err => { status.className = "error"; status.textContent = L.save_failed + ": " + err.message; });
})();
