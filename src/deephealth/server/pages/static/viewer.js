// The sample viewer page: asks the API which viewer the sample needs, then starts it
// (viewer-volume.js: NiiVue; viewer-slide.js: OpenSeadragon; viewer-image.js: 2D).
"use strict";

window.dhViewerTools = {
  control(label, input) {
    const wrap = document.createElement("label");
    wrap.append(label + " ", input);
    document.getElementById("viewer-tools").append(wrap);
    return input;
  },
  select(label, id, options) {
    const s = document.createElement("select");
    s.id = id;
    for (const [value, text] of options) {
      const o = document.createElement("option");
      o.value = value; o.textContent = text; s.append(o);
    }
    return this.control(label, s);
  },
  range(label, id, min, max, step, value) {
    const r = document.createElement("input");
    Object.assign(r, { type: "range", id, min, max, step, value });
    return this.control(label, r);
  },
  status(text) { document.getElementById("viewer-status").textContent = text; },
};

document.addEventListener("DOMContentLoaded", async () => {
  const { viewUrl } = document.body.dataset;
  const box = document.getElementById("viewer");
  try {
    const job = new URLSearchParams(location.search).get("job");  // an inference job's boxes
    const res = await fetch(`${viewUrl}${job ? `?job=${encodeURIComponent(job)}` : ""}`,
      { credentials: "same-origin" });
    const view = await res.json();
    if (!res.ok) throw new Error(view.detail || res.statusText);
    document.getElementById("viewer-kind").textContent = view.kind;
    document.getElementById("viewer-labels").textContent = view.labels.join(", ");
    const start = { volume: window.dhVolumeViewer, slide: window.dhSlideViewer, image: window.dhImageViewer }[view.kind];
    window.dhViewer = await start(box, view);
  } catch (err) {
    const flash = document.getElementById("flash");
    flash.textContent = err.message; flash.hidden = false;
  }
});
