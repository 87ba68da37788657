"""Frazil's partition transforms against PyIceberg's, value by value."""
import datetime
import decimal
import json
import os
import random
import subprocess
import uuid

from pyiceberg.transforms import parse_transform
from pyiceberg.types import (BinaryType, DateType, DecimalType, FixedType, IntegerType, LongType, StringType,
                             TimestampType, TimestamptzType, UUIDType)

from conftest import REPO

TOOL = os.environ.get("FRAZIL_ICEBERG_TOOL", str(REPO / "build" / "iceberg_tool"))
WIDE = decimal.Context(prec=100)

TYPES = {
    "int": IntegerType(), "long": LongType(), "date": DateType(), "timestamp": TimestampType(),
    "timestamptz": TimestamptzType(), "string": StringType(), "binary": BinaryType(), "uuid": UUIDType(),
    "fixed[7]": FixedType(7), "decimal(38,4)": DecimalType(38, 4), "decimal(9,2)": DecimalType(9, 2),
}


def random_value(t, rng):
    if t == "int":
        return rng.choice([0, -1, 1, 2**31 - 1, -2**31, rng.randrange(-2**31, 2**31)])
    if t == "long":
        return rng.choice([0, -1, 2**63 - 1, -2**63, rng.randrange(-2**63, 2**63)])
    if t == "date":
        return rng.randrange(-700000, 2900000)  # inside Python datetime.date range
    if t in ("timestamp", "timestamptz"):
        return rng.choice([0, -1, 1, rng.randrange(-2**55, 2**55)])
    if t == "string":
        return "".join(rng.choice("aé€😀z ") for _ in range(rng.randrange(0, 12)))
    if t == "binary":
        return {"hex": os.urandom(rng.randrange(0, 12)).hex()}
    if t == "uuid":
        return {"hex": os.urandom(16).hex()}
    if t == "fixed[7]":
        return {"hex": os.urandom(7).hex()}
    digits = 38 if t.startswith("decimal(38") else 9
    return str(rng.choice([0, -1, 1, 10**digits - 1, -(10**digits - 1), rng.randrange(-(10**digits) + 1, 10**digits)]))


def to_pyiceberg(t, v):
    if t in ("binary", "fixed[7]"):
        return bytes.fromhex(v["hex"])
    if t == "uuid":
        return uuid.UUID(bytes=bytes.fromhex(v["hex"]))
    if t.startswith("decimal"):
        scale = int(t.split(",")[1].rstrip(")"))
        return decimal.Decimal(int(v)).scaleb(-scale, context=WIDE)
    return v


def from_pyiceberg(t, r):
    if r is None:
        return None
    if isinstance(r, bytes):
        return {"hex": r.hex()}
    if isinstance(r, decimal.Decimal):
        scale = int(t.split(",")[1].rstrip(")"))
        return str(int(r.scaleb(scale, context=WIDE)))
    if isinstance(r, datetime.date):
        return (r - datetime.date(1970, 1, 1)).days
    return r


def applicable(transform, t):
    if transform.startswith("truncate"):
        return t in ("int", "long", "string", "binary") or t.startswith("decimal")
    if transform in ("year", "month", "day"):
        return t in ("date", "timestamp", "timestamptz")
    if transform == "hour":
        return t in ("timestamp", "timestamptz")
    return True


def test_transforms_match_pyiceberg(tmp_path):
    rng = random.Random(11)
    cases = []
    for transform in ("identity", "bucket[16]", "bucket[1000]", "truncate[4]", "truncate[1]", "truncate[10]",
                      "year", "month", "day", "hour", "void"):
        for t in TYPES:
            if not applicable(transform, t):
                continue
            for _ in range(25):
                cases.append({"transform": transform, "type": t, "value": random_value(t, rng)})
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    p = subprocess.run([TOOL, "transform", str(spec)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ours = json.loads(p.stdout)
    assert len(ours) == len(cases)
    mismatches = []
    for case, got in zip(cases, ours):
        fn = parse_transform(case["transform"]).transform(TYPES[case["type"]])
        want = from_pyiceberg(case["type"], fn(to_pyiceberg(case["type"], case["value"])))
        if case["transform"] == "identity":
            want = case["value"]
        # Truncating the minimum int or long leaves the type's range; Iceberg's
        # reference (Java) wraps around, and so do we. PyIceberg's ints do not.
        bits = {"int": 32, "long": 64}.get(case["type"])
        if bits and case["transform"].startswith("truncate") and isinstance(want, int):
            want = (want + 2**(bits - 1)) % 2**bits - 2**(bits - 1)
        if got != want:
            mismatches.append((case, got, want))
    assert not mismatches, mismatches[:5]


def test_bucket_hash_matches_the_spec_examples(tmp_path):
    # Appendix B of the table spec lists these hash values.
    cases = [
        {"transform": "bucket[2147483647]", "type": "int", "value": 34},            # 2017239379
        {"transform": "bucket[2147483647]", "type": "long", "value": 34},           # 2017239379
        {"transform": "bucket[2147483647]", "type": "string", "value": "iceberg"},  # 1210000089
        {"transform": "bucket[2147483647]", "type": "binary", "value": {"hex": "00010203"}},  # -188683207
    ]
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    p = subprocess.run([TOOL, "transform", str(spec)], capture_output=True, text=True, check=True)
    got = json.loads(p.stdout)
    assert got == [2017239379, 2017239379, 1210000089, (-188683207 & 0x7FFFFFFF) % 2147483647]
