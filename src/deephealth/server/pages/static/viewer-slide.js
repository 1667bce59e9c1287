// Whole-slide viewer: OpenSeadragon (vendored from npm) over the server's Deep Zoom tiles
// (read with ECVL's OpenSlideImage and cached), with the slide-aligned mask as an overlay.
"use strict";

window.dhSlideViewer = async (box, view) => {
  const t = window.dhViewerTools;
  if (box.dataset.osd !== "true" || !window.OpenSeadragon) {
    throw new Error("The slide viewer library (OpenSeadragon) is missing: run scripts/fetch_server_assets.sh");
  }
  const div = document.createElement("div");
  div.id = "slide-osd";
  box.append(div);
  const tiles = { requested: 0, loaded: 0 };
  const viewer = window.OpenSeadragon({
    element: div, prefixUrl: "/static/vendor/openseadragon/images/", tileSources: view.image,
    showNavigator: true, maxZoomPixelRatio: 2, crossOriginPolicy: false, loadTilesWithAjax: true,
    ajaxWithCredentials: true, drawer: "canvas",  // 2D canvas: light without a GPU too
  });
  viewer.addHandler("tile-loaded", () => { tiles.loaded += 1; });
  await new Promise((ok, bad) => {
    viewer.addOnceHandler("open", ok);
    viewer.addOnceHandler("open-failed", (e) => bad(new Error(`cannot open the slide: ${e.message}`)));
  });
  if (view.mask) {
    viewer.addTiledImage({ tileSource: view.mask, opacity: 0.4 });
    const opacity = t.range("Overlay opacity", "overlay-opacity", 0, 1, 0.05, 0.4);
    opacity.addEventListener("input", (e) => {
      const layer = viewer.world.getItemAt(1);
      if (layer) layer.setOpacity(Number(e.target.value));
    });
    if (view.maps && view.maps.length > 1) {  // a slide inference's heat maps, one per class
      const pick = t.select("Heat map", "overlay-map", view.maps.map((m) => [m.url, m.name]));
      pick.value = view.mask;
      pick.addEventListener("change", () => {
        const old = viewer.world.getItemAt(1);
        if (old) viewer.world.removeItem(old);
        viewer.addTiledImage({ tileSource: pick.value, opacity: Number(opacity.value) });
      });
    }
  }
  // Annotations (the sample's boxes and QuPath GeoJSON polygons), drawn as SVG overlays.
  const ns = "http://www.w3.org/2000/svg";
  for (const a of view.annotations) {
    const [x0, y0, x1, y1] = a.bbox;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "annotation");
    svg.setAttribute("viewBox", `${x0} ${y0} ${Math.max(1, x1 - x0)} ${Math.max(1, y1 - y0)}`);
    svg.setAttribute("preserveAspectRatio", "none");
    const poly = document.createElementNS(ns, "polygon");
    poly.setAttribute("points", a.points.map((p) => p.join(",")).join(" "));
    const title = document.createElementNS(ns, "title");
    title.textContent = a.label;
    poly.append(title);
    svg.append(poly);
    viewer.addOverlay(svg, viewer.viewport.imageToViewportRectangle(x0, y0, x1 - x0, y1 - y0));
  }
  const link = document.createElement("a");
  Object.assign(link, { id: "geojson-export", href: view.geojson,
    textContent: `Export ${view.annotations.length} annotations (GeoJSON for QuPath)` });
  document.getElementById("viewer-tools").append(link);
  const [w, h] = view.size;
  const mpp = view.mpp ? `, ${view.mpp[0].toFixed(3)} µm/pixel` : "";
  const show = () => {
    const zoom = viewer.viewport.viewportToImageZoom(viewer.viewport.getZoom(true));
    t.status(`${w}×${h} pixels, ${view.levels} level(s)${mpp}; zoom ${(zoom * 100).toFixed(0)} %; ${tiles.loaded} tiles loaded`);
  };
  viewer.addHandler("animation-finish", show);
  show();
  return { kind: "slide", viewer, tiles,
    fullResolution() { viewer.viewport.zoomTo(viewer.viewport.imageToViewportZoom(1), null, true); } };
};
