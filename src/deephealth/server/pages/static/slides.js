// Whole-slide projects: the tiling settings of the training form (project page) and the test
// slides of a finished slide training with links to the viewer and its heat maps (job page).
"use strict";

// The `slide` part of a training request, read from the form's "Tissue and tiles" fieldset.
window.dhSlideSettings = (form) => {
  if (!form.slide_size) return null;
  const settings = {
    size: parseInt(form.slide_size.value, 10),
    overlap: parseInt(form.slide_overlap.value, 10),
    min_tissue: parseFloat(form.slide_min_tissue.value),
    aggregate: form.slide_aggregate.value,
  };
  const value = parseFloat(form.slide_resolution_value.value);
  const kind = form.slide_resolution.value;
  if (kind === "level") settings.level = Number.isFinite(value) ? Math.round(value) : 0;
  else if (value > 0) settings[kind] = value;
  return settings;
};

document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("slide-results");
  if (!section) return;
  const id = document.body.dataset.job;
  const cell = (content) => {
    const td = document.createElement("td");
    td.append(content);
    return td;
  };
  let shown = "";
  let asked = 0;  // answers to older requests (an earlier status) are dropped
  const load = async () => {
    const status = document.getElementById("status").textContent.trim();
    if (status === shown) return;
    shown = status;
    const mine = ++asked;
    const res = await fetch(`/api/jobs/${id}/slides`, { credentials: "same-origin" });
    if (!res.ok || mine !== asked) return;  // not a slide training, or a newer request is out
    const out = await res.json();
    if (mine !== asked) return;
    const rows = out.slides.map((s) => {
      const tr = document.createElement("tr");
      let scores = s.scores ? Object.entries(s.scores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ") : "—";
      if (typeof s.dice === "number") scores = `Dice ${s.dice.toFixed(3)}; ${scores}`;  // patch segmentation
      const a = document.createElement("a");
      Object.assign(a, { href: s.page, textContent: s.maps.length ? "open with heat maps" : "open" });
      tr.append(cell(s.name), cell(s.true || "—"), cell(s.label || "—"), cell(scores),
        cell(s.tiles === null || s.tiles === undefined ? "—" : String(s.tiles)), cell(a));
      return tr;
    });
    section.querySelector("tbody").replaceChildren(...rows);
    section.hidden = false;
  };
  load();
  new MutationObserver(load).observe(document.getElementById("status"), { childList: true, characterData: true, subtree: true });
});
