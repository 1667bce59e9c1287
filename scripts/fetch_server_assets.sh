#!/usr/bin/env bash
# Fetches the front-end's third-party libraries from npm (with `npm pack`, no CDN) into the
# server's static vendor folder, so that the pages work offline:
#   swagger-ui-dist (Apache-2.0)  -> /docs
#   @niivue/niivue  (BSD-2-Clause) -> the volume viewer (NIfTI, DICOM series)
#   openseadragon   (BSD-3-Clause) -> the whole-slide viewer (Deep Zoom tiles)
# Idempotent (a VERSION file records what is there). Without npm, /docs falls back to the
# server's own plain API reference page and the viewers say that their library is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/src/deephealth/server/pages/static/vendor"
versions="swagger-ui-dist 5.35.0; @niivue/niivue 0.69.0; openseadragon 6.1.1"
if [ -f "$vendor/swagger-ui-bundle.js" ] && [ -f "$vendor/niivue.umd.js" ] \
  && [ -f "$vendor/openseadragon/openseadragon.min.js" ] \
  && [ "$(cat "$vendor/VERSION" 2>/dev/null)" = "$versions" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_server_assets: npm not found; /docs uses the plain API reference page and the" \
    "viewers are unavailable" >&2
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unpack() {  # unpack <npm spec> <folder under $tmp>
  mkdir -p "$tmp/$2"
  (cd "$tmp/$2" && npm pack --silent "$1" >/dev/null && tar xzf ./*.tgz)
}
unpack "swagger-ui-dist@5.35.0" swagger
unpack "@niivue/niivue@0.69.0" niivue
unpack "openseadragon@6.1.1" osd
mkdir -p "$vendor/openseadragon"
cp "$tmp/swagger/package/swagger-ui-bundle.js" "$tmp/swagger/package/swagger-ui.css" "$vendor/"
cp "$tmp/swagger/package/LICENSE" "$vendor/LICENSE"
cp "$tmp/niivue/package/dist/niivue.umd.js" "$vendor/"
cp -r "$tmp/osd/package/build/openseadragon/openseadragon.min.js" \
  "$tmp/osd/package/build/openseadragon/images" "$vendor/openseadragon/"
cp "$tmp/osd/package/LICENSE.txt" "$vendor/openseadragon/LICENSE.txt"
echo "$versions" > "$vendor/VERSION"
