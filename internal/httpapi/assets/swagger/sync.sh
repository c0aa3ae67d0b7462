#!/usr/bin/env bash
# Refreshes the Swagger UI files that /docs embeds from the version pinned in package-lock.json.
# CI runs it and fails when the committed files differ (a stale or hand-edited copy).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts --silent
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
  cp node_modules/swagger-ui-dist/$f dist/$f
done
# The bundle's last line points at a source map we do not ship.
sed -i '/^\/\/# sourceMappingURL=/d' dist/swagger-ui-bundle.js
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' dist/swagger-ui.css
rm -rf node_modules
