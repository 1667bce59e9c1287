// Inference job page, signal models on a recordings dataset: the split's window and event metrics,
// then per recording its detected events (onset, duration, label, score) and true annotations,
// each recording linked to the trace viewer with the predicted events drawn as bands.
"use strict";

(() => {
  const page = document.body.dataset;
  if (page.page !== "job" || page.kind !== "inference") return;
  const q = (sel) => document.querySelector(sel);
  const METRICS = [
    ["event_sensitivity", "event sensitivity"], ["false_alarms_per_24h", "false alarms / 24 h"],
    ["latency_mean_s", "mean detection latency (s)"], ["accuracy", "window accuracy"],
    ["sensitivity", "window sensitivity"], ["specificity", "window specificity"],
    ["roc_auc", "window AUC"], ["recordings", "recordings"], ["hours", "hours"],
  ];

  async function get(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    return res.ok ? res.json() : null;
  }

  function el(tag, text, attrs = {}) {
    const n = document.createElement(tag);
    if (text !== undefined) n.textContent = text;
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "—";
    return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : String(v);
  }

  function time(s) { return window.DHTrace ? window.DHTrace.fmtTime(s, 1) : `${s.toFixed(1)} s`; }

  function eventsTable(events, source) {
    const table = el("table", undefined, { class: "list signal-events" });
    table.append(el("thead"));
    table.tHead.append(el("tr"));
    for (const h of ["onset (s)", "duration (s)", "label", "score", "source"]) table.tHead.rows[0].append(el("th", h));
    const body = el("tbody");
    for (const e of events) {
      const tr = el("tr");
      for (const v of [e.onset.toFixed(3), e.duration.toFixed(3), e.label, e.score === undefined ? "—" : e.score.toFixed(3), source]) tr.append(el("td", v));
      body.append(tr);
    }
    table.append(body);
    return table;
  }

  async function show() {
    const job = await get(`/api/jobs/${page.job}`);
    if (!job || job.config.task !== "signal_classification") return;
    if (job.status !== "finished") { if (!["failed", "cancelled", "interrupted"].includes(job.status)) setTimeout(show, 2000); return; }
    const data = await get(`/api/jobs/${page.job}/files/predictions.json`);
    if (!data) return;
    const s = data.summary;
    const metrics = q("#signal-metrics tbody");
    metrics.replaceChildren(...METRICS.filter(([k]) => k in s).map(([k, name]) => {
      const tr = el("tr"); tr.append(el("td", name), el("td", fmt(s[k]))); return tr;
    }));
    const box = q("#signal-recordings");
    box.replaceChildren(...data.predictions.map((r) => {
      const card = el("div", undefined, { class: "card signal-recording", "data-index": r.index });
      const h = el("h3");
      const a = el("a", r.name, { href: `/datasets/${job.dataset_id}/recordings/${r.index}?job=${page.job}` });
      h.append(a, el("small", ` · ${time(r.duration_s)} · ${r.events.length} detected, ${r.annotations.length} annotated`));
      card.append(h, eventsTable(r.events, "prediction"));
      if (r.annotations.length) card.append(eventsTable(r.annotations, "annotation"));
      return card;
    }));
    q("#signal-results").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => { if (q("#signal-results")) show(); });
})();
