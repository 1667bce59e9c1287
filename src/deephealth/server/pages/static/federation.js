// Federations (read-only): the list, and one federation's per-round curves, site and round tables,
// polled every 2 s while its server runs (uses app.js's api() and lineChart()).
"use strict";

(() => {
  const page = document.body.dataset;
  if (page.page !== "federation") return;
  const q = (sel) => document.querySelector(sel);
  const num = (v, digits = 3) => (typeof v === "number" ? +v.toFixed(digits) : "–");
  const ago = (s) => (typeof s === "number" ? `${Math.max(0, Math.round(s))} s ago` : "–");
  const row = (cells) => {
    const tr = document.createElement("tr");
    cells.forEach((c) => {
      const td = document.createElement("td");
      if (c instanceof Node) td.append(c); else td.textContent = c;
      tr.append(td);
    });
    return tr;
  };
  const link = (href, text) => { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; };

  async function list() {
    const rows = await api("GET", "/api/federations");
    const tbody = q("#federation-list tbody");
    if (!rows.length) { tbody.replaceChildren(row(["No federation yet."])); return; }
    tbody.replaceChildren(...rows.map((f) => row([
      link(`/federations/${encodeURIComponent(f.name)}`, f.title || f.name), f.status,
      `${f.round ?? 0} / ${f.rounds ?? "?"}`, f.strategy || "–", f.sites ?? "–",
      f.monitor ? `${f.monitor} ${num(f.server_metric)}` : "–", ago(f.age_s),
    ])));
  }

  function draw(f) {
    const m = f.monitor;
    const rounds = f.rounds_done;
    const series = (get) => rounds.filter((r) => typeof get(r) === "number").map((r) => [r.round, get(r)]);
    lineChart(q("#fed-metric-chart"), [
      { name: `server ${m}`, points: series((r) => r.server_test[m]) },
      { name: `sites ${m}`, points: series((r) => r.site_validation[m]) },
    ], "round");
    const sites = f.site_table.map((s) => s.site);
    lineChart(q("#fed-site-chart"), sites.map((s) => ({ name: s, points: series((r) => (r.per_site[s] || {})[m]) })), "round");
    lineChart(q("#fed-loss-chart"), [
      { name: "mean", points: series((r) => r.fit.loss) },
      ...sites.map((s) => ({ name: s, points: series((r) => (r.site_fit[s] || {}).loss) })),
    ], "round");
    lineChart(q("#fed-time-chart"), [
      { name: "round", points: series((r) => r.time_s) },
      ...sites.map((s) => ({ name: s, points: series((r) => (r.site_fit[s] || {}).train_s) })),
    ], "round");
    q("#fed-sites tbody").replaceChildren(...f.site_table.map((s) => row([
      s.site, s.samples ?? "–", s.rounds.join(", ") || "–", num(s.loss), num(s.validation),
      s.in_last_round ? "yes" : "no",
    ])));
    q("#fed-rounds tbody").replaceChildren(...rounds.map((r) => row([
      r.round, Object.keys(r.sites).length, r.sites_failed ?? 0, num(r.time_s, 2), r.bytes_sent ?? "–",
      r.bytes_received ?? "–", num(r.server_test[m]), num(r.site_validation[m]),
    ])));
  }

  async function one() {
    const f = await api("GET", `/api/federations/${encodeURIComponent(page.federation)}`);
    q("#fed-title").textContent = f.title;
    q("#fed-status").textContent = f.status;
    const p = f.plan;
    q("#fed-plan").textContent = `${p.task || ""} · ${p.model || ""} · ${p.strategy || ""}` +
      ` (BatchNorm ${p.batchnorm || "average"}) · ${p.local_epochs ?? "?"} local epoch(s) per round · ` +
      `at least ${p.min_sites ?? "?"} sites` + (p.tls ? " · TLS" : "") +
      (p.authenticate_sites ? " · site certificates" : "") + (p.dp ? " · differential privacy" : "");
    const now = f.in_progress ? ` · round ${f.in_progress.round} running with ${f.in_progress.sites_asked} sites` : "";
    q("#fed-progress").textContent = `${f.round} of ${f.rounds ?? "?"} rounds done${now} · updated ${ago(f.age_s)}` +
      (f.best_round ? ` · best round ${f.best_round}` : "");
    q("#fed-report").hidden = !f.has_report;
    draw(f);
    return f.status === "running";
  }

  async function poll() {
    let again = true;
    try {
      again = await one();
      flash("");
    } catch (err) {
      // a federation whose server has not started yet: keep asking (the coordinator opened its page first)
      flash(/no federation/.test(err.message) ? `${err.message}; waiting for its server to start…` : err.message);
    }
    if (again) setTimeout(poll, 2000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (page.federation) poll(); else list().catch((err) => flash(err.message));
  });
})();
