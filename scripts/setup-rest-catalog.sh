#!/usr/bin/env bash
# Installs the Iceberg REST catalog server the tests run: Apache Iceberg's own
# RESTCatalogServer (iceberg-open-api's test-fixtures jar) with its runtime
# dependencies from Maven Central (resolved by tests/restcatalog/pom.xml,
# cached in ~/.m2, copied to build/tools/rest-catalog/lib), and a launcher.
# Installs Debian's JRE and Maven only when `java` or `mvn` is missing. Quick
# and silent when done. Prints the launcher's path on the last line.
#   FRAZIL_REST_CATALOG_DIR  where to install (default build/tools)
#
# The launcher: frazil-rest-catalog PORT WAREHOUSE [CATALOG_DB]
# serves the REST API on PORT (all interfaces: the fixture has no bind
# address setting), with a JDBC catalog in SQLite (CATALOG_DB, default
# WAREHOUSE/catalog.db) and tables under file://WAREHOUSE, a directory. Or
# WAREHOUSE s3://bucket/prefix (CATALOG_DB then required): the server
# writes metadata with Iceberg's S3FileIO, set up by the S3_* variables
# S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION (path-style
# requests). Extra CATALOG_* environment variables reach the catalog as
# properties (CATALOG_A_B -> a.b, CATALOG_A__B -> a-b).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${FRAZIL_REST_CATALOG_DIR:-$PWD/build/tools}
pom=tests/restcatalog/pom.xml
lib=$dir/rest-catalog/lib
launcher=$dir/frazil-rest-catalog
stamp=$dir/rest-catalog/.pom.sha256

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "setup-rest-catalog: installing Debian packages default-jre-headless maven" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq default-jre-headless maven >/dev/null
fi

want=$(cat "$pom" "$0" | sha256sum | cut -d' ' -f1)
if [[ -x $launcher && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$launcher"
  exit 0
fi

echo "setup-rest-catalog: fetching the REST catalog server into $lib" >&2
rm -rf "$lib"
mkdir -p "$lib"
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$lib" >&2 || {
  echo "setup-rest-catalog: maven could not resolve $pom" >&2
  exit 1
}

cat >"$launcher" <<LAUNCHER
#!/usr/bin/env bash
# Starts Apache Iceberg's REST catalog server (written by scripts/setup-rest-catalog.sh).
# Usage: frazil-rest-catalog PORT WAREHOUSE_DIR|s3://BUCKET/PREFIX [CATALOG_DB]
set -euo pipefail
if [[ \$# -lt 2 ]]; then
  echo "usage: \$0 PORT WAREHOUSE_DIR|s3://BUCKET/PREFIX [CATALOG_DB]" >&2
  exit 2
fi
port=\$1
case \$2 in
  s3://*)
    if [[ \$# -lt 3 ]]; then
      echo "\$0: a warehouse on S3 needs CATALOG_DB" >&2
      exit 2
    fi
    db=\$3
    mkdir -p "\$(dirname "\$db")"
    export CATALOG_WAREHOUSE=\$2
    export CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO
    export CATALOG_HTTP__CLIENT_TYPE=urlconnection
    export CATALOG_S3_PATH__STYLE__ACCESS=true
    export CATALOG_S3_ENDPOINT=\${S3_ENDPOINT:?S3_ENDPOINT is required with an s3:// warehouse}
    export CATALOG_S3_ACCESS__KEY__ID=\${S3_ACCESS_KEY_ID:?S3_ACCESS_KEY_ID is required with an s3:// warehouse}
    export CATALOG_S3_SECRET__ACCESS__KEY=\${S3_SECRET_ACCESS_KEY:?S3_SECRET_ACCESS_KEY is required with an s3:// warehouse}
    export CATALOG_CLIENT_REGION=\${S3_REGION:-us-east-1}
    # Plain uploads: test servers may refuse aws-chunked bodies with trailing checksums.
    export AWS_REQUEST_CHECKSUM_CALCULATION=\${AWS_REQUEST_CHECKSUM_CALCULATION:-WHEN_REQUIRED}
    ;;
  *)
    warehouse=\$(realpath -m "\$2")
    db=\${3:-\$warehouse/catalog.db}
    mkdir -p "\$warehouse" "\$(dirname "\$db")"
    export CATALOG_WAREHOUSE=file://\$warehouse
    ;;
esac
export CATALOG_REST_PORT=\$port
export CATALOG_URI=jdbc:sqlite:file:\$db
# The JDBC catalog wants credentials even for SQLite, which ignores them.
export CATALOG_JDBC_USER=\${CATALOG_JDBC_USER:-frazil}
export CATALOG_JDBC_PASSWORD=\${CATALOG_JDBC_PASSWORD:-frazil}
exec java -Xmx256m -XX:+UseSerialGC -cp "$lib/*" org.apache.iceberg.rest.RESTCatalogServer
LAUNCHER
chmod +x "$launcher"
echo "$want" >"$stamp"
echo "$launcher"
