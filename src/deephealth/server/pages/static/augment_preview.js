// Live augmentation preview on the dataset page: editing an augmentation text shows N random
// draws on a chosen sample (image and image + ground-truth mask), or the parser's error.
"use strict";

(() => {
  const page = document.body.dataset;
  if (page.page !== "dataset") return;
  const q = (sel) => document.querySelector(sel);
  const token = () => q('meta[name="csrf-token"]').content;
  let timer = null;
  let seq = 0;

  function picture(b64, alt) {
    const img = document.createElement("img");
    img.src = `data:image/png;base64,${b64}`;
    img.alt = alt;
    return img;
  }

  async function preview(text) {
    const box = q("#aug-preview");
    const msg = q("#aug-preview-msg");
    const mine = ++seq;
    const body = {
      text,
      index: parseInt(q("#aug-preview-index").value || "0", 10),
      n: parseInt(q("#aug-preview-n").value || "4", 10),
      seed: parseInt(q("#aug-preview-seed").value || "0", 10),
    };
    const res = await fetch(`/api/datasets/${page.dataset}/augmentation-preview`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token() },
      body: JSON.stringify(body),
    });
    const out = await res.json();
    if (mine !== seq) return; // a newer edit already asked
    if (!res.ok) {
      msg.textContent = typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail);
      msg.className = "msg error";
      return;
    }
    msg.textContent = `${out.draws.length} draws of sample ${out.index} in ${out.elapsed_ms} ms`;
    msg.className = "msg ok";
    box.replaceChildren(...out.draws.map((d, k) => {
      const fig = document.createElement("figure");
      fig.className = "aug-draw";
      fig.append(picture(d.image, `draw ${k + 1}`));
      if (d.mask) fig.append(picture(d.mask, `draw ${k + 1} with its mask`));
      const cap = document.createElement("figcaption");
      cap.textContent = `draw ${k + 1}`;
      fig.append(cap);
      return fig;
    }));
  }

  function schedule(text) {
    clearTimeout(timer);
    timer = setTimeout(() => preview(text).catch((e) => { q("#aug-preview-msg").textContent = e.message; }), 250);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const areas = [...document.querySelectorAll(".aug-form textarea")];
    let last = areas[0];
    for (const area of areas) {
      area.addEventListener("input", () => { last = area; schedule(area.value); });
      area.addEventListener("focus", () => { last = area; schedule(area.value); });
    }
    for (const id of ["#aug-preview-index", "#aug-preview-n", "#aug-preview-seed"]) {
      q(id).addEventListener("change", () => schedule(last ? last.value : ""));
    }
    q("#aug-preview-again").addEventListener("click", () => {
      const seed = q("#aug-preview-seed");
      seed.value = String(parseInt(seed.value || "0", 10) + 100);
      schedule(last ? last.value : "");
    });
  });
})();
