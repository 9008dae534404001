#!/usr/bin/env bash
# Vendor pdf.js (pdfjs-dist from the npm registry) into the web page's assets: the page renders
# cited PDF pages offline, with no CDN, under a strict Content-Security-Policy.
set -euo pipefail
VERSION="${1:-5.6.205}"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "pdfjs-dist@$VERSION" >/dev/null && tar xzf pdfjs-dist-*.tgz)
dest=ragkit/serve/web/vendor/pdfjs
mkdir -p "$dest"
cp "$work/package/build/pdf.min.mjs" "$work/package/build/pdf.worker.min.mjs" "$dest/"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "pdfjs-dist $VERSION (npm), build/pdf.min.mjs and build/pdf.worker.min.mjs, unchanged; Apache-2.0 (LICENSE). Refresh with scripts/vendor_pdfjs.sh." > "$dest/VERSION"
