#!/usr/bin/env bash
# The contract run: schemathesis (every check, a bounded number of examples per operation)
# against the real release server, over every route including auth. Fails on any failure.
#   scripts/contract.sh [extra schemathesis arguments]
# Installs schemathesis into a venv under $COLINK_TOOLS (default /var/tmp/colink-tools) once;
# builds the release binary into $COLINK_RELEASE_TARGET_DIR (default /var/tmp/colink-target-release).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${COLINK_TOOLS:-/var/tmp/colink-tools}
schemathesis_version=4.32.5
venv=$tools/schemathesis-$schemathesis_version
examples=${COLINK_CONTRACT_EXAMPLES:-20}

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "contract.sh: installing schemathesis $schemathesis_version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$schemathesis_version"
fi

export CARGO_TARGET_DIR=${COLINK_RELEASE_TARGET_DIR:-/var/tmp/colink-target-release}
cargo build --release --quiet --bin colink
binary=$CARGO_TARGET_DIR/release/colink

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
# Fuzzing sends thousands of requests as one user from one address: lift the per-user and
# per-address limits (their 429 answers are still documented and tested elsewhere).
writes=()
for write in MESSAGES REPLIES REACTIONS CONVERSATIONS INVITES WS_TICKETS UPLOADS; do
  writes+=("COLINK_LIMITS__WRITES__${write}__CAPACITY=1000000000"
           "COLINK_LIMITS__WRITES__${write}__PER_MINUTE=1000000000")
done
env "${writes[@]}" COLINK_DATA_DIR="$work/data" COLINK_SERVER__BIND="127.0.0.1:$port" \
  COLINK_TELEMETRY__LEVEL=warn \
  COLINK_LIMITS__LOGIN_PER_IP__MAX=1000000 COLINK_LIMITS__LOGIN_PER_ACCOUNT__MAX=1000000 \
  COLINK_LIMITS__REGISTER_PER_IP__MAX=1000000 COLINK_LIMITS__PASSWORD_RESET_PER_IP__MAX=1000000 \
  COLINK_LIMITS__SECOND_FACTOR_PER_USER__MAX=1000000 \
  "$binary" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done
python3 scripts/contract/fixture.py "$base/api/v1" "$(cat "$work/data/setup-token")" "$work"

cd "$work"
status=0
COLINK_CONTRACT_FIXTURE=$work/fixture.json SCHEMATHESIS_HOOKS=hooks \
  PYTHONPATH="$OLDPWD/scripts/contract" \
  "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" \
  --url "$base/api/v1" --checks all --max-examples "$examples" --seed 1 \
  --no-color "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "contract.sh: schemathesis failed; the server's log:" >&2
  tail -50 "$work/server.log" >&2
fi
exit $status
