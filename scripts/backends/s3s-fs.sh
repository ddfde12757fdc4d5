#!/usr/bin/env bash
# Print the path of s3s-fs (an S3-compatible server that checks SigV4 signatures and refuses
# tampered or expired presigned URLs), building it once into a cache when it is missing:
# ${XDG_CACHE_HOME:-~/.cache}/colink/tools/bin/s3s-fs (cargo install, ≈ 5 min on 2 cores; later
# runs find it at once). The S3 tests start their own s3s-fs from it (tests/api/s3.rs).
# Usage: s3s=$(scripts/backends/s3s-fs.sh)    (progress on stderr; exit 1 when it cannot be built)
set -euo pipefail
log() { echo "s3s-fs.sh: $*" >&2; }
tools=${XDG_CACHE_HOME:-${HOME:?}/.cache}/colink/tools
bin=$tools/bin/s3s-fs

if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if command -v s3s-fs >/dev/null; then command -v s3s-fs; exit 0; fi
log "building s3s-fs 0.14.1 into $tools (once)"
mkdir -p "$tools"
# Its own target directory: the project's is not disturbed, the build is reused on failure, and
# the other tool's build (CI builds tansu in the background while the tests need s3s-fs) does
# not wait for this one's lock.
CARGO_TARGET_DIR=${S3S_TARGET_DIR:-/var/tmp/colink-tools-target/s3s-fs} \
  cargo install s3s-fs@0.14.1 --locked --features binary --root "$tools" >&2 ||
  { log "cargo install s3s-fs failed"; exit 1; }
echo "$bin"
