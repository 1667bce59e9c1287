// Dataset and model search (server-side: /api/search/datasets, /api/search/models), one page of
// results at a time with Previous / Next, on the project page (that project) and on the
// project list (every project of the user). Results and counts are announced (aria-live).
"use strict";

(() => {
  const PAGE = 10;
  const node = (tag, attrs = {}, ...children) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") n.textContent = v; else n.setAttribute(k, v);
    }
    n.append(...children);
    return n;
  };
  const anchor = (href, text) => node("a", { href, text: String(text) });
  const splits = (d) => Object.entries(d.stats.splits || {}).map(([k, v]) => `${k} ${v}`).join(", ");

  const KINDS = {
    datasets: {
      endpoint: "/api/search/datasets",
      cells: (d, inProject) => [anchor(`/datasets/${d.id}`, d.name), inProject ? d.source : anchor(`/projects/${d.project_id}`, d.project_name),
        inProject ? String(d.stats.samples) : d.project_task, inProject ? splits(d) : String(d.stats.samples)],
    },
    models: {
      endpoint: "/api/search/models",
      cells: (w, inProject) => inProject
        ? [anchor(`/weights/${w.id}`, w.name), w.origin, w.pretrained_on || "—",
          w.training_job_id ? anchor(`/jobs/${w.training_job_id}`, `training #${w.training_job_id}`) : "upload",
          anchor(`/api/weights/${w.id}/download`, "ONNX")]
        : [anchor(`/weights/${w.id}`, w.name), anchor(`/projects/${w.project_id}`, w.project_name), w.family || "—", w.origin],
    },
  };

  // Wire one search form to its table: typing (debounced) or Enter searches, the pager pages.
  const wire = (form) => {
    const kind = KINDS[form.dataset.search];
    const table = document.getElementById(form.dataset.table);
    const status = form.querySelector("[role=status]");
    const prev = form.querySelector("button[data-page=prev]");
    const next = form.querySelector("button[data-page=next]");
    const project = document.body.dataset.project;
    let offset = 0, timer = null, seq = 0;
    const run = async () => {
      const mine = ++seq;
      const q = form.q.value.trim();
      const params = new URLSearchParams({ q, limit: PAGE, offset });
      if (project) params.set("project_id", project);
      const res = await fetch(`${kind.endpoint}?${params}`, { credentials: "same-origin" });
      const out = await res.json();
      if (mine !== seq) return;  // a newer search answered first
      if (!res.ok) { status.textContent = out.detail || res.statusText; return; }
      const cols = table.querySelectorAll("thead th").length;
      const rows = out.items.map((item) => node("tr", {}, ...kind.cells(item, Boolean(project)).map((c) => node("td", {}, c))));
      if (!rows.length) {
        const empty = q ? `Nothing matches “${q}”.` : table.dataset.empty || "Nothing here yet.";
        rows.push(node("tr", { class: "empty" }, node("td", { colspan: cols, text: empty })));
      }
      table.querySelector("tbody").replaceChildren(...rows);
      table.hidden = false;
      const last = Math.min(out.total, offset + out.items.length);
      status.textContent = out.total ? `${offset + 1}–${last} of ${out.total}` : "0 results";
      prev.disabled = offset === 0;
      next.disabled = last >= out.total;
    };
    form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; run(); });
    // app.js holds every form's submit button until a handler is attached: this one now is
    for (const b of form.querySelectorAll("button[data-init-wait]")) { b.disabled = false; b.removeAttribute("data-init-wait"); }
    form.q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; run(); }, 250); });
    prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); run(); });
    next.addEventListener("click", () => { offset += PAGE; run(); });
    form.dhSearch = run;
    run();
  };
  window.dhRefreshSearch = () => document.querySelectorAll("form[data-search]").forEach((f) => f.dhSearch && f.dhSearch());
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("form[data-search]").forEach(wire));
})();
