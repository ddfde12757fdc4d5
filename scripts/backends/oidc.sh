#!/usr/bin/env bash
# Install the OpenID Connect provider that stands in for Keycloak in the integration tests
# (scripts/backends/oidc-provider: the certified npm package `oidc-provider` behind a small
# Keycloak-shaped server.mjs) and print the path of its server.mjs.
#   install  copy package.json, package-lock.json and server.mjs to
#            ${COLINK_TOOLS:-$HOME/.cache/colink/tools}/oidc-provider and run `npm ci` there, unless
#            node_modules is present and was installed from the same lock file (sha256 kept in
#            .lock.sha256); prints the installed server.mjs.
#   path     print that path, installing first when the copy is missing or out of date.
# Tests then start it themselves, e.g.
#   node "$(scripts/backends/oidc.sh path)" --port 18080 --accounts accounts.json \
#     --keys keys.json --redirect-uri http://127.0.0.1:9999/api/v1/auth/oidc/keycloak/callback
# and wait for the stdout line `oidc-provider ready http://127.0.0.1:18080/realms/colink`.
# Needs node >= 20 and npm (the npm registry is the only network access).
# Usage: server=$(scripts/backends/oidc.sh install)   or   server=$(scripts/backends/oidc.sh path)
set -euo pipefail
log() { echo "oidc.sh: $*" >&2; }

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/oidc-provider"
dest="${COLINK_TOOLS:-$HOME/.cache/colink/tools}/oidc-provider"
files=(package.json package-lock.json server.mjs)

sha() { sha256sum "$1" | cut -d' ' -f1; }

# True when dest holds the same files as src and node_modules was installed from this lock.
up_to_date() {
  [ -d "$dest/node_modules/oidc-provider" ] || return 1
  [ "$(cat "$dest/.lock.sha256" 2>/dev/null)" = "$(sha "$src/package-lock.json")" ] || return 1
  local f
  for f in "${files[@]}"; do
    cmp -s "$src/$f" "$dest/$f" || return 1
  done
}

install() {
  command -v node >/dev/null || { log "node is not installed"; exit 1; }
  command -v npm >/dev/null || { log "npm is not installed"; exit 1; }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    log "node $(node --version) is too old, oidc-provider needs >= 20"
    exit 1
  fi

  mkdir -p "$dest"
  # Several test binaries may ask at the same time: one installs, the others wait.
  exec 9>"$dest/.install.lock"
  if command -v flock >/dev/null; then flock 9; fi

  local f
  for f in "${files[@]}"; do
    cmp -s "$src/$f" "$dest/$f" || cp "$src/$f" "$dest/$f"
  done

  local want
  want=$(sha "$dest/package-lock.json")
  if [ -d "$dest/node_modules/oidc-provider" ] && [ "$(cat "$dest/.lock.sha256" 2>/dev/null)" = "$want" ]; then
    log "node_modules in $dest is current, skipping npm"
  else
    log "npm ci in $dest"
    rm -f "$dest/.lock.sha256"
    # npm's output goes to stderr: stdout carries only the path.
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$dest/.lock.sha256"
  fi
  echo "$dest/server.mjs"
}

case "${1:-}" in
  install)
    install
    ;;
  path)
    if up_to_date; then
      echo "$dest/server.mjs"
    else
      install
    fi
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
