"""Frazil's single-value bound serialization against pyiceberg.conversions.to_bytes."""
import json
import os
import random
import struct
import subprocess

from pyiceberg.conversions import to_bytes

from test_iceberg_transforms import TYPES, random_value, to_pyiceberg
from pyiceberg.types import BooleanType, DoubleType, FloatType, TimeType

from conftest import REPO

TOOL = os.environ.get("FRAZIL_ICEBERG_TOOL", str(REPO / "build" / "iceberg_tool"))


def test_bounds_match_pyiceberg(tmp_path):
    rng = random.Random(4)
    types = dict(TYPES, boolean=BooleanType(), float=FloatType(), double=DoubleType(), time=TimeType())
    cases = []
    for t in types:
        for _ in range(30):
            if t == "boolean":
                v = rng.random() < 0.5
            elif t == "float":
                v = struct.unpack("<f", struct.pack("<f", rng.uniform(-1e30, 1e30)))[0]
            elif t == "double":
                v = rng.choice([0.0, -0.0, rng.uniform(-1e300, 1e300)])
            elif t == "time":
                v = rng.randrange(0, 86_400_000_000)
            else:
                v = random_value(t, rng)
            cases.append({"type": t, "value": v})
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    p = subprocess.run([TOOL, "bound", str(spec)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ours = json.loads(p.stdout)
    for case, got in zip(cases, ours):
        t = case["type"]
        value = case["value"] if t in ("boolean", "float", "double", "time") else to_pyiceberg(t, case["value"])
        want = to_bytes(types[t], value).hex()
        assert got == want, (case, got, want)
