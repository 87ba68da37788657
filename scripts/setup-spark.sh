#!/usr/bin/env bash
# Installs what tests/spark needs: pyspark (tests/requirements-spark.txt) into
# .venv, and the Iceberg Spark runtime and SQLite JDBC jars from Maven Central
# (cached in ~/.m2, copied to .spark/jars). Installs Debian's JRE and Maven
# only when `java` or `mvn` is missing. A second run does nothing.
# Prints the jar paths, comma-separated, as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

ICEBERG_VERSION=${FRAZIL_ICEBERG_VERSION:-1.12.0}
SQLITE_JDBC_VERSION=${FRAZIL_SQLITE_JDBC_VERSION:-3.54.1.0}
artifacts=(
  "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:$ICEBERG_VERSION"
  "org.xerial:sqlite-jdbc:$SQLITE_JDBC_VERSION"
)
jars=.spark/jars
req=tests/requirements-spark.txt
venv=.venv
stamp=$venv/.requirements-spark.sha256

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "setup-spark: installing Debian packages default-jre-headless maven" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq default-jre-headless maven >/dev/null
fi

scripts/setup-venv.sh
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup-spark: installing $req into $venv" >&2
  "$venv/bin/python" -m pip install -q -r "$req"
  echo "$want" >"$stamp"
fi

mkdir -p "$jars"
paths=()
for a in "${artifacts[@]}"; do
  IFS=: read -r group artifact version <<<"$a"
  jar=$jars/$artifact-$version.jar
  if [[ ! -s $jar ]]; then
    echo "setup-spark: fetching $a" >&2
    # dependency:copy resolves through ~/.m2 (downloading once) and copies the jar here.
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$a" -DoutputDirectory="$jars" >&2 || {
      echo "setup-spark: maven could not fetch $a" >&2
      exit 1
    }
  fi
  paths+=("$PWD/$jar")
done
(IFS=,; echo "${paths[*]}")
