#!/usr/bin/env bash
# Installs Project Nessie's server, the second Iceberg REST catalog the
# tests run against (it serves the REST API under /iceberg): the
# self-contained nessie-quarkus runner jar from Maven Central (mvn
# dependency:get, cached in ~/.m2, linked to build/tools/nessie/), and a
# launcher. Nessie needs Java 21 or newer: the launcher runs the newest JDK
# found ($FRAZIL_NESSIE_JAVA, java on PATH, /usr/lib/jvm/*). Quick and
# silent when done. Prints the launcher's path on the last line; exits 3
# (and prints nothing on stdout) when the machine has no Java 21 or newer.
#   FRAZIL_NESSIE_DIR  where to install (default build/tools)
#
# The launcher: frazil-nessie PORT WAREHOUSE_URI S3_ENDPOINT
# serves Nessie on 127.0.0.1:PORT (Iceberg REST at http://127.0.0.1:PORT/iceberg)
# with an in-memory version store (gone when it stops) and its one warehouse
# at WAREHOUSE_URI (s3://bucket/prefix: Nessie's catalog writes table
# metadata to object stores only, file:// is refused) on the S3 server at
# S3_ENDPOINT (path-style), with the keys in AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY and the region in AWS_REGION (default us-east-1).
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.99.0 # the newest nessie-quarkus on Maven Central
artifact=org.projectnessie.nessie:nessie-quarkus:$version:jar:runner
dir=${FRAZIL_NESSIE_DIR:-$PWD/build/tools}
jar=$dir/nessie/nessie-quarkus-$version-runner.jar
launcher=$dir/frazil-nessie
stamp=$dir/nessie/.setup.sha256

# The newest java of major version >= 21, or nothing.
find_java() {
  local best="" best_major=0 j major
  for j in ${FRAZIL_NESSIE_JAVA:-} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n $j && -x $j ]] || continue
    major=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
    [[ -n $major ]] || continue
    if ((major >= 21 && major > best_major)); then
      best=$j
      best_major=$major
    fi
  done
  echo "$best"
}

java=$(find_java)
if [[ -z $java ]]; then
  # Not something this script can install (Debian 12 packages no JDK 21,
  # and JDKs are not on Maven Central): exit 3 tells run-tests.sh to run
  # the other REST tests and skip Nessie's, saying why.
  echo "setup-nessie: Nessie $version needs Java 21 or newer; none found (java on PATH, /usr/lib/jvm/*, FRAZIL_NESSIE_JAVA)" >&2
  exit 3
fi
if ! command -v mvn >/dev/null; then
  echo "setup-nessie: installing Debian package maven" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq maven >/dev/null
fi

want=$( (cat "$0" && echo "$java") | sha256sum | cut -d' ' -f1)
if [[ -x $launcher && -f $jar && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$launcher"
  exit 0
fi

m2jar=$HOME/.m2/repository/org/projectnessie/nessie/nessie-quarkus/$version/nessie-quarkus-$version-runner.jar
if [[ ! -f $m2jar ]]; then
  echo "setup-nessie: fetching $artifact (about 250 MB) from Maven Central" >&2
  mvn -q -B -Dstyle.color=never dependency:get -Dartifact="$artifact" -Dtransitive=false >&2 || {
    echo "setup-nessie: maven could not fetch $artifact" >&2
    exit 1
  }
fi
mkdir -p "$dir/nessie"
ln -f "$m2jar" "$jar" 2>/dev/null || cp "$m2jar" "$jar"

cat >"$launcher" <<LAUNCHER
#!/usr/bin/env bash
# Starts Project Nessie $version (written by scripts/setup-nessie.sh).
# Usage: frazil-nessie PORT WAREHOUSE_URI S3_ENDPOINT
# (keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, region AWS_REGION)
set -euo pipefail
if [[ \$# -ne 3 || -z \${AWS_ACCESS_KEY_ID:-} || -z \${AWS_SECRET_ACCESS_KEY:-} ]]; then
  echo "usage: AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \$0 PORT s3://BUCKET/PREFIX S3_ENDPOINT" >&2
  exit 2
fi
s3=nessie.catalog.service.s3.default-options
# The S3 key pair reaches Nessie as a secret reference (urn:nessie-secret:
# quarkus:NAME reads NAME.name and NAME.secret from its own configuration).
# Tiered compilation stops at C1: it starts about a quarter sooner (3.8 s
# against 4.8-5.2 s, measured back to back at load 4) and runs briefly.
exec "$java" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \\
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="\$1" \\
  -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port=0 \\
  -Dquarkus.otel.sdk.disabled=true \\
  -Dnessie.version.store.type=IN_MEMORY \\
  -Dnessie.catalog.default-warehouse=warehouse \\
  -Dnessie.catalog.warehouses.warehouse.location="\$2" \\
  -D\$s3.endpoint="\$3" -D\$s3.path-style-access=true -D\$s3.region="\${AWS_REGION:-us-east-1}" \\
  -D\$s3.access-key=urn:nessie-secret:quarkus:frazil.s3 \\
  -Dfrazil.s3.name="\$AWS_ACCESS_KEY_ID" -Dfrazil.s3.secret="\$AWS_SECRET_ACCESS_KEY" \\
  -jar "$jar"
LAUNCHER
chmod +x "$launcher"
echo "$want" >"$stamp"
echo "$launcher"
