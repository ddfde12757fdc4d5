#!/usr/bin/env bash
# Run the test suite.
#   scripts/test.sh              SQLite (the embedded default)
#   scripts/test.sh --postgres   the same suite against PostgreSQL (started if needed)
# Extra arguments go to `cargo test` (e.g. a test-name filter).
# The suite includes a real SMTP server (aiosmtpd), installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

database=sqlite
if [ "${1:-}" = "--postgres" ]; then database=postgres; shift; fi

# Install the SMTP sink now (pip, apt or a venv: see scripts/backends/aiosmtpd.sh), so the
# SMTP test finds it and may insist on it.
scripts/backends/aiosmtpd.sh >/dev/null
export COLINK_REQUIRE_SMTP=1

if [ "$database" = postgres ]; then
  url=$(scripts/backends/postgres.sh)
  # Each test creates its own database named colink_test_*: drop the ones earlier runs left.
  host_url=${url%/*}
  psql "$url" -Atc "select datname from pg_database where datname like 'colink_test_%'" |
    while read -r db; do psql "$url" -qc "drop database if exists \"$db\"" >/dev/null; done
  export COLINK_TEST_DATABASE_URL="$url"
  echo "test.sh: running against PostgreSQL at ${host_url}" >&2
else
  unset COLINK_TEST_DATABASE_URL
fi

exec cargo test "$@"
