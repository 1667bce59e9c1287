// Project page: the job list with filters and progress, and the comparison of two or more
// trainings (their curves on shared axes and their KPIs side by side).
"use strict";

(() => {
  const page = document.body.dataset;
  if (page.page !== "project") return;
  const q = (sel) => document.querySelector(sel);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#0b6fb8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#8d6e63", "#00798c", "#edae49"];

  async function get(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    const out = await res.json();
    if (!res.ok) throw new Error(typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail));
    return out;
  }

  function cell(content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content); else td.textContent = content;
    return td;
  }

  async function loadList() {
    const status = q("#job-filter-status").value;
    const kind = q("#job-filter-kind").value;
    const rows = await get(`/api/projects/${page.project}/job-list?status=${status}&kind=${kind}`);
    const body = q("#job-list tbody");
    if (!rows.length) {
      const td = cell("No job matches these filters.");
      td.colSpan = 7;
      const tr = document.createElement("tr"); tr.append(td); body.replaceChildren(tr);
      return;
    }
    const checked = new Set([...document.querySelectorAll("#job-list input:checked")].map((c) => c.value));
    body.replaceChildren(...rows.map((j) => {
      const box = document.createElement("input");
      box.type = "checkbox"; box.value = j.id; box.disabled = j.kind !== "training";
      box.checked = checked.has(String(j.id));
      box.setAttribute("aria-label", `compare job ${j.id}`);
      const a = document.createElement("a"); a.href = `/jobs/${j.id}`; a.textContent = `#${j.id}`;
      const p = j.progress;
      const bar = document.createElement("progress");
      if (p && p.epochs) { bar.max = p.epochs; bar.value = p.epoch; bar.title = `epoch ${p.epoch} of ${p.epochs}`; }
      else if (j.status === "finished") { bar.max = 1; bar.value = 1; }
      const tr = document.createElement("tr");
      tr.append(cell(box), cell(a), cell(j.kind), cell(j.status), cell(bar), cell(j.family || "—"), cell(j.device || "—"));
      return tr;
    }));
  }

  function chart(runs, key, pick) {
    const W = 360, H = 200, L = 40, B = 24;
    const series = runs.map((r) => r.epochs.map((e) => [e.epoch, pick(e)]).filter(([, v]) => typeof v === "number"));
    const all = series.flat();
    if (!all.length) return null;
    const xs = all.map(([x]) => x), ys = all.map(([, y]) => y);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(...ys), y1 = Math.max(...ys, y0 + 1e-9);
    const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - 8), sy = (y) => H - B - (y - y0) / (y1 - y0) * (H - B - 8);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("width", W); svg.setAttribute("height", H);
    svg.setAttribute("role", "img"); svg.setAttribute("aria-label", key);
    const text = (x, y, s, anchor = "start") => {
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", "10"); t.setAttribute("text-anchor", anchor);
      t.textContent = s; svg.append(t);
    };
    text(L, 10, key); text(2, sy(y1) + 4, y1.toPrecision(3)); text(2, sy(y0), y0.toPrecision(3));
    text(W - 8, H - 6, `epoch ${x1}`, "end");
    series.forEach((pts, k) => {
      if (!pts.length) return;
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", pts.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(""));
      path.setAttribute("fill", "none"); path.setAttribute("stroke", COLORS[k % COLORS.length]); path.setAttribute("stroke-width", "2");
      path.dataset.run = runs[k].id;
      svg.append(path);
    });
    const fig = document.createElement("figure"); fig.className = "card"; fig.append(svg);
    return fig;
  }

  async function compareSelected() {
    const ids = [...document.querySelectorAll("#job-list input:checked")].map((c) => c.value);
    const out = q("#comparison");
    const msg = q("#compare-msg");
    if (ids.length < 2) { msg.textContent = "Select two or more trainings to compare."; return; }
    const { runs } = await get(`/api/projects/${page.project}/compare?jobs=${ids.join(",")}`);
    msg.textContent = "";
    const legend = document.createElement("p");
    runs.forEach((r, k) => {
      const s = document.createElement("span"); s.className = "legend";
      s.style.color = COLORS[k % COLORS.length];
      s.textContent = `■ #${r.id} ${r.family || ""} (lr ${r.hyperparameters.lr ?? "?"}, ${r.hyperparameters.optimizer ?? ""}) `;
      legend.append(s);
    });
    const charts = document.createElement("div"); charts.className = "cards";
    const keys = new Set();
    runs.forEach((r) => r.epochs.forEach((e) => Object.keys(e.val_metrics).forEach((k) => keys.add(k))));
    const figs = [chart(runs, "training loss", (e) => e.loss),
      ...[...keys].map((k) => chart(runs, `validation ${k}`, (e) => e.val_metrics[k]))].filter(Boolean);
    charts.append(...figs);
    const table = document.createElement("table"); table.className = "list"; table.id = "compare-kpis";
    const head = document.createElement("tr");
    head.append(cell("KPI"), ...runs.map((r) => cell(`#${r.id}`)));
    const kpiKeys = [...new Set(runs.flatMap((r) => Object.keys(r.kpis)))];
    const fmt = (v) => (typeof v === "number" ? v.toPrecision(4) : v == null ? "—" : String(v));
    table.append(head, ...kpiKeys.map((k) => {
      const tr = document.createElement("tr");
      tr.append(cell(k), ...runs.map((r) => cell(fmt(r.kpis[k]))));
      return tr;
    }));
    out.replaceChildren(legend, charts, kpiKeys.length ? table : document.createTextNode("No KPI report yet."));
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!q("#job-list")) return;
    for (const id of ["#job-filter-status", "#job-filter-kind"]) q(id).addEventListener("change", () => loadList());
    q("#compare-button").addEventListener("click", () => compareSelected().catch((e) => { q("#compare-msg").textContent = e.message; }));
    loadList();
    setInterval(loadList, 5000);
  });
})();
