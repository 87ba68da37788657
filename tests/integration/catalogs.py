"""Which catalog a broker under test records its topic tables in: the
embedded SQL catalog (the default, DATA_DIR/catalog.db), Apache Iceberg's
REST catalog server (build/tools/frazil-rest-catalog from
scripts/setup-rest-catalog.sh; FRAZIL_REST_CATALOG_BIN overrides), Project
Nessie's Iceberg REST API (build/tools/frazil-nessie from
scripts/setup-nessie.sh; FRAZIL_NESSIE_BIN overrides) or AWS Glue emulated
by moto (glue_helpers.py).

A test that takes the `catalog` fixture (conftest.py) runs once per catalog
and reaches the catalog only through it: the `catalog:` section of the
broker's configuration, PyIceberg's catalog on the same server, and where
the table's data files are. REST and Glue run with the local warehouse only
(the `warehouse` fixture's s3 variant is skipped for them: PyIceberg would
need the S3 test server's FileIO settings in each catalog). Nessie is not
among them: it renumbers the nested field ids of the topic table's schema,
which the broker then refuses to write (test_rest_catalog.py)."""
import os
import pathlib
import subprocess
import time
import urllib.request

import pytest

from glue_helpers import MotoServer, glue_catalog_yaml, pyiceberg_glue_catalog

REPO = pathlib.Path(__file__).resolve().parents[2]
REST_LAUNCHER = os.environ.get("FRAZIL_REST_CATALOG_BIN",
                               str(REPO / "build" / "tools" / "frazil-rest-catalog"))
NESSIE_LAUNCHER = os.environ.get("FRAZIL_NESSIE_BIN", str(REPO / "build" / "tools" / "frazil-nessie"))


def wait_for_config(proc, uri, log_path, what, timeout=120):
    """Until GET uri/v1/config answers (the server is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(uri + "/v1/config", timeout=1)
            return
        except OSError:
            assert proc.poll() is None, f"{what} exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"{what} did not start within {timeout} s"
            time.sleep(0.2)


class RestServer:
    """Iceberg's RESTCatalogServer on a free loopback port, its warehouse
    under `warehouse_dir`. `broker_yaml` is what a broker needs besides the
    catalog section (nothing: the tables are local); `open()` is PyIceberg's
    catalog on it."""

    kind = "iceberg_fixture"
    broker_yaml = ""

    def __init__(self, log_path: pathlib.Path, port: int, warehouse_dir: pathlib.Path):
        if not os.access(REST_LAUNCHER, os.X_OK):
            pytest.skip(f"no REST catalog server at {REST_LAUNCHER}: run scripts/setup-rest-catalog.sh")
        self.warehouse_dir = warehouse_dir
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([REST_LAUNCHER, str(port), str(warehouse_dir)], stdout=subprocess.DEVNULL,
                                     stderr=self._log)
        self.uri = f"http://127.0.0.1:{port}"
        wait_for_config(self.proc, self.uri, log_path, "REST catalog server")

    def open(self):
        from pyiceberg.catalog.rest import RestCatalog
        return RestCatalog("rest", uri=self.uri)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self._log.close()


class NessieServer:
    """Project Nessie on a free loopback port (Iceberg REST under /iceberg),
    in-memory, its warehouse at s3://BUCKET/nessie on the S3 test server
    `s3` (whose bucket the caller made). A broker reaches the tables with
    the `s3:` section in `broker_yaml`; PyIceberg with the same keys (Nessie
    sends the endpoint and path style in its config)."""

    kind = "nessie"

    def __init__(self, log_path: pathlib.Path, port: int, s3):
        if not os.access(NESSIE_LAUNCHER, os.X_OK):
            pytest.skip(f"no Nessie at {NESSIE_LAUNCHER}: run scripts/setup-nessie.sh")
        from s3_helpers import ACCESS_KEY, BUCKET, SECRET_KEY, s3_yaml
        self.warehouse = f"s3://{BUCKET}/nessie"
        self.broker_yaml = s3_yaml(s3.endpoint)
        self.pyiceberg_props = {"s3.access-key-id": ACCESS_KEY, "s3.secret-access-key": SECRET_KEY,
                                "s3.region": "us-east-1"}
        self._log = open(log_path, "wb")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        self.proc = subprocess.Popen([NESSIE_LAUNCHER, str(port), self.warehouse, s3.endpoint],
                                     stdout=subprocess.DEVNULL, stderr=self._log, env=env)
        self.uri = f"http://127.0.0.1:{port}/iceberg"
        wait_for_config(self.proc, self.uri, log_path, "Nessie")

    def open(self):
        from pyiceberg.catalog.rest import RestCatalog
        return RestCatalog("nessie", uri=self.uri, **self.pyiceberg_props)

    stop = RestServer.stop


class SqlCatalogUnderTest:
    """The default: the embedded catalog, read by PyIceberg's SqlCatalog
    through the warehouse (local or S3)."""

    kind = "sql"
    yaml = ""

    def open(self, warehouse, data_dir):
        return warehouse.open_catalog(data_dir)

    def data_prefix(self, warehouse, data_dir, ident, table):
        return warehouse.data_prefix(data_dir, ident)


class RestCatalogUnderTest:
    kind = "rest"

    def __init__(self, server: RestServer):
        self.server = server
        self.yaml = f"catalog:\n  type: rest\n  uri: {server.uri}\n"

    def open(self, warehouse, data_dir):
        return self.server.open()

    def data_prefix(self, warehouse, data_dir, ident, table):
        # The server places tables in its own warehouse: WAREHOUSE/ns/table.
        return str(self.server.warehouse_dir.resolve() / ident.replace(".", "/") / "data")


class GlueCatalogUnderTest:
    kind = "glue"

    def __init__(self, server: MotoServer):
        self.server = server
        self.yaml = glue_catalog_yaml(server.endpoint)

    def open(self, warehouse, data_dir):
        return pyiceberg_glue_catalog(self.server.endpoint)

    def data_prefix(self, warehouse, data_dir, ident, table):
        # Glue's layout (Iceberg's and PyIceberg's): WAREHOUSE/db.db/table.
        db, name = ident.split(".")
        return str((data_dir / "warehouse" / f"{db}.db" / name / "data").resolve())
