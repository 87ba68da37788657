#!/usr/bin/env bash
# Builds tests/danube-rust (frazil-danube-rs: Danube's Rust client,
# crates.io danube-client 0.15, pinned in its Cargo.lock) with cargo, release
# profile, niced. Crates come from crates.io through cargo (~/.cargo/registry);
# the target directory is build/tools/danube-rust-target, so only the first
# build compiles the dependencies (a few minutes on 2 cores). Quick and
# silent when the binary is newer than the sources and the lock. Needs Rust
# 1.88 or newer (the locked tonic, time and jsonwebtoken say so; Debian 12's
# rustc is 1.63: use rustup), protoc (danube-core's build script generates its
# gRPC code with it) and cmake with a C compiler (aws-lc-sys, under
# jsonwebtoken), all Debian packages that scripts/install-deps.sh installs.
# Prints the binary's path on the last line.
#   FRAZIL_CARGO  the cargo to use (default: cargo on PATH, else ~/.cargo/bin/cargo)
set -euo pipefail
cd "$(dirname "$0")/.."

src=tests/danube-rust
target=${CARGO_TARGET_DIR:-$PWD/build/tools/danube-rust-target}
out=$target/release/frazil-danube-rs

cargo=${FRAZIL_CARGO:-}
if [[ -z $cargo ]]; then
  if command -v cargo >/dev/null; then
    cargo=$(command -v cargo)
  elif [[ -x $HOME/.cargo/bin/cargo ]]; then
    cargo=$HOME/.cargo/bin/cargo
  else
    echo "setup-danube-rust: cargo is missing (install Rust 1.88 or newer with rustup: Debian 12 packages 1.63; or set FRAZIL_CARGO)" >&2
    exit 1
  fi
fi
if ! rust=$("$cargo" --version 2>/dev/null | awk '{print $2}') || [[ -z $rust ]]; then
  echo "setup-danube-rust: $cargo does not run" >&2
  exit 1
fi
if [[ $(printf '%s\n' 1.88.0 "$rust" | sort -V | head -n 1) != 1.88.0 ]]; then
  echo "setup-danube-rust: $cargo is version $rust; danube-client 0.15's dependencies need Rust 1.88 or newer (rustup update)" >&2
  exit 1
fi
if ! command -v protoc >/dev/null; then
  echo "setup-danube-rust: protoc is missing (Debian protobuf-compiler; scripts/install-deps.sh installs it)" >&2
  exit 1
fi

if [[ -x $out ]] && [[ -z $(find "$src/src" "$src/Cargo.toml" "$src/Cargo.lock" -newer "$out" -type f) ]]; then
  echo "$out"
  exit 0
fi
echo "setup-danube-rust: building $out" >&2
# --locked: the exact client version the lock names, or a clear failure.
# cargo writes its progress to stderr; stdout stays for the path.
CARGO_TARGET_DIR=$target nice -n 19 "$cargo" build --release --locked \
  --manifest-path "$src/Cargo.toml" -j "${FRAZIL_JOBS:-$(nproc)}" >&2
# cargo leaves the binary's time alone when nothing needed relinking: touch
# it so the check above finds it newer than the sources.
touch "$out"
echo "$out"
