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
the table's data files are. With the `warehouse` fixture's s3 variant, the
REST server writes its metadata to the S3 test server with Iceberg's
S3FileIO, Glue's tables (metadata written by Frazil) are there too, and
PyIceberg reads them with its own S3 FileIO. Nessie is not among them: it
renumbers the nested field ids of the topic table's schema, which the
broker then refuses to write (test_rest_catalog.py)."""
import os
import pathlib
import signal
import subprocess
import time
import urllib.request

import pytest

from glue_helpers import MotoServer, glue_catalog_yaml, pyiceberg_glue_catalog
from s3_helpers import ACCESS_KEY as S3_ACCESS_KEY
from s3_helpers import BUCKET, PREFIX
from s3_helpers import SECRET_KEY as S3_SECRET_KEY

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


def files_under(path: pathlib.Path):
    return sorted(str(p) for p in path.rglob("*") if not p.is_dir()) if path.exists() else []


class RestServer:
    """Iceberg's RESTCatalogServer on a free loopback port, its warehouse
    under `warehouse_dir`, or, given the S3 test server `s3`, in its bucket
    (s3://frazil-it/wh, written by the server's own S3FileIO). The catalog
    is a SQLite file (`db`, default in warehouse_dir) that outlives the
    process: restart() brings the same catalog back on the same port."""

    kind = "iceberg_fixture"
    broker_yaml = ""  # what a broker needs besides the catalog section

    def __init__(self, log_path: pathlib.Path, port: int, warehouse_dir: pathlib.Path, s3=None, db=None):
        if not os.access(REST_LAUNCHER, os.X_OK):
            pytest.skip(f"no REST catalog server at {REST_LAUNCHER}: run scripts/setup-rest-catalog.sh")
        self.warehouse_dir, self.s3, self.log_path, self.port = warehouse_dir, s3, log_path, port
        self.db = db or warehouse_dir / "catalog.db"
        self.uri = f"http://127.0.0.1:{port}"
        self._log = open(log_path, "ab")
        self._start()

    def _start(self):
        env = dict(os.environ)
        if self.s3 is not None:
            warehouse = f"s3://{BUCKET}/{PREFIX}"
            env.update(S3_ENDPOINT=self.s3.endpoint, S3_ACCESS_KEY_ID=S3_ACCESS_KEY,
                       S3_SECRET_ACCESS_KEY=S3_SECRET_KEY, S3_REGION="us-east-1")
        else:
            warehouse = str(self.warehouse_dir)
        self.proc = subprocess.Popen([REST_LAUNCHER, str(self.port), warehouse, str(self.db)],
                                     stdout=subprocess.DEVNULL, stderr=self._log, env=env)
        wait_for_config(self.proc, self.uri, self.log_path, "REST catalog server")

    def open(self):
        """PyIceberg's catalog on it (the local warehouse)."""
        from pyiceberg.catalog.rest import RestCatalog
        return RestCatalog("rest", uri=self.uri)

    def kill(self):
        """Stops the server at once (SIGKILL): an outage; restart() ends it."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def restart(self):
        assert self.proc.poll() is not None, "still running"
        self._start()

    def pause(self):
        """SIGSTOP: connections are accepted, nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
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


def s3_properties(server):
    """PyIceberg's FileIO settings for the S3 test server."""
    return {"s3.endpoint": server.endpoint, "s3.access-key-id": S3_ACCESS_KEY,
            "s3.secret-access-key": S3_SECRET_KEY, "s3.region": "us-east-1",
            "s3.force-virtual-addressing": False}


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
        props = s3_properties(warehouse.server) if warehouse.kind == "s3" else {}
        return RestCatalog("rest", uri=self.server.uri, **props)

    def _table_path(self, ident):
        # The server places tables in its own warehouse: WAREHOUSE/ns/table.
        return ident.replace(".", "/")

    def data_prefix(self, warehouse, data_dir, ident, table):
        if warehouse.kind == "s3":
            return f"s3://{BUCKET}/{PREFIX}/{self._table_path(ident)}/data"
        return str(self.server.warehouse_dir.resolve() / self._table_path(ident) / "data")

    def objects(self, warehouse, data_dir, ident, sub=""):
        if warehouse.kind == "s3":
            return warehouse.server.keys(f"{BUCKET}/{PREFIX}/{self._table_path(ident)}/{sub}".rstrip("/"))
        return files_under(self.server.warehouse_dir / self._table_path(ident) / sub)


class GlueCatalogUnderTest:
    kind = "glue"

    def __init__(self, server: MotoServer):
        self.server = server
        self.yaml = glue_catalog_yaml(server.endpoint)

    def open(self, warehouse, data_dir):
        props = s3_properties(warehouse.server) if warehouse.kind == "s3" else {}
        return pyiceberg_glue_catalog(self.server.endpoint, **props)

    def _table_path(self, ident):
        # Glue's layout (Iceberg's and PyIceberg's): WAREHOUSE/db.db/table.
        db, name = ident.split(".")
        return f"{db}.db/{name}"

    def data_prefix(self, warehouse, data_dir, ident, table):
        if warehouse.kind == "s3":
            return f"s3://{BUCKET}/{PREFIX}/{self._table_path(ident)}/data"
        return str((data_dir / "warehouse" / self._table_path(ident) / "data").resolve())

    def objects(self, warehouse, data_dir, ident, sub=""):
        if warehouse.kind == "s3":
            return warehouse.server.keys(f"{BUCKET}/{PREFIX}/{self._table_path(ident)}/{sub}".rstrip("/"))
        return files_under(data_dir / "warehouse" / self._table_path(ident) / sub)
