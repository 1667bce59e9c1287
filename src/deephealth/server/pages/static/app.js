// DeepHealth pages: small vanilla JS over the JSON API (no framework, no CDN).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const csrf = () => $('meta[name="csrf-token"]').content;
const body = document.body.dataset;

async function api(method, url, data) {
  const opts = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
  if (data instanceof FormData) opts.body = data;
  else if (data !== undefined) {
    opts.body = JSON.stringify(data);
    opts.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(url, opts);
  const type = res.headers.get("content-type") || "";
  const out = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const detail = out && out.detail !== undefined ? out.detail : out;
    if (Array.isArray(detail)) throw new Error(detail.map((d) => d.msg || JSON.stringify(d)).join("; "));
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return out;
}

function flash(text, ok = false) {
  const el = $("#flash");
  el.textContent = text;
  el.className = ok ? "flash ok" : "flash";
  el.hidden = !text;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fillTable(id, rows, cells) {
  const tbody = $(`#${id} tbody`);
  tbody.replaceChildren(...rows.map((r) => el("tr", {}, ...cells(r).map((c) => el("td", {}, c)))));
  const empty = $(`#${id}`).dataset.empty;  // the empty state: what to do first
  if (!rows.length && empty) {
    tbody.append(el("tr", { class: "empty" }, el("td", { colspan: $(`#${id}`).querySelectorAll("thead th").length, text: empty })));
  }
}

function link(href, text) { return el("a", { href, text: String(text) }); }

function onSubmit(id, handler) {
  const form = $(`#${id}`);
  if (!form) return;
  // the page held this form's buttons until its handler is attached (see the page start below)
  for (const b of form.querySelectorAll("button[data-init-wait]")) { b.disabled = false; b.removeAttribute("data-init-wait"); }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try { await handler(form); } catch (err) { flash(err.message); } finally {
      if (button) button.disabled = false;
    }
  });
}

// ---------- login ----------
function pageLogin() {
  onSubmit("login-form", async (f) => {
    await api("POST", "/api/auth/login", { email: f.email.value, password: f.password.value });
    location.href = "/";
  });
  onSubmit("signup-form", async (f) => {
    await api("POST", "/api/auth/signup",
      { email: f.email.value, password: f.password.value, name: f.name.value });
    location.href = "/";
  });
}

// ---------- projects ----------
async function pageProjects() {
  const load = async () => fillTable("projects", await api("GET", "/api/projects"),
    (p) => [link(`/projects/${p.id}`, p.name), p.task, p.role]);
  onSubmit("project-form", async (f) => {
    const p = await api("POST", "/api/projects",
      { name: f.name.value, task: f.task.value, description: f.description.value });
    location.href = `/projects/${p.id}`;
  });
  await load();
}

// ---------- project ----------
async function pageProject() {
  const pid = body.project;
  const loadDatasets = async () => {
    const rows = await api("GET", `/api/projects/${pid}/datasets`);
    if (window.dhRefreshSearch) window.dhRefreshSearch();  // search.js pages the table
    else fillTable("datasets", rows, (d) => [link(`/datasets/${d.id}`, d.name), d.source,
      String(d.stats.samples), Object.entries(d.stats.splits).map(([k, v]) => `${k} ${v}`).join(", ")]);
    const sel = $("#training-form select[name=dataset_id]");
    if (sel) sel.replaceChildren(...rows.map((d) => el("option", { value: d.id, text: d.name })));
    return rows;
  };
  const loadWeights = async () => {
    const rows = await api("GET", `/api/projects/${pid}/weights`);
    if (window.dhRefreshSearch) window.dhRefreshSearch();  // search.js pages the table
    else fillTable("weights", rows, (w) => [link(`/weights/${w.id}`, w.name), w.origin, w.pretrained_on || "—",
      w.training_job_id ? link(`/jobs/${w.training_job_id}`, `training #${w.training_job_id}`) : "upload",
      link(`/api/weights/${w.id}/download`, "ONNX")]);
    const sel = $("#training-form select[name=base_weights_id]");
    if (sel) sel.replaceChildren(el("option", { value: "", text: "(new, random)" }),
      ...rows.map((w) => el("option", { value: w.id, text: w.name })));
  };
  const loadJobs = async () => {
    const rows = await api("GET", `/api/projects/${pid}/jobs`);
    fillTable("jobs", rows, (j) => [link(`/jobs/${j.id}`, `#${j.id}`), j.kind, j.status,
      j.queue_position ? String(j.queue_position) : "", (j.created_at || "").slice(0, 19)]);
  };
  const loadMembers = async () => fillTable("members", await api("GET", `/api/projects/${pid}/members`),
    (m) => [m.email, m.role]);
  const loadHyper = async () => {
    const box = $("#hyperparameters");
    if (!box) return;
    const fam = $("#training-form select[name=family_id]").value;
    const defs = await api("GET", `/api/hyperparameters?family_id=${fam}`);
    box.replaceChildren(el("legend", { text: "Hyper-parameters" }), ...defs.map((d) => {
      let input;
      if (d.allowed) {
        input = el("select", { name: d.name, "data-kind": d.kind },
          ...d.allowed.map((v) => el("option", { value: v, text: v })));
        input.value = d.default;
      } else {
        input = el("input", { name: d.name, "data-kind": d.kind, value: d.default, type: "number",
          step: d.kind === "int" ? "1" : "any" });
        if (d.minimum !== null) input.min = d.minimum;
        if (d.maximum !== null) input.max = d.maximum;
      }
      return el("label", { text: d.name + " " }, input);
    }));
  };
  onSubmit("dataset-form", async (f) => {
    await api("POST", `/api/projects/${pid}/datasets`, new FormData(f));
    f.reset(); flash("Dataset uploaded.", true); await loadDatasets();
  });
  onSubmit("register-form", async (f) => {
    await api("POST", `/api/projects/${pid}/datasets/register`, { path: f.path.value, name: f.name.value });
    f.reset(); flash("Folder registered.", true); await loadDatasets();
  });
  onSubmit("weights-form", async (f) => {
    await api("POST", `/api/projects/${pid}/weights`, new FormData(f));
    f.reset(); flash("Model uploaded.", true); await loadWeights();
  });
  onSubmit("member-form", async (f) => {
    await api("POST", `/api/projects/${pid}/members`, { email: f.email.value, role: f.role.value });
    f.reset(); await loadMembers();
  });
  onSubmit("training-form", async (f) => {
    const hp = {};
    for (const input of $("#hyperparameters").querySelectorAll("[name]")) {
      const k = input.dataset.kind;
      hp[input.name] = k === "int" ? parseInt(input.value, 10) : k === "float" ? parseFloat(input.value) : input.value;
    }
    const payload = { dataset_id: parseInt(f.dataset_id.value, 10), hyperparameters: hp };
    if (f.family_id.value) payload.family_id = parseInt(f.family_id.value, 10);
    if (f.base_weights_id.value) payload.base_weights_id = parseInt(f.base_weights_id.value, 10);
    if (f.device) { payload.device = f.device.value; payload.mixed_precision = f.mixed_precision.value; }
    if (window.dhSlideSettings) { const slide = window.dhSlideSettings(f); if (slide) payload.slide = slide; }
    if (f.fusion) { payload.fusion = f.fusion.value; payload.ablation = f.ablation.checked; }
    const job = await api("POST", `/api/projects/${pid}/trainings`, payload);
    location.href = `/jobs/${job.id}`;
  });
  const famSel = $("#training-form select[name=family_id]");
  if (famSel) {
    const fams = await api("GET", `/api/families?task=${encodeURIComponent(body.task)}`);
    famSel.replaceChildren(...fams.map((x) => el("option", { value: x.id, text: x.name })));
    famSel.addEventListener("change", loadHyper);
    await loadHyper();
  }
  const loadAudit = async () => {
    if (!$("#audit")) return;
    const members = Object.fromEntries((await api("GET", `/api/projects/${pid}/members`)).map((m) => [m.id, m.email]));
    fillTable("audit", (await api("GET", `/api/projects/${pid}/audit?limit=50`)), (a) => [
      (a.created_at || "").slice(0, 19), members[a.user_id] || (a.user_id ? `user #${a.user_id}` : "—"),
      a.action + (a.token_id ? " (API token)" : ""), a.object_type ? `${a.object_type} #${a.object_id}` : ""]);
  };
  await Promise.all([loadDatasets(), loadWeights(), loadJobs(), loadMembers(), loadAudit()]);
  setInterval(loadJobs, 5000);
}

// ---------- dataset ----------
function barChart(counts) {
  const entries = Object.entries(counts);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 300 ${entries.length * 22 + 4}`);
  svg.setAttribute("class", "chart");
  entries.forEach(([k, v], i) => {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", 110); r.setAttribute("y", i * 22 + 4);
    r.setAttribute("width", (150 * v) / max); r.setAttribute("height", 16);
    r.setAttribute("fill", "#0b6fb8");
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", 0); t.setAttribute("y", i * 22 + 16); t.textContent = k;
    const n = document.createElementNS(ns, "text");
    n.setAttribute("x", 114 + (150 * v) / max); n.setAttribute("y", i * 22 + 16); n.textContent = v;
    svg.append(r, t, n);
  });
  return svg;
}

async function pageDataset() {
  const id = body.dataset;
  const stats = JSON.parse($("#dataset-stats").textContent);
  $("#balance").replaceChildren(...Object.entries(stats.balance).map(([split, counts]) =>
    el("div", {}, el("h3", { text: split }), barChart(counts))));
  const loadThumbs = async () => {
    const split = $("#split-select").value;
    const win = $("#window-select").value;
    const page = await api("GET", `/api/datasets/${id}/samples?limit=24${split ? `&split=${encodeURIComponent(split)}` : ""}`);
    $("#thumbs").replaceChildren(...page.samples.map((s) => el("figure", {},
      el("a", { href: `/datasets/${id}/samples/${s.index}`, title: "open in the viewer" },
        el("img", { src: `/api/datasets/${id}/samples/${s.index}/thumbnail?mask=${s.has_mask}${win ? `&window=${win}` : ""}`,
          alt: `sample ${s.index}`, loading: "lazy" })),
      el("figcaption", { text: `#${s.index} ${s.labels.join(", ")}` }))));
  };
  $("#split-select").addEventListener("change", loadThumbs);
  $("#window-select").addEventListener("change", loadThumbs);
  const augs = await api("GET", `/api/datasets/${id}/augmentations`);
  for (const form of document.querySelectorAll(".aug-form")) {
    const split = form.dataset.split;
    form.text.value = augs[split] || "";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const msg = form.querySelector(".msg");
      try {
        await api("PUT", `/api/datasets/${id}/augmentations/${encodeURIComponent(split)}`, { text: form.text.value });
        msg.textContent = "saved"; msg.className = "msg ok";
      } catch (err) { msg.textContent = err.message; msg.className = "msg bad"; }
    });
  }
  await loadThumbs();
}

// ---------- job: live charts from events (SSE, polling fallback) ----------
const COLORS = ["#0b6fb8", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#1098ad"];

function lineChart(svg, series, xlabel) {
  const ns = "http://www.w3.org/2000/svg";
  const W = 600, H = 220, L = 48, B = 28, T = 10, R = 110;
  const pts = series.flatMap((s) => s.points);
  svg.replaceChildren();
  const axis = (x1, y1, x2, y2) => {
    const l = document.createElementNS(ns, "line");
    Object.entries({ x1, y1, x2, y2, class: "axis" }).forEach(([k, v]) => l.setAttribute(k, v));
    svg.append(l);
  };
  const text = (x, y, s, anchor = "start") => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("text-anchor", anchor);
    t.textContent = s; svg.append(t);
  };
  axis(L, H - B, W - R, H - B); axis(L, T, L, H - B);
  text((L + W - R) / 2, H - 6, xlabel, "middle");
  if (!pts.length) { text(L + 10, H / 2, "waiting for data…"); return; }
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - R - L);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - B - T);
  text(L - 4, T + 8, y1.toPrecision(3), "end"); text(L - 4, H - B, y0.toPrecision(3), "end");
  text(L, H - B + 14, String(+x0.toFixed(2))); text(W - R, H - B + 14, String(+x1.toFixed(2)), "end");
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", s.points.map((q, j) => `${j ? "L" : "M"}${sx(q[0]).toFixed(1)},${sy(q[1]).toFixed(1)}`).join(" "));
    p.setAttribute("stroke", COLORS[i % COLORS.length]);
    p.setAttribute("data-series", s.name);
    svg.append(p);
    if (s.points.length === 1) {  // one epoch so far: a dot, where a path alone draws nothing
      const c = document.createElementNS(ns, "circle");
      const [cx, cy] = [sx(s.points[0][0]), sy(s.points[0][1])];
      Object.entries({ cx: cx.toFixed(1), cy: cy.toFixed(1), r: 3, fill: COLORS[i % COLORS.length] })
        .forEach(([k, v]) => c.setAttribute(k, v));
      svg.append(c);
    }
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", W - R + 6); t.setAttribute("y", T + 12 + i * 14);
    t.style.fill = COLORS[i % COLORS.length]; t.textContent = s.name;
    svg.append(t);
  });
}

async function pageJob() {
  const id = body.job;
  const state = { last: 0, count: 0, batchLoss: [], epochLoss: [], metrics: {}, epochsPerBatch: null, progress: null, passDone: false };
  let job = await api("GET", `/api/jobs/${id}`);
  let es = null, polling = null;

  const draw = () => {
    $("#event-count").textContent = String(state.count);
    if (body.kind === "inference") {  // no loss and one pass: progress and the metrics as numbers
      const [done, total] = state.progress || [0, 0];
      if (state.passDone) $("#inference-batches").textContent = total ? `done ${total} of ${total}` : "done";
      else if (state.progress) $("#inference-batches").textContent = `done ${done}` + (total ? ` of ${total}` : "");
      $("#inference-metrics tbody").replaceChildren(...Object.entries(state.metrics).map(([k, pts]) =>
        el("tr", {}, el("th", { text: k }), el("td", { text: String(+pts[pts.length - 1][1].toFixed(4)) }))));
      return;
    }
    lineChart($("#loss-chart"), [
      { name: "batch loss", points: state.batchLoss },
      { name: "epoch loss", points: state.epochLoss },
    ], "epoch");
    lineChart($("#metric-chart"), Object.entries(state.metrics).map(([name, points]) => ({ name, points })), "epoch");
  };
  const onEvent = (ev) => {
    if (ev.id <= state.last) return;
    state.last = ev.id; state.count += 1;
    // Epochs and batches are 1-based: batch b of n in epoch e is drawn at x = e - 1 + b / n.
    if (ev.type === "batch") {  // inference jobs count samples (metrics done/total), trainings batches
      const m = ev.metrics || {};
      state.progress = m.total ? [m.done, m.total] : [ev.batch, (ev.data && ev.data.num_batches) || 0];
    }
    if (ev.type === "epoch") state.passDone = true;
    if (ev.type === "batch" && ev.loss !== null) {
      const n = (ev.data && ev.data.num_batches) || 0;
      const x = n ? (ev.epoch || 1) - 1 + ev.batch / n : ev.batch;
      state.batchLoss.push([x, ev.loss]);
    } else if (ev.type === "epoch") {
      const x = ev.epoch || state.epochLoss.length + 1;
      if (ev.loss !== null) state.epochLoss.push([x, ev.loss]);
      const all = { ...(ev.metrics || {}) };
      for (const [k, v] of Object.entries((ev.data && ev.data.val_metrics) || {})) all[`val ${k}`] = v;
      for (const [k, v] of Object.entries(all)) {
        if (typeof v !== "number") continue;
        (state.metrics[k] = state.metrics[k] || []).push([x, v]);
      }
    }
  };
  const showState = async (s) => {
    $("#status").textContent = s.status;
    $("#queue").textContent = s.queue_position ? `queue position ${s.queue_position}` : "";
    const done = ["finished", "failed", "cancelled", "interrupted"].includes(s.status);
    if ($("#stop")) $("#stop").disabled = done;
    if ($("#resume")) $("#resume").disabled = !["cancelled", "interrupted", "failed"].includes(s.status);
    if (done && job.status !== s.status) job = await api("GET", `/api/jobs/${id}`);
    job.status = s.status;
    showResult();
  };
  const showResult = () => {
    if (job.error) { $("#error").textContent = job.error; $("#error").hidden = false; }
    else $("#error").hidden = true;
    const r = job.result || {};
    if (job.status === "finished" && r.weights_id) {
      $("#download-link").href = `/api/weights/${r.weights_id}/download`;
      $("#download-link").hidden = false;
      $("#weights-link").href = `/weights/${r.weights_id}`;
      $("#weights-link").hidden = false;
    }
    if (job.status === "finished" && r.predictions) $("#predictions-link").hidden = false;
    const hasReport = Object.entries(r).some(([k, v]) => typeof v === "string" && v.endsWith(".html"));
    if (job.status === "finished" && hasReport) {
      $("#report-link").hidden = false;
      const frame = $("#report");
      if (frame.hidden) { frame.src = `/api/jobs/${id}/report`; frame.hidden = false; $("#report-section").hidden = false; }
    }
  };
  const startPolling = () => {
    if (polling) return;
    $("#transport").textContent = "polling";
    polling = setInterval(async () => {
      try {
        const out = await api("GET", `/api/jobs/${id}/events?after=${state.last}`);
        out.events.forEach(onEvent); draw(); await showState(out);
      } catch (err) { flash(err.message); }
    }, 1000);
  };
  const startStream = () => {
    const forced = new URLSearchParams(location.search).get("transport") === "polling";
    if (!window.EventSource || forced) { startPolling(); return; }
    es = new EventSource(`/api/jobs/${id}/stream?after=${state.last}`);
    const handler = (m) => { onEvent(JSON.parse(m.data)); draw(); };
    ["epoch", "batch", "status"].forEach((t) => es.addEventListener(t, handler));
    es.addEventListener("state", (m) => showState(JSON.parse(m.data)));
    es.addEventListener("end", (m) => { es.close(); es = null; showState(JSON.parse(m.data)); });
    es.onerror = () => { if (es && es.readyState === EventSource.CLOSED) { es = null; startPolling(); } };
  };
  const restartLive = () => {
    if (polling) { clearInterval(polling); polling = null; }
    if (es) { es.close(); es = null; }
    startStream();
  };
  if ($("#stop")) $("#stop").addEventListener("click", async () => {
    try { await api("POST", `/api/jobs/${id}/stop`); flash("Stop requested.", true); } catch (err) { flash(err.message); }
  });
  if ($("#resume")) $("#resume").addEventListener("click", async () => {
    try {
      job = await api("POST", `/api/jobs/${id}/resume`);
      flash("Resumed: the training continues from its last checkpoint.", true);
      await showState(job); restartLive();
    } catch (err) { flash(err.message); }
  });
  draw(); await showState(job); startStream();
}

// ---------- weights: single-image inference ----------
async function pageWeights() {
  const id = body.weights;
  const datasets = await api("GET", `/api/projects/${body.project}/datasets`);
  const dsSel = $("#split-form select[name=dataset_id]");
  const splitSel = $("#split-form select[name=split]");
  const fillSplits = () => {
    const d = datasets.find((x) => String(x.id) === dsSel.value);
    splitSel.replaceChildren(...Object.keys(d ? d.stats.splits : {}).map((s) => el("option", { value: s, text: s })));
  };
  dsSel.replaceChildren(...datasets.map((d) => el("option", { value: d.id, text: d.name })));
  dsSel.addEventListener("change", fillSplits);
  fillSplits();
  onSubmit("split-form", async (f) => {
    const job = await api("POST", `/api/projects/${body.project}/inferences`,
      { weights_id: parseInt(id, 10), dataset_id: parseInt(f.dataset_id.value, 10), split: f.split.value });
    location.href = `/jobs/${job.id}`;
  });
  // clinical models: one field per input feature of the stored schema (clinical.js)
  const schema = await api("GET", `/api/weights/${id}/features`);
  const form = $("#infer-form");
  const fields = window.clinicalFeatureFields ? window.clinicalFeatureFields(form, schema.features) : null;
  onSubmit("infer-form", async (f) => {
    const files = [...f.file.files];  // one image, or the slices of a DICOM series
    if (fields) fields.clear();
    const withFeatures = (d) => { if (fields) d.append("features", JSON.stringify(fields.values())); return d; };
    const data = withFeatures(new FormData()); for (const x of files) data.append("file", x);
    const res = await fetch(`/api/v1/predict/${id}?format=overlay`, {
      method: "POST", body: data, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" });
    if (!res.ok) {
      const err = await res.json();
      if (fields && err.feature) fields.error(err.feature, err.detail);
      throw new Error(err.detail);
    }
    const img = $("#overlay");
    img.src = URL.createObjectURL(await res.blob()); img.hidden = false;
    const data2 = withFeatures(new FormData()); for (const x of files) data2.append("file", x);
    const json = await api("POST", `/api/v1/predict/${id}`, data2);
    delete json.mask_png;
    $("#prediction").textContent = JSON.stringify(json, null, 2);
  });
}

// ---------- tokens ----------
async function pageTokens() {
  const load = async () => fillTable("tokens", await api("GET", "/api/tokens"), (t) => {
    const b = el("button", { type: "button", text: t.revoked ? "revoked" : "Revoke" });
    b.disabled = t.revoked;
    b.addEventListener("click", async () => { await api("DELETE", `/api/tokens/${t.id}`); await load(); });
    return [t.name, t.scope, t.prefix, (t.last_used_at || "never").slice(0, 19), b];
  });
  onSubmit("token-form", async (f) => {
    const t = await api("POST", "/api/tokens", { name: f.name.value, scope: f.scope.value });
    $("#new-token").textContent = `New token (shown once): ${t.token}`;
    $("#new-token").hidden = false; f.reset(); await load();
  });
  onSubmit("password-form", async (f) => {
    await api("POST", "/api/auth/password", { current_password: f.current.value, new_password: f.new.value });
    f.reset(); flash("Password changed; your other sessions were logged out.", true);
  });
  const reset = $("#reset-form");
  if (reset) {
    const users = await api("GET", "/api/admin/users");
    reset.user.replaceChildren(...users.map((u) => el("option", { value: u.id, text: u.email })));
    onSubmit("reset-form", async (f) => {
      await api("POST", `/api/admin/users/${f.user.value}/password`, { new_password: f.new.value });
      f.new.value = ""; flash("Password reset; the user was logged out and their API tokens revoked.", true);
    });
  }
  await load();
}

document.addEventListener("DOMContentLoaded", async () => {
  const logout = $("#logout");
  if (logout) logout.addEventListener("click", async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; });
  const pages = { login: pageLogin, projects: pageProjects, project: pageProject, dataset: pageDataset,
    job: pageJob, weights: pageWeights, tokens: pageTokens };
  // Until the page has attached its handlers (some wait for an API answer first), a submit
  // would send the form natively as a GET and lose the input: hold the submit buttons meanwhile.
  const held = [...document.querySelectorAll("main form button[type=submit]:not([disabled])")];
  for (const b of held) { b.disabled = true; b.setAttribute("data-init-wait", ""); }
  try { if (pages[body.page]) await pages[body.page](); } catch (err) { flash(err.message); } finally {
    for (const b of held) if (b.hasAttribute("data-init-wait")) { b.disabled = false; b.removeAttribute("data-init-wait"); }
  }
});
