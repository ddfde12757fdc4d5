#!/usr/bin/env bash
# Print the path of a Python interpreter that can import aiosmtpd (the SMTP sink of the mail
# tests), installing aiosmtpd first when none can. Idempotent: once something works, later runs
# only find it again. In order:
#   1. python3 already has it;
#   2. the venv an earlier run made (${XDG_CACHE_HOME:-~/.cache}/colink/venv);
#   3. python3 -m pip install aiosmtpd (fails on an EXTERNALLY-MANAGED system Python, or
#      without pip: that is fine, the next steps cover it);
#   4. as root with apt-get: the distribution package python3-aiosmtpd;
#   5. a venv under the cache dir, with aiosmtpd from PyPI (on Debian, as root, python3-venv is
#      installed first when venv cannot bootstrap pip).
# Usage: py=$(scripts/backends/aiosmtpd.sh)    (progress on stderr; exit 1 when all fail)
set -euo pipefail
log() { echo "aiosmtpd.sh: $*" >&2; }
has_aiosmtpd() { "$1" -c 'import aiosmtpd' 2>/dev/null; }

venv=${XDG_CACHE_HOME:-${HOME:?}/.cache}/colink/venv
python=$(command -v python3 || true)
if [ -z "$python" ]; then
  log "python3 not found"
  exit 1
fi

if has_aiosmtpd "$python"; then echo "$python"; exit 0; fi
if [ -x "$venv/bin/python" ] && has_aiosmtpd "$venv/bin/python"; then
  echo "$venv/bin/python"
  exit 0
fi

log "installing aiosmtpd (SMTP sink for the mail tests)"
if "$python" -m pip install --quiet --disable-pip-version-check aiosmtpd >&2 2>/dev/null &&
  has_aiosmtpd "$python"; then
  echo "$python"
  exit 0
fi

as_root_with_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >&2 2>/dev/null ||
    { apt-get update -qq >&2 && apt-get install -y -qq "$@" >&2; }
}

if as_root_with_apt; then
  log "pip could not install it; trying apt-get install python3-aiosmtpd"
  if apt_install python3-aiosmtpd && has_aiosmtpd "$python"; then
    echo "$python"
    exit 0
  fi
  # apt installs for the system interpreter, which may not be the python3 on PATH (pyenv…).
  if [ -x /usr/bin/python3 ] && has_aiosmtpd /usr/bin/python3; then
    echo /usr/bin/python3
    exit 0
  fi
fi

log "creating a venv in $venv"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
if ! "$python" -m venv "$venv" >&2; then
  if as_root_with_apt; then
    apt_install python3-venv
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
  else
    log "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    exit 1
  fi
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check aiosmtpd >&2
if has_aiosmtpd "$venv/bin/python"; then
  echo "$venv/bin/python"
  exit 0
fi
log "could not install aiosmtpd"
exit 1
