// Recordings pages: the recordings dataset page (table of recordings, augmentations), the trace
// page of one recording (static/trace.js) with its events, and, on the model page of a signal
// model, inference on an uploaded recording (events table + trace with the predicted events).
"use strict";

(() => {
  const page = document.body.dataset;
  const q = (sel) => document.querySelector(sel);
  const headers = () => ({ "X-CSRF-Token": q('meta[name="csrf-token"]').content });

  async function getJSON(url, opts = {}) {
    const res = await fetch(url, { credentials: "same-origin", ...opts });
    const out = await res.json();
    if (!res.ok) throw new Error(typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail));
    return out;
  }

  function cell(row, value) {
    const td = document.createElement("td");
    if (value instanceof Node) td.append(value); else td.textContent = value;
    row.append(td);
  }

  function duration(s) { return window.DHTrace ? window.DHTrace.fmtTime(s, 1) : `${s.toFixed(0)} s`; }

  function fmtSeconds(s) {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.round(s % 60);
    return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${s.toFixed(1)} s`;
  }

  function eventsTable(tbody, events, viewer) {
    tbody.replaceChildren();
    for (const e of events) {
      const tr = document.createElement("tr");
      cell(tr, duration(e.onset));
      cell(tr, (e.duration ?? (e.end - e.onset)).toFixed(2));
      cell(tr, e.label);
      cell(tr, e.source || "prediction");
      const b = document.createElement("button");
      b.type = "button"; b.textContent = "show";
      const d = e.duration ?? (e.end - e.onset);
      b.addEventListener("click", () => viewer.go(e.onset - Math.max(5, d), d + 2 * Math.max(5, d)));
      cell(tr, b);
      tbody.append(tr);
    }
  }

  async function recordingsPage() {
    const out = await getJSON(`/api/datasets/${page.dataset}/recordings`);
    const tbody = q("#recordings tbody");
    for (const r of out.recordings) {
      const tr = document.createElement("tr");
      const a = document.createElement("a");
      a.href = `/datasets/${page.dataset}/recordings/${r.index}`; a.textContent = r.name;
      cell(tr, String(r.index)); cell(tr, a); cell(tr, r.patient || "—"); cell(tr, r.split || "—");
      cell(tr, `${r.channels.length}: ${r.channels.slice(0, 8).join(", ")}${r.channels.length > 8 ? ", …" : ""}`);
      cell(tr, r.fs.join(", ")); cell(tr, fmtSeconds(r.duration_s));
      cell(tr, Object.entries(r.annotations).map(([k, v]) => `${k}: ${v}`).join(", ") || "—");
      tbody.append(tr);
    }
    const augs = await getJSON(`/api/datasets/${page.dataset}/augmentations`);
    for (const form of document.querySelectorAll(".aug-form")) {
      form.text.value = augs[form.dataset.split] || "";
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const msg = form.querySelector(".msg");
        try {
          await getJSON(`/api/datasets/${page.dataset}/augmentations/${form.dataset.split}`, {
            method: "PUT", headers: { ...headers(), "Content-Type": "application/json" },
            body: JSON.stringify({ text: form.text.value }),
          });
          msg.textContent = "saved";
        } catch (err) { msg.textContent = err.message; }
      });
    }
  }

  async function tracePage() {
    const out = await getJSON(`/api/datasets/${page.dataset}/recordings`);
    const rec = out.recordings[Number(page.index)];
    if (!rec) { q("#trace-info").textContent = "no such recording"; return; }
    q("#trace-title").textContent = rec.name;
    q("#trace-info").textContent = `${rec.channels.length} channels at ${rec.fs.join(", ")} Hz · ` +
      `${fmtSeconds(rec.duration_s)} · patient ${rec.patient || "—"} · split ${rec.split || "—"}`;
    const root = q("#trace");
    // ?job=ID: the events an inference job detected are drawn too (source "prediction")
    const job = new URLSearchParams(location.search).get("job");
    const base = /^\d+$/.test(job || "") ? `/api/jobs/${job}/recordings/${page.index}/trace`
      : `/api/datasets/${page.dataset}/recordings/${page.index}/trace`;
    const viewer = window.DHTrace.mount(root, {
      duration: rec.duration_s,
      url: (s, e, w) => `${base}?start=${s}&end=${e}&width=${w}`,
    });
    let filled = false;
    root.addEventListener("trace:drawn", (ev) => {
      if (filled) return;
      filled = true; // the first view is the whole recording: every event
      eventsTable(q("#trace-events tbody"), ev.detail.annotations, viewer);
    });
  }

  async function weightsPage() {
    const section = q("#recording-infer");
    if (!section) return;
    const info = await getJSON(`/api/weights/${page.weights}/signal`);
    if (!info.signal) return;
    section.hidden = false;
    // the image form and result cards are for image models (inline style: their CSS sets display);
    // "Run on a dataset split" stays: on a recordings dataset it detects events per recording
    const cards = q("#overlay") && q("#overlay").closest("section");
    for (const node of [q("#infer-form"), cards]) if (node) node.style.display = "none";
    const form = q("#recording-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const msg = q("#recording-msg");
      msg.textContent = "running…";
      const data = new FormData();
      data.append("file", form.file.files[0]);
      try {
        const r = await getJSON(`/api/weights/${page.weights}/recordings`, { method: "POST", headers: headers(), body: data });
        msg.textContent = `${r.events.length} event(s) in ${fmtSeconds(r.duration_s)} (${r.windows} windows; classes ${r.classes.join(", ")})`;
        const viewer = window.DHTrace.mount(q("#recording-trace"), {
          duration: r.duration_s,
          url: (s, e, w) => `/api/recording-results/${r.token}/trace?start=${s}&end=${e}&width=${w}`,
        });
        eventsTable(q("#recording-events tbody"), r.events.map((e) => ({ ...e, source: "prediction" })), viewer);
        q("#recording-events").hidden = false;
      } catch (err) { msg.textContent = err.message; }
    });
  }

  const pages = { recordings: recordingsPage, trace: tracePage, weights: weightsPage };
  document.addEventListener("DOMContentLoaded", async () => {
    try { if (pages[page.page]) await pages[page.page](); } catch (err) {
      const f = q("#flash"); f.textContent = err.message; f.hidden = false;
    }
  });
})();
