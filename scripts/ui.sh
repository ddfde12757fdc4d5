#!/usr/bin/env bash
# The web app's checks, as CI runs them:
#   1. ui/src/api/schema.d.ts matches the server's OpenAPI document (types are generated, never
#      written by hand);
#   2. the Vitest unit and component tests;
#   3. `npm ci && npm run build` reproduces the committed ui-dist/ exactly.
# Needs Node.js 20+ and npm; uses a debug build of `colink` for the OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/colink-target}
cargo build --quiet --bin colink
export SERVER_BIN=$CARGO_TARGET_DIR/debug/colink

cd ui
npm ci --no-audit --no-fund --loglevel=error
node scripts/gen-api.mjs --check
npm test --silent
npm run build --silent
cd ..
if ! git diff --quiet -- ui-dist || [ -n "$(git status --porcelain -- ui-dist)" ]; then
  git status --short -- ui-dist
  echo "ui.sh: ui-dist/ differs from a fresh build of ui/: run 'npm run build' in ui/ and commit ui-dist/." >&2
  exit 1
fi
echo "ui.sh: API types current, unit tests pass, ui-dist/ is the build of ui/."
