// Clinical values in the front-end (issue 20): on a dataset page the feature schema, the feature
// table (per sample or per patient, paginated) and each feature's distribution per split (plain
// SVG: histograms for numbers and dates, bar counts for categories, missing counts); on a job
// page the KPIs of an image + clinical-values training (metrics, Kaplan-Meier curves of the
// predicted risk groups, ablation table, permutation importance); on a model page the inference
// fields generated from the feature schema, with the server's refusal shown next to its field.
// Uses app.js's helpers ($, el, api, body, COLORS).
"use strict";

(() => {
  const NS = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs = {}, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };
  const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));

  function allowed(spec) {
    if (spec.values && spec.values.length) return spec.values.join(", ");
    if (spec.min !== null || spec.max !== null) return `[${spec.min ?? "−∞"}, ${spec.max ?? "∞"}]`;
    return "";
  }

  // A histogram (numeric, date: `edges` and `counts`) or bar counts (categorical) of one split.
  function distributionChart(entry) {
    const svg = svgEl("svg", { class: "chart distribution", role: "img" });
    const W = 300, H = 150, L = 30, B = 34, T = 8;
    let labels, counts;
    if (entry.counts) {
      counts = entry.counts;
      labels = entry.edges.slice(0, -1).map(fmt);
    } else if (entry.categories) {
      labels = Object.keys(entry.categories); counts = Object.values(entry.categories);
    } else { labels = []; counts = []; }
    if (entry.missing) { labels = [...labels, "missing"]; counts = [...counts, entry.missing]; }
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const max = Math.max(1, ...counts);
    const w = (W - L - 4) / Math.max(1, counts.length);
    svg.append(svgEl("line", { x1: L, y1: H - B, x2: W - 4, y2: H - B, class: "axis" }));
    svg.append(svgEl("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(max)));
    counts.forEach((c, i) => {
      const h = ((H - B - T) * c) / max;
      const missing = entry.missing && i === counts.length - 1;
      const bar = svgEl("rect", { x: L + i * w + 1, y: H - B - h, width: Math.max(1, w - 2), height: h,
        fill: missing ? "#adb5bd" : "#0b6fb8", "data-label": labels[i], "data-count": c });
      bar.append(svgEl("title", {}, `${labels[i]}: ${c}`));
      svg.append(bar);
      if (!entry.edges || i === 0 || missing) {  // histograms: the first edge, then "to <last>"
        const x = L + i * w + w / 2;
        svg.append(svgEl("text", { x, y: H - B + 12, "text-anchor": "middle" }, labels[i].slice(0, 10)));
      }
    });
    if (entry.edges) {
      svg.append(svgEl("text", { x: W - 4, y: H - B + 26, "text-anchor": "end" }, `to ${fmt(entry.edges[entry.edges.length - 1])}`));
    }
    return svg;
  }

  async function datasetFeatures() {
    const id = body.dataset;
    const section = $("#features-section");
    const state = { offset: 0, limit: 20 };
    const first = await api("GET", `/api/datasets/${id}/features?limit=1`);
    if (!first.schema.length) return;
    section.hidden = false;
    $("#feature-schema tbody").replaceChildren(...first.schema.map((s) => el("tr", {},
      el("td", { text: s.name }), el("td", { text: s.type }), el("td", { text: s.role }),
      el("td", { text: s.unit || "" }), el("td", { text: allowed(s) }))));
    const loadPage = async () => {
      const level = $("#feature-level").value, split = $("#feature-split").value;
      const page = await api("GET", `/api/datasets/${id}/features?level=${level}&offset=${state.offset}` +
        `&limit=${state.limit}${split ? `&split=${encodeURIComponent(split)}` : ""}`);
      const key = level === "patient" ? ["patient", "samples"] : ["sample"];
      const ids = new Set(page.schema.filter((s) => s.type === "id").map((s) => s.name));
      const columns = level === "patient" ? page.columns.filter((c) => !ids.has(c)) : page.columns;
      $("#feature-table thead").replaceChildren(el("tr", {}, ...[...key, ...columns].map((c) => {
        const spec = page.schema.find((s) => s.name === c);
        return el("th", { text: spec && spec.unit ? `${c} (${spec.unit})` : c, title: spec ? `${spec.type}, ${spec.role}` : "" });
      })));
      $("#feature-table tbody").replaceChildren(...page.rows.map((r) => el("tr", {},
        ...(level === "patient" ? [r.patient, String(r.samples)] : [`#${r.index}`]).map((t) => el("td", { text: t })),
        ...columns.map((c) => el("td", r.values[c] === null ? { text: "—", class: "missing" } : { text: r.values[c] })))));
      const last = Math.min(page.total, state.offset + page.rows.length);
      $("#feature-page").textContent = `${page.total ? state.offset + 1 : 0}–${last} of ${page.total}`;
      $("#feature-prev").disabled = state.offset === 0;
      $("#feature-next").disabled = last >= page.total;
    };
    $("#feature-prev").addEventListener("click", async () => { state.offset = Math.max(0, state.offset - state.limit); await loadPage(); });
    $("#feature-next").addEventListener("click", async () => { state.offset += state.limit; await loadPage(); });
    for (const sel of ["#feature-level", "#feature-split"]) {
      $(sel).addEventListener("change", async () => { state.offset = 0; await loadPage(); });
    }
    const dist = await api("GET", `/api/datasets/${id}/features/distributions?bins=10`);
    const shown = dist.schema.filter((s) => s.type !== "id" && s.type !== "text");
    const pick = $("#distribution-feature");
    pick.replaceChildren(...shown.map((s) => el("option", { value: s.name, text: `${s.name} (${s.type})` })));
    const draw = () => {
      const name = pick.value;
      $("#distributions").replaceChildren(...Object.entries(dist.splits).map(([split, d]) => {
        const entry = d.features[name];
        return el("div", { class: "card", "data-split": split },
          el("h4", { text: `${split}: ${entry.present} values, ${entry.missing} missing` }), distributionChart(entry));
      }));
    };
    if (shown.length) {
      pick.addEventListener("change", draw);
      draw();
    } else {  // only text and identifier features (e.g. bare names without a schema): nothing to chart
      $("#distributions-part").replaceChildren(el("p", { class: "empty",
        text: "No numeric, date or categorical feature to chart: declare the features' types in the dataset file's schema (text features are listed in the table above)." }));
    }
    await loadPage();
  }

  // ---------- job page ----------
  const METRICS = ["r2", "mae", "rmse", "c_index", "td_auc", "accuracy", "balanced_accuracy", "roc_auc", "f1"];
  const LABELS = { r2: "R²", mae: "MAE", rmse: "RMSE", c_index: "C-index", td_auc: "time-dependent AUC",
    roc_auc: "ROC AUC", balanced_accuracy: "balanced accuracy", f1: "F1" };

  function kmChart(svg, groups) {
    const W = 600, H = 220, L = 48, B = 28, T = 10, R = 110;
    svg.replaceChildren();
    const tmax = Math.max(1e-9, ...groups.flatMap((g) => g.times));
    const sx = (t) => L + (t / tmax) * (W - R - L);
    const sy = (s) => H - B - s * (H - B - T);
    svg.append(svgEl("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
      svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
      svgEl("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, "1"),
      svgEl("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0"),
      svgEl("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, `time (0–${fmt(tmax)})`));
    groups.forEach((g, i) => {
      let d = `M${sx(0).toFixed(1)},${sy(1).toFixed(1)}`;
      g.times.forEach((t, j) => {  // a step function: across at the old level, then down
        const prev = j ? g.survival[j - 1] : 1;
        d += ` L${sx(t).toFixed(1)},${sy(prev).toFixed(1)} L${sx(t).toFixed(1)},${sy(g.survival[j]).toFixed(1)}`;
      });
      const color = COLORS[i % COLORS.length];
      svg.append(svgEl("path", { d, stroke: color, "data-series": g.group }),
        svgEl("text", { x: W - R + 6, y: T + 12 + i * 14, style: `fill:${color}` }, `${g.group} (n=${g.n})`));
    });
  }

  function showClinical(report) {
    const m = report.test_metrics || {};
    const rows = METRICS.filter((k) => typeof m[k] === "number");
    $("#clinical-metrics tbody").replaceChildren(...rows.map((k) => el("tr", { "data-metric": k },
      el("td", { text: LABELS[k] || k }),
      el("td", { text: m[k].toFixed(4) }))));
    if (m.km_groups && m.km_groups.length) { $("#km-card").hidden = false; kmChart($("#km-chart"), m.km_groups); }
    const clin = report.clinical || {};
    if (clin.ablation && clin.ablation.length) {
      const keys = Object.keys(clin.ablation[0]).filter((k) => k !== "model");
      $("#ablation-table thead").replaceChildren(el("tr", {}, el("th", { text: "model" }), ...keys.map((k) => el("th", { text: k }))));
      $("#ablation-table tbody").replaceChildren(...clin.ablation.map((r) => el("tr", {}, el("td", { text: r.model }),
        ...keys.map((k) => el("td", { text: typeof r[k] === "number" ? r[k].toFixed(4) : String(r[k] ?? "") })))));
      $("#ablation-card").hidden = false;
    }
    const imp = Object.entries(clin.permutation_importance || {});
    if (imp.length) {
      imp.sort((a, b) => b[1] - a[1]);
      $("#importance-table tbody").replaceChildren(...imp.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v.toFixed(4) }))));
      $("#importance-card").hidden = false;
    }
    $("#clinical-kpis").hidden = false;
  }

  async function jobKpis() {
    const id = body.job;
    for (;;) {
      const job = await api("GET", `/api/jobs/${id}`);
      if (job.kind !== "training" || !job.config || !job.config.task) return;
      if (!["scalar_regression", "survival", "multimodal_classification"].includes(job.config.task)) return;
      if (job.status === "finished") { showClinical(await api("GET", `/api/jobs/${id}/report.json`)); return; }
      if (["failed", "cancelled", "interrupted"].includes(job.status)) return;
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }

  // ---------- model page: inference fields from the feature schema ----------
  // Adds one field per input feature (a list of the allowed values, a number field with its
  // range and unit, a date field) and an "unknown" box (sent as null: imputed as in training);
  // returns {values(), error(feature, text), clear()}.
  window.clinicalFeatureFields = (form, features) => {
    if (!features || !features.length) return null;
    form.noValidate = true;  // the server checks the values and names the feature it refuses
    const fieldset = el("fieldset", { id: "feature-fields" }, el("legend", { text: "Clinical values" }));
    for (const spec of features) {
      let input;
      if (spec.type === "categorical" && spec.values && spec.values.length) {
        input = el("select", { name: `feature:${spec.name}` });
        input.replaceChildren(el("option", { value: "", text: "—" }), ...spec.values.map((v) => el("option", { value: v, text: v })));
      } else {
        input = el("input", { name: `feature:${spec.name}`, type: spec.type === "date" ? "date" : (spec.type === "numeric" ? "number" : "text") });
        if (spec.type === "numeric") input.step = "any";
        if (spec.min !== null && spec.min !== undefined) input.min = spec.min;
        if (spec.max !== null && spec.max !== undefined) input.max = spec.max;
      }
      const unknown = el("input", { type: "checkbox", name: `unknown:${spec.name}` });
      unknown.addEventListener("change", () => { input.disabled = unknown.checked; });
      const unit = spec.unit ? ` (${spec.unit})` : "";
      const range = spec.type === "numeric" && (spec.min !== null || spec.max !== null) ? ` ${allowed(spec)}` : "";
      fieldset.append(el("div", { class: "feature-field", "data-feature": spec.name },
        el("label", { text: `${spec.name}${unit}${range} ` }, input),
        el("label", { class: "unknown", text: " unknown " }, unknown),
        el("span", { class: "msg bad field-error", role: "alert" })));
    }
    form.insertBefore(fieldset, form.querySelector("button[type=submit]"));
    const box = (name) => fieldset.querySelector(`.feature-field[data-feature="${CSS.escape(name)}"]`);
    return {
      values() {
        const out = {};
        for (const spec of features) {
          if (form.elements[`unknown:${spec.name}`].checked) { out[spec.name] = null; continue; }
          const v = form.elements[`feature:${spec.name}`].value;
          if (v !== "") out[spec.name] = spec.type === "numeric" ? Number(v) : v;
        }
        return out;
      },
      error(name, text) {
        const b = box(name);
        if (!b) return;
        b.querySelector(".field-error").textContent = text;
        const input = form.elements[`feature:${name}`];
        input.setAttribute("aria-invalid", "true");
        input.focus();
      },
      clear() {
        for (const e of fieldset.querySelectorAll(".field-error")) e.textContent = "";
        for (const e of fieldset.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
      },
    };
  };

  document.addEventListener("DOMContentLoaded", () => {
    const run = body.page === "dataset" ? datasetFeatures : body.page === "job" ? jobKpis : null;
    if (run) run().catch((err) => flash(err.message));
  });
})();
