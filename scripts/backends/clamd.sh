#!/usr/bin/env bash
# Print the path of ClamAV's daemon (clamd), installing Debian's clamav-daemon first when it is
# missing and this runs as root with apt-get. The scanning tests start their own clamd from it
# with a temporary configuration and a database holding only a test signature for the EICAR
# string (no signature download is needed, or possible here); see tests/api/scanning.rs.
# Usage: clamd=$(scripts/backends/clamd.sh)    (progress on stderr; exit 1 when unavailable)
set -euo pipefail
log() { echo "clamd.sh: $*" >&2; }
find_clamd() { command -v clamd || { [ -x /usr/sbin/clamd ] && echo /usr/sbin/clamd; }; }

if path=$(find_clamd); then echo "$path"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing clamav-daemon"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq clamav-daemon >&2 2>/dev/null ||
    { apt-get update -qq >&2 && apt-get install -y -qq clamav-daemon >&2; }
  # The package's own services need a signature download; the tests run their own clamd.
  if command -v systemctl >/dev/null; then
    systemctl disable --now clamav-daemon clamav-freshclam >/dev/null 2>&1 || true
  fi
fi
if path=$(find_clamd); then echo "$path"; exit 0; fi
log "clamd is not available"
exit 1
