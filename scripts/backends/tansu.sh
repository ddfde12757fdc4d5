#!/usr/bin/env bash
# Print the path of tansu (an Apache-Kafka-protocol broker written in Rust), building it once into a
# cache when it is missing: ${XDG_CACHE_HOME:-~/.cache}/colink/tools/bin/tansu (cargo install with
# the in-memory "dynostore" storage, ≈ 17 min on 2 cores; later runs find it at once). The Kafka
# tests start their own broker from it on a free port (tests/api/kafka.rs).
# Usage: tansu=$(scripts/backends/tansu.sh)    (progress on stderr; exit 1 when it cannot be built)
set -euo pipefail
log() { echo "tansu.sh: $*" >&2; }
tools=${XDG_CACHE_HOME:-${HOME:?}/.cache}/colink/tools
bin=$tools/bin/tansu
version=0.6.0

if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if command -v tansu >/dev/null; then command -v tansu; exit 0; fi
log "building tansu $version into $tools (once)"
mkdir -p "$tools"
# Its own target directory: the project's is not disturbed, the build is reused on failure, and
# the other tool's build (CI builds tansu in the background while the tests need s3s-fs) does
# not wait for this one's lock.
CARGO_TARGET_DIR=${TANSU_TARGET_DIR:-/var/tmp/colink-tools-target/tansu} \
  cargo install "tansu@$version" --locked --no-default-features --features dynostore --root "$tools" >&2 ||
  { log "cargo install tansu failed"; exit 1; }
echo "$bin"
