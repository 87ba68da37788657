"""Which catalog a broker under test records its topic tables in: the
embedded SQL catalog (the default, DATA_DIR/catalog.db), Apache Iceberg's
REST catalog server (build/tools/frazil-rest-catalog from
scripts/setup-rest-catalog.sh; FRAZIL_REST_CATALOG_BIN overrides) or AWS
Glue emulated by moto (glue_helpers.py).

A test that takes the `catalog` fixture (conftest.py) runs once per catalog
and reaches the catalog only through it: the `catalog:` section of the
broker's configuration, PyIceberg's catalog on the same server, and where
the table's data files are. REST and Glue run with the local warehouse only
(the `warehouse` fixture's s3 variant is skipped for them: PyIceberg would
need the S3 test server's FileIO settings in each catalog)."""
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


def files_under(path: pathlib.Path):
    return sorted(str(p) for p in path.rglob("*") if not p.is_dir()) if path.exists() else []


class RestServer:
    """Iceberg's RESTCatalogServer on a free loopback port, its warehouse
    under `warehouse_dir`."""

    def __init__(self, log_path: pathlib.Path, port: int, warehouse_dir: pathlib.Path):
        if not os.access(REST_LAUNCHER, os.X_OK):
            pytest.skip(f"no REST catalog server at {REST_LAUNCHER}: run scripts/setup-rest-catalog.sh")
        self.warehouse_dir = warehouse_dir
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([REST_LAUNCHER, str(port), str(warehouse_dir)], stdout=subprocess.DEVNULL,
                                     stderr=self._log)
        self.uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(self.uri + "/v1/config", timeout=1)
                break
            except OSError:
                assert self.proc.poll() is None, f"REST catalog server exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, "REST catalog server did not start within 90 s"
                time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self._log.close()


class SqlCatalogUnderTest:
    """The default: the embedded catalog, read by PyIceberg's SqlCatalog
    through the warehouse (local or S3)."""

    kind = "sql"
    yaml = ""

    def open(self, warehouse, data_dir):
        return warehouse.open_catalog(data_dir)

    def data_prefix(self, warehouse, data_dir, ident, table):
        return warehouse.data_prefix(data_dir, ident)

    def objects(self, warehouse, data_dir, ident, sub=""):
        """Every file or object under the table's location (or sub below it)."""
        return warehouse.objects(data_dir, ident, sub)


class RestCatalogUnderTest:
    kind = "rest"

    def __init__(self, server: RestServer):
        self.server = server
        self.yaml = f"catalog:\n  type: rest\n  uri: {server.uri}\n"

    def open(self, warehouse, data_dir):
        from pyiceberg.catalog.rest import RestCatalog
        return RestCatalog("rest", uri=self.server.uri)

    def data_prefix(self, warehouse, data_dir, ident, table):
        # The server places tables in its own warehouse: WAREHOUSE/ns/table.
        return str(self.server.warehouse_dir.resolve() / ident.replace(".", "/") / "data")

    def objects(self, warehouse, data_dir, ident, sub=""):
        return files_under(self.server.warehouse_dir / ident.replace(".", "/") / sub)


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

    def objects(self, warehouse, data_dir, ident, sub=""):
        db, name = ident.split(".")
        return files_under(data_dir / "warehouse" / f"{db}.db" / name / sub)
