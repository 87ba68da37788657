"""Values in parquet_tool's JSON form, and their conversion to and from Arrow.

JSON form: null; ints (long, int, date days, timestamp micros); floats or
{"float": "nan"|"inf"|"-inf"}; strings; {"hex": ...} for binary/fixed/uuid;
decimals as the unscaled integer in a string; lists as arrays; maps as
arrays of [key, value] pairs."""
import datetime
import decimal
import math
import uuid

import pyarrow as pa

EPOCH = datetime.datetime(1970, 1, 1)
# decimal(38) needs more digits than the default context keeps.
WIDE = decimal.Context(prec=100)
EPOCH_TZ = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def arrow_type(spec):
    t = spec["type"]
    return {
        "boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(), "float": pa.float32(),
        "double": pa.float64(), "string": pa.string(), "binary": pa.binary(), "date": pa.date32(),
        "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"), "uuid": pa.uuid(),
    }.get(t) or (pa.binary(spec["length"]) if t == "fixed" else pa.decimal128(spec["precision"], spec["scale"]))


def _meta(i):
    return {"PARQUET:field_id": str(i)}


def arrow_field(f):
    shape = f.get("shape", "primitive")
    if shape == "list":
        elem = pa.field("element", arrow_type(f), nullable=not f.get("element_required", False), metadata=_meta(f["element_id"]))
        t = pa.list_(elem)
    elif shape == "map":
        key = pa.field("key", pa.string(), nullable=False, metadata=_meta(f["key_id"]))
        val = pa.field("value", arrow_type(f), nullable=not f.get("value_required", False), metadata=_meta(f["value_id"]))
        t = pa.map_(key, val)
    else:
        t = arrow_type(f)
    return pa.field(f["name"], t, nullable=not f.get("required", False), metadata=_meta(f["id"]))


def to_python(v, spec):
    """JSON form -> a value pyarrow accepts for the spec's type."""
    if v is None:
        return None
    t = spec["type"]
    if t in ("float", "double"):
        if isinstance(v, dict):
            return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v["float"]]
        return float(v)
    if t in ("binary", "fixed"):
        return bytes.fromhex(v["hex"])
    if t == "uuid":
        return uuid.UUID(bytes=bytes.fromhex(v["hex"]))
    if t == "decimal":
        return decimal.Decimal(int(v)).scaleb(-spec["scale"], context=WIDE)
    if t == "date":
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=v)
    if t == "timestamp":
        return EPOCH + datetime.timedelta(microseconds=v)
    if t == "timestamptz":
        return EPOCH_TZ + datetime.timedelta(microseconds=v)
    return v


def cell_to_python(cell, f):
    shape = f.get("shape", "primitive")
    if cell is None:
        return None
    if shape == "list":
        return [to_python(e, f) for e in cell]
    if shape == "map":
        return [(k, to_python(v, f)) for k, v in cell]
    return to_python(cell, f)


def arrow_table(fields, rows):
    schema = pa.schema([arrow_field(f) for f in fields])
    cols = [[cell_to_python(r[i], f) for r in rows] for i, f in enumerate(fields)]
    return pa.Table.from_arrays([pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)], schema=schema)


def from_python(v, spec):
    """A value from pyarrow's to_pylist() -> JSON form."""
    if v is None:
        return None
    t = spec["type"]
    if t in ("float", "double"):
        if math.isnan(v):
            return {"float": "nan"}
        if math.isinf(v):
            return {"float": "inf" if v > 0 else "-inf"}
        return v
    if t in ("binary", "fixed"):
        return {"hex": bytes(v).hex()}
    if t == "uuid":
        return {"hex": (v.bytes if isinstance(v, uuid.UUID) else bytes(v)).hex()}
    if t == "decimal":
        return str(int(v.scaleb(spec["scale"], context=WIDE)))
    if t == "date":
        return (v - datetime.date(1970, 1, 1)).days
    if t == "timestamp":
        d = v - EPOCH
        return d.days * 86400_000_000 + d.seconds * 1_000_000 + d.microseconds
    if t == "timestamptz":
        d = v - EPOCH_TZ
        return d.days * 86400_000_000 + d.seconds * 1_000_000 + d.microseconds
    return v


def cell_from_python(cell, f):
    shape = f.get("shape", "primitive")
    if cell is None:
        return None
    if shape == "list":
        return [from_python(e, f) for e in cell]
    if shape == "map":
        items = cell.items() if isinstance(cell, dict) else cell
        return [[k, from_python(v, f)] for k, v in items]
    return from_python(cell, f)


def rows_from_table(table, fields):
    cols = [table.column(f["name"]).to_pylist() for f in fields]
    return [[cell_from_python(cols[i][r], f) for i, f in enumerate(fields)] for r in range(table.num_rows)]


def canonical(rows):
    """Rows with float -0.0 and 0.0 kept apart and NaN comparable."""
    def c(v):
        if isinstance(v, float):
            return ("f", math.copysign(1, v), v) if v == 0 else ("f", v)
        if isinstance(v, list):
            return [c(x) for x in v]
        return v
    return [c(r) for r in rows]
