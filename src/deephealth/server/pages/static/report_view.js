// Report generation views. Job page (inference): each sample's image with its generated report
// and, when the dataset has one, the true report (GET /api/jobs/{id}/reports). Model page: after
// "Run inference" with a report generator, the uploaded image beside the generated report text.
"use strict";

(() => {
  const page = document.body.dataset;
  const q = (sel) => document.querySelector(sel);
  const make = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  function figure(src, alt, report, truth, findings) {
    const fig = make("figure", "report-figure");
    const img = make("img");
    img.alt = alt; img.width = 192; img.loading = "lazy";
    if (src) img.src = src;
    const cap = make("figcaption");
    cap.append(make("p", "generated-report", report || "(empty report)"));
    if (findings && findings.length) cap.append(make("p", "report-findings", `Findings: ${findings.join(", ")}`));
    if (truth) cap.append(make("p", "true-report", `True: ${truth}`));
    fig.append(img, cap);
    return fig;
  }

  async function jobReports() {
    const res = await fetch(`/api/jobs/${page.job}/reports`, { credentials: "same-origin" });
    if (res.status === 409) { setTimeout(jobReports, 2000); return; }
    if (!res.ok) return;
    const data = await res.json();
    q("#generated-reports").replaceChildren(...data.reports.map((r) =>
      figure(r.image, `sample ${r.index}`, r.report, r.true_report, r.findings)));
    q("#report-results").hidden = false;
  }

  function modelReport() {
    const out = q("#prediction");
    const form = q("#infer-form");
    new MutationObserver(() => {
      let json;
      try { json = JSON.parse(out.textContent); } catch { return; }
      const view = q("#report-view");
      if (!json || json.task !== "report_generation") { view.hidden = true; return; }
      const file = form.file.files[0];
      const src = file ? URL.createObjectURL(file) : null;
      view.replaceChildren(make("h2", "", "Generated report"),
        figure(src, "uploaded image", json.report, null, json.findings));
      view.hidden = false;
    }).observe(out, { childList: true, characterData: true, subtree: true });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (page.page === "job" && page.kind === "inference" && q("#report-results")) jobReports();
    if (page.page === "weights" && q("#report-view")) modelReport();
  });
})();
