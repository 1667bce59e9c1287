// The multichannel trace viewer (plain canvas, no library): stacked channels drawn from the
// server's min/max envelope (one column per pixel, see GET .../trace), annotation bands (the
// recording's and the dataset's events; predicted events in red at the bottom of the lanes), a
// time axis, zoom (wheel, +/- buttons and keys) and scroll (drag, arrow keys, buttons).
// DHTrace.mount(container, {url(start, end, width), duration, title}) returns the viewer;
// window.dhTrace is the last one mounted (the browser tests read it).
"use strict";

(() => {
  const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];
  const PREDICTED = "#d62728";
  const AXIS_H = 26;
  const MIN_SPAN = 0.05; // s

  function fmtTime(t, step) {
    const sign = t < 0 ? "-" : "";
    t = Math.abs(t);
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    const digits = step < 1 ? Math.min(3, Math.ceil(-Math.log10(step))) : 0;
    const ss = s.toFixed(digits).padStart(digits ? 3 + digits : 2, "0");
    return sign + (h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`);
  }

  function niceStep(span, px) {
    const raw = span / Math.max(1, px / 110);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  function colourOf(label, labels) {
    if (!labels.has(label)) labels.set(label, PALETTE[labels.size % PALETTE.length]);
    return labels.get(label);
  }

  function mount(root, opts) {
    const state = {
      start: 0, end: Math.min(opts.duration, opts.initialSpan || opts.duration),
      duration: opts.duration, data: null, gain: 1, scales: null, requests: 0, lastMs: null,
      ready: false, pending: null, seq: 0, labels: new Map(),
    };
    const tools = document.createElement("div");
    tools.className = "trace-tools";
    const button = (text, title, fn) => {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = text; b.title = title;
      b.addEventListener("click", fn);
      tools.append(b);
      return b;
    };
    button("|◀", "start (Home)", () => go(0, state.end - state.start));
    button("◀", "scroll left (←)", () => pan(-0.5));
    button("▶", "scroll right (→)", () => pan(0.5));
    button("▶|", "end (End)", () => go(state.duration - (state.end - state.start), state.end - state.start));
    button("−", "zoom out (-)", () => zoom(2));
    button("+", "zoom in (+)", () => zoom(0.5));
    button("all", "whole recording", () => go(0, state.duration));
    button("amp ↑", "larger traces", () => { state.gain *= 1.5; draw(); });
    button("amp ↓", "smaller traces", () => { state.gain /= 1.5; draw(); });
    const readout = document.createElement("span");
    readout.className = "trace-readout";
    tools.append(readout);
    const canvas = document.createElement("canvas");
    canvas.className = "trace-canvas";
    canvas.tabIndex = 0;
    const status = document.createElement("p");
    status.className = "trace-status";
    status.setAttribute("aria-live", "polite");
    root.replaceChildren(tools, canvas, status);

    function layout() {
      const w = Math.max(200, root.clientWidth || 800);
      const lanes = state.data ? state.data.channels.length : 4;
      const laneH = lanes > 12 ? 36 : lanes > 6 ? 52 : 80;
      const h = lanes * laneH + AXIS_H;
      const dpr = window.devicePixelRatio || 1;
      canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      return { w, h, dpr, laneH };
    }

    function clampView(start, span) {
      span = Math.min(Math.max(span, MIN_SPAN), state.duration);
      start = Math.min(Math.max(0, start), state.duration - span);
      return [start, start + span];
    }

    function go(start, span) {
      [state.start, state.end] = clampView(start, span);
      schedule();
    }
    function pan(fraction) { const s = state.end - state.start; go(state.start + fraction * s, s); }
    function zoom(factor, at) {
      const s = state.end - state.start;
      const c = at === undefined ? state.start + s / 2 : at;
      const ns = s * factor;
      go(c - (c - state.start) * factor, ns);
    }

    function schedule() {
      readout.textContent = `${fmtTime(state.start, 0.1)} – ${fmtTime(state.end, 0.1)} ` +
        `(${(state.end - state.start).toFixed(2)} s of ${fmtTime(state.duration, 1)})`;
      draw(); // the old data shifted/scaled at once, the new one when it arrives
      clearTimeout(state.pending);
      state.pending = setTimeout(load, 60);
    }

    async function load() {
      const seq = ++state.seq;
      const { w } = layout();
      const t0 = performance.now();
      state.ready = false;
      try {
        const res = await fetch(opts.url(state.start, state.end, Math.round(w)), { credentials: "same-origin" });
        const out = await res.json();
        if (!res.ok) throw new Error(typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail));
        if (seq !== state.seq) return; // a newer view was asked for meanwhile
        state.data = out;
        state.requests += 1;
        state.lastMs = performance.now() - t0;
        if (!state.scales) state.scales = out.min.map((lo, c) => robustRange(lo, out.max[c]));
        status.textContent = `${out.channels.length} channels · ${out.width} columns · ` +
          `${Math.round(state.lastMs)} ms (server ${out.elapsed_ms} ms${out.overview ? ", overview" : ""})`;
        draw();
        state.ready = true;
        root.dispatchEvent(new CustomEvent("trace:drawn", { detail: out }));
      } catch (err) {
        if (seq === state.seq) status.textContent = `trace: ${err.message}`;
      }
    }

    function robustRange(lo, hi) {
      const v = [];
      for (let i = 0; i < lo.length; i++) if (lo[i] !== null) v.push(lo[i], hi[i]);
      if (!v.length) return [-1, 1];
      v.sort((a, b) => a - b);
      const a = v[Math.floor(v.length * 0.005)], b = v[Math.floor(v.length * 0.995)];
      const mid = (a + b) / 2, half = Math.max((b - a) / 2, 1e-6);
      return [mid - half, mid + half];
    }

    function draw() {
      const { w, h, dpr, laneH } = layout();
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
      const d = state.data;
      if (!d) return;
      const span = state.end - state.start;
      const x = (t) => ((t - state.start) / span) * w;
      const lanesH = h - AXIS_H;
      // annotation bands
      ctx.font = "11px sans-serif";
      for (const a of d.annotations) {
        const predicted = a.source === "prediction";
        const colour = predicted ? PREDICTED : colourOf(a.label, state.labels);
        const x0 = x(a.onset), x1 = Math.max(x(a.onset + a.duration), x0 + 2);
        if (x1 < 0 || x0 > w) continue;
        const y0 = predicted ? lanesH * 0.75 : 0, bh = predicted ? lanesH * 0.25 : lanesH;
        ctx.globalAlpha = predicted ? 0.35 : 0.22;
        ctx.fillStyle = colour; ctx.fillRect(x0, y0, x1 - x0, bh);
        ctx.globalAlpha = 1;
        ctx.fillStyle = colour;
        ctx.fillText(predicted ? `predicted ${a.label}` : a.label, Math.max(2, x0 + 2), predicted ? lanesH - 4 : 12);
      }
      // traces: one zig-zag path through each column's max and min
      const dx = (d.stop - d.start) / d.width;
      d.channels.forEach((name, c) => {
        const [lo, hi] = state.scales[c] || [-1, 1];
        const mid = laneH * (c + 0.5), k = (laneH * 0.45 * state.gain) / ((hi - lo) / 2);
        const centre = (lo + hi) / 2;
        const y = (v) => mid - (v - centre) * k;
        ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(0, mid); ctx.lineTo(w, mid); ctx.stroke();
        ctx.save();
        ctx.beginPath(); ctx.rect(0, laneH * c, w, laneH); ctx.clip();
        ctx.strokeStyle = "#111"; ctx.lineWidth = 1;
        ctx.beginPath();
        let started = false;
        const mins = d.min[c], maxs = d.max[c];
        for (let j = 0; j < mins.length; j++) {
          if (mins[j] === null) continue;
          const px = x(d.start + (j + 0.5) * dx);
          if (!started) { ctx.moveTo(px, y(maxs[j])); started = true; } else ctx.lineTo(px, y(maxs[j]));
          ctx.lineTo(px, Math.max(y(mins[j]), y(maxs[j]) + 0.5));
        }
        ctx.stroke();
        ctx.restore();
        const label = `${name} ${d.units[c] || ""}`;
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        ctx.fillRect(2, laneH * c + 2, ctx.measureText(label).width + 4, 13);
        ctx.fillStyle = "#444";
        ctx.fillText(label, 4, laneH * c + 12);
      });
      // time axis
      ctx.strokeStyle = "#888"; ctx.fillStyle = "#333";
      ctx.beginPath(); ctx.moveTo(0, lanesH + 0.5); ctx.lineTo(w, lanesH + 0.5); ctx.stroke();
      const step = niceStep(span, w);
      for (let t = Math.ceil(state.start / step) * step; t <= state.end; t += step) {
        const px = Math.round(x(t)) + 0.5;
        ctx.beginPath(); ctx.moveTo(px, lanesH); ctx.lineTo(px, lanesH + 5); ctx.stroke();
        ctx.fillText(fmtTime(t, step), px + 2, lanesH + 16);
      }
    }

    // zoom with the wheel around the pointer; scroll by dragging; keys when focused
    canvas.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = canvas.getBoundingClientRect();
      const at = state.start + ((ev.clientX - r.left) / r.width) * (state.end - state.start);
      zoom(ev.deltaY < 0 ? 0.8 : 1.25, at);
    }, { passive: false });
    let drag = null;
    canvas.addEventListener("pointerdown", (ev) => {
      drag = { x: ev.clientX, start: state.start };
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const r = canvas.getBoundingClientRect();
      const s = state.end - state.start;
      go(drag.start - ((ev.clientX - drag.x) / r.width) * s, s);
    });
    canvas.addEventListener("pointerup", () => { drag = null; });
    canvas.addEventListener("keydown", (ev) => {
      const keys = { ArrowLeft: () => pan(-0.25), ArrowRight: () => pan(0.25), "+": () => zoom(0.5),
        "=": () => zoom(0.5), "-": () => zoom(2), Home: () => go(0, state.end - state.start),
        End: () => go(state.duration, state.end - state.start) };
      if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
    });
    let lastWidth = root.clientWidth;
    window.addEventListener("resize", () => {
      if (root.clientWidth === lastWidth) return; // only a new width needs new columns
      lastWidth = root.clientWidth;
      schedule();
    });

    const viewer = { state, go, zoom, pan, canvas, reload: schedule };
    window.dhTrace = viewer;
    schedule();
    return viewer;
  }

  window.DHTrace = { mount, fmtTime };
})();
