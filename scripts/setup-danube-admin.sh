#!/usr/bin/env bash
# Builds the admin client the danube-admin tests run (tests/danube-admin):
# our command line over the admin gRPC stubs Danube publishes in danube-core
# 0.15.1 on crates.io, the stubs its danube-admin tool is built on.
# danube-admin itself is not on crates.io (Danube ships it as release
# binaries only), so the project cannot install it by package name.
# cargo install --locked, into build/tools/danube-admin; quick and silent when
# the binary is newer than its sources. Prints the binary's path last.
#   FRAZIL_DANUBE_ADMIN_ROOT  install root (default build/tools/danube-admin)
# The cargo target directory is the one setup-danube-rust.sh uses
# (build/tools/danube-rust-target), so that the dependencies the two tools
# share (danube-core, tonic, prost, tokio) are compiled once.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${FRAZIL_DANUBE_ADMIN_ROOT:-$PWD/build/tools/danube-admin}
src=tests/danube-admin
bin=$root/bin/frazil-danube-admin
cargo=$(command -v cargo || true)
[[ -z $cargo && -x $HOME/.cargo/bin/cargo ]] && cargo=$HOME/.cargo/bin/cargo
if [[ -z $cargo ]]; then
  echo "setup-danube-admin: cargo is missing (install Rust 1.88 or newer, e.g. with rustup)" >&2
  exit 1
fi
if [[ -x $bin ]] && [[ -z $(find "$src" -newer "$bin" -type f -not -path '*/target/*') ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$root"
echo "setup-danube-admin: building $bin (first build: a few minutes)" >&2
# Crates come from crates.io into ~/.cargo (kept on the machine); the build
# directory sits under build/tools so CI builds it once.
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/build/tools/danube-rust-target} nice -n 19 "$cargo" install --locked --quiet --force \
  --path "$src" --root "$root" >&2
echo "$bin"
