// 2D image viewer: the sample at full resolution (zoomable), its mask as a coloured overlay
// with opacity, and its boxes with class names.
"use strict";

window.dhImageViewer = async (box, view) => {
  const t = window.dhViewerTools;
  box.classList.add("image");
  const stack = document.createElement("div");
  stack.className = "image-stack";
  const img = new Image();
  img.id = "full-image"; img.alt = `sample ${view.index}`;
  const loaded = new Promise((ok, bad) => { img.onload = ok; img.onerror = () => bad(new Error("cannot load the image")); });
  img.src = view.image;
  stack.append(img);
  box.append(stack);
  await loaded;
  const [w, h] = [img.naturalWidth, img.naturalHeight];
  const zoom = t.select("Zoom", "zoom-select", [["1", "100 %"], ["fit", "fit"], ["2", "200 %"], ["4", "400 %"]]);
  const setZoom = () => {
    const z = zoom.value === "fit" ? Math.min(1, box.clientWidth / w) : Number(zoom.value);
    img.style.width = `${w * z}px`; img.style.height = `${h * z}px`;
  };
  zoom.addEventListener("change", setZoom);
  setZoom();
  if (view.mask) {
    const mask = new Image();
    mask.className = "mask"; mask.id = "mask-image"; mask.alt = "mask"; mask.src = view.mask;
    mask.style.opacity = 0.5;
    stack.append(mask);
    t.range("Mask opacity", "overlay-opacity", 0, 1, 0.05, 0.5).addEventListener("input", (e) => {
      mask.style.opacity = e.target.value;
    });
  }
  if (view.boxes.length) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.id = "boxes";
    for (const b of view.boxes) {
      const [x0, y0, x1, y1] = b.coords;
      const r = document.createElementNS(ns, "rect");
      for (const [k, v] of Object.entries({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 })) r.setAttribute(k, v);
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", x0); label.setAttribute("y", Math.max(10, y0 - 2));
      label.textContent = b.class;
      svg.append(r, label);
    }
    stack.append(svg);
  }
  t.status(`${w}×${h} pixels${view.boxes.length ? `, ${view.boxes.length} boxes` : ""}`);
  return { kind: "image", img };
};
