// Explanations on the model page: after "Run inference", the chosen method's heat map of the
// predicted class (Grad-CAM, integrated gradients or occlusion) is shown beside the prediction.
"use strict";

(() => {
  const page = document.body.dataset;
  if (page.page !== "weights") return;
  const q = (sel) => document.querySelector(sel);

  async function explain(form) {
    const method = form.explain.value;
    const img = q("#explanation");
    if (!method || !form.file.files[0]) { img.hidden = true; return; }
    const data = new FormData();
    data.append("file", form.file.files[0]);
    const res = await fetch(`/api/v1/predict/${page.weights}?explain=${encodeURIComponent(method)}`, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": q('meta[name="csrf-token"]').content },
    });
    const msg = q("#explanation-msg");
    if (!res.ok) {
      const out = await res.json();
      msg.textContent = typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail);
      img.hidden = true;
      return;
    }
    msg.textContent = decodeURIComponent(res.headers.get("X-Explanation") || "");
    img.src = URL.createObjectURL(await res.blob());
    img.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const form = q("#infer-form");
    if (!form) return;
    form.addEventListener("submit", () => { explain(form); });
    const res = await fetch(`/api/projects/${page.project}`, { credentials: "same-origin" });
    if (res.ok && (await res.json()).task !== "classification") {
      form.explain.value = ""; // explanations are for classifiers
      form.explain.closest("label").hidden = true;
    }
  });
})();
