#!/usr/bin/env bash
# Print the path of tansu (an Apache-Kafka-protocol broker written in Rust), building it once into a
# cache when it is missing: ${XDG_CACHE_HOME:-~/.cache}/colink/tools/bin/tansu (cargo install with
# the in-memory "dynostore" storage and the SQLite one, "libsql" — the only one here that keeps
# SASL/SCRAM users; ≈ 20 min on 2 cores; later runs find it at once, and a binary built with
# other features is built again). The Kafka tests start their own broker from it on a free port
# (tests/api/kafka.rs).
# Usage: tansu=$(scripts/backends/tansu.sh)    (progress on stderr; exit 1 when it cannot be built)
set -euo pipefail
log() { echo "tansu.sh: $*" >&2; }
tools=${XDG_CACHE_HOME:-${HOME:?}/.cache}/colink/tools
bin=$tools/bin/tansu
version=0.6.0
features=dynostore,libsql
# What the cached binary was built as (an older one lacked libsql).
stamp=$tools/tansu.build

if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version $features" ]; then echo "$bin"; exit 0; fi
log "building tansu $version ($features) into $tools (once)"
mkdir -p "$tools"
# Its own target directory: the project's is not disturbed, the build is reused on failure, and
# the other tool's build (CI builds tansu in the background while the tests need s3s-fs) does
# not wait for this one's lock.
CARGO_TARGET_DIR=${TANSU_TARGET_DIR:-/var/tmp/colink-tools-target/tansu} \
  cargo install "tansu@$version" --locked --no-default-features --features "$features" --root "$tools" --force >&2 ||
  { log "cargo install tansu failed"; exit 1; }
echo "$version $features" >"$stamp"
echo "$bin"
