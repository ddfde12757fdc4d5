#!/usr/bin/env bash
# A real SMTP server for tests: aiosmtpd (PyPI) storing every mail in a Maildir.
# Usage: smtp-sink.sh PORT MAILDIR   (runs in the foreground; installs aiosmtpd when missing,
# see aiosmtpd.sh)
set -euo pipefail
port=${1:?port}
maildir=${2:?maildir}
python=$("$(dirname "$0")/aiosmtpd.sh")
exec "$python" -m aiosmtpd -n -l "127.0.0.1:${port}" -c aiosmtpd.handlers.Mailbox "$maildir"
