#!/usr/bin/env bash
# End-to-end tests of the web app: playwright-core drives Debian's Chromium against the real
# release binary (temporary data dir, free port). Screenshots go to ui/test-artifacts/.
#   scripts/e2e.sh
# Installs Chromium with apt when it is missing (once per machine) and the ui/ packages with npm.
set -euo pipefail
cd "$(dirname "$0")/.."
# Chromium, and an emoji font so reactions and screenshots look as on people's machines.
if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  echo "e2e.sh: installing Debian's chromium and fonts-noto-color-emoji (once)" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi
export CARGO_TARGET_DIR=${COLINK_RELEASE_TARGET_DIR:-/var/tmp/colink-target-release}
cargo build --release --quiet --bin colink
export SERVER_BIN=$CARGO_TARGET_DIR/release/colink
cd ui
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
node --test --test-concurrency=1 --test-reporter=spec e2e/
