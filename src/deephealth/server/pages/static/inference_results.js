// Inference job page: once a classification inference has finished, its first predictions with
// the Grad-CAM heat map of the predicted class over each image (wrong ones marked).
"use strict";

(() => {
  const page = document.body.dataset;
  if (page.page !== "job" || page.kind !== "inference") return;
  const q = (sel) => document.querySelector(sel);
  const SHOWN = 12;

  async function get(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) return null;
    return res.json();
  }

  async function show() {
    const job = await get(`/api/jobs/${page.job}`);
    if (!job || job.config.task !== "classification") return;
    if (job.status !== "finished") { setTimeout(show, 2000); return; }
    const data = await get(`/api/jobs/${page.job}/files/predictions.json`);
    if (!data) return;
    const method = q("#explain-method").value;
    const box = q("#explained-predictions");
    box.replaceChildren(...data.predictions.slice(0, SHOWN).map((p) => {
      const fig = document.createElement("figure");
      const wrong = p.labels && p.labels.length && p.labels[0] !== p.label;
      fig.className = wrong ? "explained wrong" : "explained";
      const img = document.createElement("img");
      img.loading = "lazy";
      img.width = 192;
      img.alt = `${method} of sample ${p.index}`;
      img.src = `/api/jobs/${page.job}/samples/${p.index}/explanation?method=${method}`;
      const cap = document.createElement("figcaption");
      const truth = p.labels && p.labels.length ? p.labels[0] : "?";
      cap.textContent = `#${p.index}: predicted ${p.label}, true ${truth}${wrong ? " (wrong)" : ""}`;
      if (wrong) { cap.style.color = "#b3261e"; cap.style.fontWeight = "bold"; }
      fig.append(img, cap);
      return fig;
    }));
    q("#inference-results").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!q("#inference-results")) return;
    q("#explain-method").addEventListener("change", show);
    show();
  });
})();
