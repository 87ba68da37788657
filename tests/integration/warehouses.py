"""Where a broker under test keeps its topic tables: the local warehouse
(file://DATA_DIR/warehouse, the default) or an S3 bucket on the S3 test
server (tests/s3server: gofakes3 behind our own main, SigV4 checked, built by
scripts/setup-s3server.sh).

A test that takes the `warehouse` fixture (conftest.py) runs once per
warehouse and reaches the tables only through it: the broker's arguments,
PyIceberg's catalog (with its own S3 FileIO on S3), the objects under a
table's location, and a DuckDB relation over a table's data files.
"""
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog

from s3_helpers import BUCKET, PREFIX, S3Server, open_s3_catalog, s3_yaml


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
