// Volume viewer (NIfTI; DICOM series arrive converted to NIfTI) on NiiVue (vendored from npm):
// three planes, slice scrolling (wheel or buttons), window/level with CT presets and the file's
// own window, zoom/pan, measurements in mm, label-map / probability overlay with opacity.
"use strict";

const CT_PRESETS = { brain: [40, 80], subdural: [75, 215], stroke: [40, 40], soft: [40, 400],
  mediastinum: [50, 350], lung: [-600, 1500], liver: [60, 160], bone: [400, 1800] };
const LABEL_COLOURS = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
  [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]];

window.dhVolumeViewer = async (box, view) => {
  const t = window.dhViewerTools;
  if (box.dataset.niivue !== "true" || !window.niivue) {
    throw new Error("The volume viewer library (NiiVue) is missing: run scripts/fetch_server_assets.sh");
  }
  const canvas = document.createElement("canvas");
  canvas.id = "volume-canvas";
  box.classList.add("volume");
  box.append(canvas);
  const nv = new window.niivue.Niivue({ backColor: [0, 0, 0, 1], crosshairColor: [1, 0.8, 0, 1],
    show3Dcrosshair: false, dragAndDropEnabled: false });
  await nv.attachToCanvas(canvas);
  nv.onLocationChange = (d) => t.status(d.string || "");
  await nv.loadVolumes([{ url: view.image, name: "image.nii.gz", colormap: "gray" }]);
  const vol = nv.volumes[0];
  const fileWindow = view.window || (vol.hdr.cal_max > vol.hdr.cal_min
    ? [(vol.hdr.cal_max + vol.hdr.cal_min) / 2, vol.hdr.cal_max - vol.hdr.cal_min] : null);
  const auto = [vol.cal_min, vol.cal_max];
  const setWindow = (name) => {
    let lo, hi;
    if (name === "auto") [lo, hi] = auto;
    else {
      const [c, w] = name === "file" ? fileWindow : CT_PRESETS[name];
      [lo, hi] = [c - w / 2, c + w / 2];
    }
    vol.cal_min = lo; vol.cal_max = hi;
    nv.updateGLVolume();
  };
  const windows = [["auto", "auto (robust range)"]];
  if (fileWindow) windows.push(["file", `file's own (${fileWindow.map((v) => Math.round(v)).join("/")})`]);
  for (const [name, [c, w]] of Object.entries(CT_PRESETS)) windows.push([name, `CT ${name} (${c}/${w})`]);
  t.select("Window", "window-select", windows).addEventListener("change", (e) => setWindow(e.target.value));
  if (fileWindow) { document.getElementById("window-select").value = "file"; setWindow("file"); }

  const planes = [["multi", "three planes"], ["axial", "axial"], ["coronal", "coronal"], ["sagittal", "sagittal"]];
  const sliceType = { multi: nv.sliceTypeMultiplanar, axial: nv.sliceTypeAxial,
    coronal: nv.sliceTypeCoronal, sagittal: nv.sliceTypeSagittal };
  const plane = t.select("Planes", "plane-select", planes);
  plane.addEventListener("change", () => nv.setSliceType(sliceType[plane.value]));
  nv.setSliceType(nv.sliceTypeMultiplanar);
  const step = (d) => {
    const axis = { multi: [0, 0, d], axial: [0, 0, d], coronal: [0, d, 0], sagittal: [d, 0, 0] }[plane.value];
    nv.moveCrosshairInVox(...axis);
  };
  for (const [id, text, d] of [["slice-prev", "◀ slice", -1], ["slice-next", "slice ▶", 1]]) {
    const b = document.createElement("button");
    Object.assign(b, { id, type: "button", textContent: text });
    b.addEventListener("click", () => step(d));
    document.getElementById("viewer-tools").append(b);
  }
  const modes = [["contrast", "drag: window/level"], ["measurement", "drag: measure (mm)"], ["pan", "drag: pan/zoom"]];
  t.select("Mouse", "drag-select", modes).addEventListener("change", (e) => {
    nv.opts.dragMode = nv.dragModes[e.target.value];
  });

  if (view.mask) {
    await nv.addVolumeFromUrl({ url: view.mask, name: "mask.nii.gz", colormap: "red", opacity: 0.5 });
    const overlay = nv.volumes[1];
    const isFloat = [16, 64].includes(overlay.hdr.datatypeCode);
    if (isFloat && overlay.global_max <= 1) {  // probability map
      overlay.colormap = "warm"; overlay.cal_min = 0.05; overlay.cal_max = 1;
    } else {  // label map: one colour per label, 0 transparent
      const n = Math.max(2, Math.round(overlay.global_max) + 1);
      const cm = { R: [], G: [], B: [], A: [], I: [] };
      for (let i = 0; i < n; i++) {
        const c = LABEL_COLOURS[i === 0 ? 0 : ((i - 1) % (LABEL_COLOURS.length - 1)) + 1];
        cm.R.push(c[0]); cm.G.push(c[1]); cm.B.push(c[2]); cm.A.push(i ? 255 : 0); cm.I.push(i);
      }
      overlay.setColormapLabel(cm);
    }
    nv.updateGLVolume();
    t.range("Overlay opacity", "overlay-opacity", 0, 1, 0.05, 0.5).addEventListener("input", (e) => {
      nv.setOpacity(1, Number(e.target.value));
    });
  }
  const shown = drawBoxes(nv, vol, view);
  const legend = shown.true + shown.predicted
    ? `; boxes: ${shown.true} true (green), ${shown.predicted} predicted (red)` : "";
  t.status(`${vol.dims.slice(1, 4).join("×")} voxels, ${vol.pixDims.slice(1, 4).map((v) => v.toFixed(2)).join("×")} mm${legend}`);
  return { kind: "volume", nv, boxes: shown };
};

// 3D boxes [x0, y0, z0, x1, y1, z1] (voxels of the file, voxel i covering [i, i + 1)) drawn as
// box outlines in NiiVue's drawing layer: every voxel on a box's faces, so each slice crossing a
// box shows its rectangle (true boxes green, pen 2; predicted red, pen 1). NiiVue keeps the
// drawing in the volume's RAS-reoriented grid (dimsRAS); permRAS maps it to the file's axes.
// A "Box" menu moves the crosshair to a box's centre (the slices through it).
function rasRange(vol, c) {
  const nd = [vol.hdr.dims[1], vol.hdr.dims[2], vol.hdr.dims[3]];
  const lo = [], hi = [];
  for (let a = 0; a < 3; a++) {  // RAS axis a is file axis |permRAS[a]| - 1, reversed if < 0
    const n = Math.abs(vol.permRAS[a]) - 1;
    const first = Math.max(0, Math.floor(c[n])), last = Math.min(nd[n] - 1, Math.ceil(c[n + 3]) - 1);
    const ends = vol.permRAS[a] < 0 ? [nd[n] - 1 - last, nd[n] - 1 - first] : [first, last];
    lo.push(Math.max(0, ends[0])); hi.push(Math.min(vol.dimsRAS[a + 1] - 1, ends[1]));
  }
  return [lo, hi];
}

function drawBoxes(nv, vol, view) {
  const t = window.dhViewerTools;
  const boxes = [...(view.boxes || []).map((b) => [b, 2, "true"]),
    ...(view.predicted_boxes || []).map((b) => [b, 1, "predicted"])].filter(([b]) => b.coords.length === 6);
  const count = { true: boxes.filter(([, p]) => p === 2).length, predicted: boxes.filter(([, p]) => p === 1).length };
  if (!boxes.length) return count;
  nv.createEmptyDrawing();
  const rd = [vol.dimsRAS[1], vol.dimsRAS[2], vol.dimsRAS[3]];
  const bitmap = nv.drawBitmap;
  const ranges = boxes.map(([b]) => rasRange(vol, b.coords));
  ranges.forEach(([lo, hi], k) => {
    const pen = boxes[k][1];
    for (let z = lo[2]; z <= hi[2]; z++) {
      for (let y = lo[1]; y <= hi[1]; y++) {
        for (let x = lo[0]; x <= hi[0]; x++) {
          const face = x === lo[0] || x === hi[0] || y === lo[1] || y === hi[1] || z === lo[2] || z === hi[2];
          if (face) bitmap[x + rd[0] * (y + rd[1] * z)] = pen;
        }
      }
    }
  });
  nv.setDrawOpacity(1);
  nv.refreshDrawing(true);
  const options = [["", "—"], ...boxes.map(([b, , kind], k) => [String(k),
    `${kind} ${b.class}${b.score !== undefined ? ` ${Number(b.score).toFixed(2)}` : ""}`])];
  t.select("Box", "box-select", options).addEventListener("change", (e) => {
    if (e.target.value === "") return;
    const [lo, hi] = ranges[Number(e.target.value)];
    nv.scene.crosshairPos = nv.vox2frac(lo.map((v, a) => Math.floor((v + hi[a]) / 2)));
    nv.drawScene();
  });
  t.range("Box opacity", "box-opacity", 0, 1, 0.05, 1).addEventListener("input", (e) => {
    nv.setDrawOpacity(Number(e.target.value));
  });
  return count;
}
