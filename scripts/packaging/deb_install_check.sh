#!/usr/bin/env bash
# Install the deb with dpkg, check what it set up, run the systemd unit's ExecStart by hand as
# the packaged user with the packaged config (no systemd here) until /health answers, stop it
# with SIGTERM, then purge the package and check nothing of it is left.
# usage: deb_install_check.sh PACKAGE.deb   (as root, or with sudo)
set -euo pipefail
deb=$1
log() { echo "deb_install_check: $*" >&2; }
fail() { log "$*"; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"

if dpkg -s colink >/dev/null 2>&1; then
  fail "a colink package is already installed on this machine: not touching it"
fi
# A data dir left by an earlier purge of this check.
$sudo rm -rf /var/lib/colink

server=""
cleanup() {
  if [ -n "$server" ]; then $sudo kill "$server" 2>/dev/null || true; fi
  $sudo dpkg --purge colink >/dev/null 2>&1 || true
  $sudo rm -rf /var/lib/colink
}
trap cleanup EXIT

log "dpkg -i $(basename "$deb")"
$sudo dpkg -i "$deb" >/dev/null

getent passwd colink >/dev/null || fail "no colink user after install"
[ "$(getent passwd colink | cut -d: -f6)" = /var/lib/colink ] || fail "the colink user's home is not /var/lib/colink"
[ "$(stat -c '%a %U:%G' /etc/colink/config.toml)" = "640 root:colink" ] ||
  fail "/etc/colink/config.toml is $(stat -c '%a %U:%G' /etc/colink/config.toml), not 640 root:colink"
[ "$(stat -c '%a %U' /var/lib/colink)" = "700 colink" ] || fail "/var/lib/colink is not 700 colink"
# Captured, not piped into `grep -q` (a grep that exits early can SIGPIPE the writer; pipefail).
conffiles=$(dpkg-query -W -f='${Conffiles}\n' colink)
grep -q '/etc/colink/config.toml' <<<"$conffiles" ||
  fail "/etc/colink/config.toml is not a conffile"
unit=$(dpkg -L colink | grep '/systemd/system/colink.service$') || fail "the package has no colink.service"
man -w colink >/dev/null 2>&1 || [ -f /usr/share/man/man1/colink.1.gz ] || fail "no man page"

log "systemd-analyze verify $unit (any message fails)"
verify=$(cd / && systemd-analyze verify "$unit" 2>&1) || { echo "$verify" >&2; fail "systemd-analyze verify failed"; }
if [ -n "$verify" ]; then echo "$verify" >&2; fail "systemd-analyze verify printed warnings"; fi

exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "/usr/bin/colink serve --config /etc/colink/config.toml" ] ||
  fail "unexpected ExecStart: $exec_start"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "running the unit's ExecStart as colink on port $port"
out=$(mktemp)
# As systemd would: the service user's ids (setpriv execs, so $! is the server itself), the
# unit's environment, and a free port instead of the configured 8080.
$sudo setpriv --reuid=colink --regid=colink --init-groups --inh-caps=-all -- \
  env -i PATH=/usr/bin:/bin COLINK_DATA_DIR=/var/lib/colink COLINK_SERVER__BIND="127.0.0.1:$port" \
  $exec_start >"$out" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  kill -0 "$server" 2>/dev/null || { cat "$out" >&2; fail "the server exited"; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { cat "$out" >&2; fail "/health never answered"; }
[ "$(stat -c %U /var/lib/colink/secret.key)" = colink ] || fail "the server did not write its key as colink"
ready=$(curl -sS "http://127.0.0.1:$port/ready")
echo "$ready" | grep -q '"status":"ok"' || fail "/ready: $ready"
log "/health and /ready answer; stopping with SIGTERM"
$sudo kill -TERM "$server"
wait "$server" || { cat "$out" >&2; fail "the server did not exit 0 on SIGTERM"; }
server=""
grep -q "CoLink stopped" "$out" || { cat "$out" >&2; fail "no graceful stop in the log"; }

log "dpkg --purge colink"
$sudo dpkg --purge colink >/dev/null
if dpkg -s colink >/dev/null 2>&1; then fail "colink is still installed"; fi
for path in /usr/bin/colink /etc/colink "$unit" /usr/share/man/man1/colink.1.gz /usr/share/doc/colink; do
  [ ! -e "$path" ] || fail "$path is left after purge"
done
log "installed, ran as colink, stopped gracefully, purged cleanly"
