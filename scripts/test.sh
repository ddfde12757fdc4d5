#!/usr/bin/env bash
# Run the test suite.
#   scripts/test.sh              SQLite (the embedded default)
#   scripts/test.sh --postgres   the same suite against PostgreSQL (started if needed)
# With COLINK_TEST_KV=redis the servers under test keep their kv state in Redis.
# Extra arguments go to `cargo test` (e.g. a test-name filter).
# The suite includes a real SMTP server (aiosmtpd), clamd, Redis and an S3 server (s3s-fs), installed
# here when missing (s3s-fs is built once into ~/.cache/colink/tools, about 5 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

database=sqlite
if [ "${1:-}" = "--postgres" ]; then database=postgres; shift; fi

# Install the SMTP sink now (pip, apt or a venv: see scripts/backends/aiosmtpd.sh), so the
# SMTP test finds it and may insist on it.
scripts/backends/aiosmtpd.sh >/dev/null
export COLINK_REQUIRE_SMTP=1
# The same for ClamAV's daemon (the virus-scanning tests start their own with a test signature).
scripts/backends/clamd.sh >/dev/null
export COLINK_REQUIRE_CLAMD=1
# And an S3 server that checks signatures (s3s-fs, built once into ~/.cache/colink/tools).
scripts/backends/s3s-fs.sh >/dev/null
export COLINK_REQUIRE_S3=1
# Redis, for the kv contract tests (both backends) and COLINK_TEST_KV=redis.
COLINK_TEST_REDIS_URL=$(scripts/backends/redis.sh)
export COLINK_TEST_REDIS_URL

if [ "$database" = postgres ]; then
  url=$(scripts/backends/postgres.sh)
  # Each test creates its own database colink_test_<UUIDv7>: drop the ones earlier runs left,
  # if they are over an hour old (the UUID starts with its creation time in ms), so that a run
  # going on beside this one keeps its databases. A database still in use is left alone.
  host_url=${url%/*}
  cutoff_ms=$(( ($(date +%s) - 3600) * 1000 ))
  psql "$url" -Atc "select datname from pg_database where datname like 'colink_test_%'" |
    while read -r db; do
      created_ms=$(( 16#${db:12:12} )) 2>/dev/null || continue
      if [ "$created_ms" -lt "$cutoff_ms" ]; then
        psql "$url" -qc "drop database if exists \"$db\"" >/dev/null 2>&1 || true
      fi
    done
  export COLINK_TEST_DATABASE_URL="$url"
  echo "test.sh: running against PostgreSQL at ${host_url}" >&2
else
  unset COLINK_TEST_DATABASE_URL
fi

exec cargo test "$@"
