#!/usr/bin/env bash
# A real SMTP server for tests: aiosmtpd (PyPI) storing every mail in a Maildir.
# Usage: smtp-sink.sh PORT MAILDIR   (runs in the foreground; installs aiosmtpd when missing)
set -euo pipefail
port=${1:?port}
maildir=${2:?maildir}
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd >&2
fi
exec python3 -m aiosmtpd -n -l "127.0.0.1:${port}" -c aiosmtpd.handlers.Mailbox "$maildir"
