#!/usr/bin/env bash
# Builds the S3 server the tests run (tests/s3server: gofakes3 behind our
# own main, plus a fault-injecting proxy mode) with the Go toolchain, taking
# modules from the Go module proxy. Quick and silent when the binary is
# newer than its sources. Prints the binary's path on the last line.
#   FRAZIL_S3SERVER_BIN  where to put it (default build/tools/frazil-s3server)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${FRAZIL_S3SERVER_BIN:-$PWD/build/tools/frazil-s3server}
src=tests/s3server
if ! command -v go >/dev/null; then
  echo "setup-s3server: the go command is missing (install Go 1.24 or newer)" >&2
  exit 1
fi
if [[ -x "$out" ]] && [[ -z $(find "$src" -newer "$out" -type f) ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
echo "setup-s3server: building $out" >&2
# Module and build caches are Go's defaults (GOPATH, GOCACHE): kept on the
# machine, so only the first build downloads and compiles.
(cd "$src" && go build -trimpath -o "$out" .)
echo "$out"
