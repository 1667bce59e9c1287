#!/usr/bin/env bash
# Fetches Swagger UI (npm package swagger-ui-dist, Apache-2.0) into the server's static folder so
# that /docs works offline (no CDN). Idempotent. Without npm, /docs falls back to the server's own
# plain API reference page.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/src/deephealth/server/pages/static/vendor"
version="5.35.0"
if [ -f "$vendor/swagger-ui-bundle.js" ] && grep -q "$version" "$vendor/VERSION" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_server_assets: npm not found; /docs will use the plain API reference page" >&2
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
mkdir -p "$vendor"
cp "$tmp/package/swagger-ui-bundle.js" "$tmp/package/swagger-ui.css" "$tmp/package/LICENSE" "$vendor/"
echo "swagger-ui-dist $version" > "$vendor/VERSION"
