"""Where a broker under test keeps its topic tables: the local warehouse
(file://DATA_DIR/warehouse, the default) or an S3 bucket on the S3 test
server (tests/s3server: gofakes3 behind our own main, SigV4 checked, built by
scripts/setup-s3server.sh).

A test that takes the `warehouse` fixture (conftest.py) runs once per
warehouse and reaches the tables only through it: the broker's arguments,
PyIceberg's catalog (with its own S3 FileIO on S3), the objects under a
table's location, and a DuckDB relation over a table's data files.
"""
import os
import pathlib
import subprocess

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog

REPO = pathlib.Path(__file__).resolve().parents[2]

ACCESS_KEY = "FRAZILITKEY"
SECRET_KEY = "frazil/it+secret"
BUCKET = "frazil-it"
PREFIX = "wh"


def config_args(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return ["--config", str(path)]


def table_path(ident):
    """The table's directory under the warehouse: default.t -> default/t."""
    return ident.replace(".", "/")


def open_local_catalog(data_dir: pathlib.Path) -> SqlCatalog:
    """PyIceberg on the broker's catalog with the default warehouse."""
    return SqlCatalog("frazil", uri=f"sqlite:///{data_dir / 'catalog.db'}",
                      warehouse=f"file://{data_dir.resolve()}/warehouse")


# ---------------------------------------------------------------- the S3 test server

def s3server_binary() -> str:
    env = os.environ.get("FRAZIL_S3SERVER_BIN")
    if env and os.access(env, os.X_OK):
        return env
    # No-op while the binary is newer than its sources.
    p = subprocess.run([str(REPO / "scripts" / "setup-s3server.sh")], capture_output=True, text=True,
                       timeout=900, env=dict(os.environ, **({"FRAZIL_S3SERVER_BIN": env} if env else {})))
    if p.returncode != 0:
        pytest.skip(f"no S3 test server: scripts/setup-s3server.sh failed ({p.returncode}): "
                    f"{p.stderr.strip()[-500:]}")
    return p.stdout.strip().splitlines()[-1]


class S3Server:
    """The test S3 server on a free loopback port, with SigV4 checked; in
    memory, or persistent in store_dir."""

    def __init__(self, binary: str, store_dir=None):
        # The AWS SDK in pyarrow sends uploads aws-chunked with a trailing
        # checksum by default, which gofakes3 refuses (411): plain uploads.
        os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
        args = [binary, "--addr", "127.0.0.1:0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]
        if store_dir is not None:
            pathlib.Path(store_dir).mkdir(parents=True, exist_ok=True)
            args += ["--dir", str(store_dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), f"S3 test server: unexpected first line {line!r}"
        self.address = line.removeprefix("listening on ").strip()
        self.endpoint = f"http://{self.address}"
        self.fs = pafs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint_override=self.endpoint,
                                    scheme="http", region="us-east-1", allow_bucket_creation=True,
                                    allow_bucket_deletion=True)

    def keys(self, prefix: str):
        """Every object under bucket/prefix (a directory: "b/wh/t" does not
        match "b/wh/t2/..."), as keys relative to the bucket."""
        infos = self.fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
        return sorted(i.path.removeprefix(BUCKET + "/") for i in infos if i.type == pafs.FileType.File)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def s3_yaml(endpoint, extra=""):
    return f"""\
s3:
  endpoint: {endpoint}
  region: us-east-1
  path_style: true
  access_key_id: {ACCESS_KEY}
  secret_access_key: {SECRET_KEY}
  connect_timeout_ms: 1000
  request_timeout_ms: 10000
  max_attempts: 3
  retry_base_delay_ms: 20
  retry_max_delay_ms: 200
{extra}"""


def open_s3_catalog(data_dir: pathlib.Path, server: S3Server) -> SqlCatalog:
    """PyIceberg on the broker's catalog, reading the files with its own S3 FileIO."""
    return SqlCatalog("frazil", **{
        "uri": f"sqlite:///{data_dir / 'catalog.db'}",
        "warehouse": f"s3://{BUCKET}/{PREFIX}",
        "s3.endpoint": server.endpoint,
        "s3.access-key-id": ACCESS_KEY,
        "s3.secret-access-key": SECRET_KEY,
        "s3.region": "us-east-1",
        "s3.force-virtual-addressing": False,  # path style, as the test server needs
    })


# ---------------------------------------------------------------- the warehouses

class LocalWarehouse:
    """The default: tables under DATA_DIR/warehouse on the local disk."""

    kind = "local"

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path

    def broker_args(self, name="broker", config=""):
        """`frazil serve` arguments for this warehouse, with config (YAML,
        may be empty) as the broker's configuration file."""
        return config_args(self.tmp_path, name, config) if config else []

    def open_catalog(self, data_dir: pathlib.Path) -> SqlCatalog:
        return open_local_catalog(data_dir)

    def data_prefix(self, data_dir, ident):
        """What the paths of the table's data files start with."""
        return str((data_dir / "warehouse" / table_path(ident) / "data").resolve())

    def objects(self, data_dir, ident, sub=""):
        """Every file under the table's location (or its subdirectory sub)."""
        path = data_dir / "warehouse" / table_path(ident) / sub
        return sorted(str(p) for p in path.rglob("*") if not p.is_dir()) if path.exists() else []

    def parquet_relation(self, con, files):
        """A DuckDB relation (SQL text) over the given data files: read_parquet."""
        return f"read_parquet({files})"


class S3Warehouse:
    """`storage.warehouse: s3://frazil-it/wh` on the S3 test server."""

    kind = "s3"

    def __init__(self, tmp_path, server: S3Server):
        self.tmp_path = tmp_path
        self.server = server
        self.uri = f"s3://{BUCKET}/{PREFIX}"
        self._relations = 0

    def broker_args(self, name="broker", config=""):
        return config_args(self.tmp_path, name, config + s3_yaml(self.server.endpoint)) + ["--warehouse", self.uri]

    def open_catalog(self, data_dir: pathlib.Path) -> SqlCatalog:
        return open_s3_catalog(data_dir, self.server)

    def data_prefix(self, data_dir, ident):
        return f"{self.uri}/{table_path(ident)}/data"

    def objects(self, data_dir, ident, sub=""):
        """Every object under the table's location (or sub below it) in the bucket."""
        return self.server.keys(f"{BUCKET}/{PREFIX}/{table_path(ident)}/{sub}".rstrip("/"))

    def parquet_relation(self, con, files):
        """DuckDB's httpfs extension is downloaded from extensions.duckdb.org,
        which test machines may not reach: pyarrow.parquet reads the files
        over pyarrow's S3FileSystem, DuckDB queries what it read."""
        tables = [pq.read_table(f.removeprefix("s3://"), filesystem=self.server.fs) for f in files]
        self._relations += 1
        name = f"s3_data_files_{self._relations}"
        con.register(name, pa.concat_tables(tables))
        return name
