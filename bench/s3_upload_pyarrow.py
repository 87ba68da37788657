"""The reference for bench/s3_upload_bench.cc: pyarrow.fs.S3FileSystem
writing the same bytes to the same S3 server. Reads the bytes from --data
(before timing), writes --count objects of --size bytes each, one after the
other, each through open_output_stream with --chunk-bytes writes, and
prints {"seconds": ..., "bytes": ..., "cpu_seconds": ...} as JSON. The first object is written
once untimed, so that the client's connection and thread pool exist.

    python bench/s3_upload_pyarrow.py --endpoint http://127.0.0.1:PORT --bucket B --prefix P
        --access-key K --secret-key S --data FILE --size BYTES --count N [--chunk-bytes C]
"""
import argparse
import json
import os
import resource
import time

# The AWS SDK in pyarrow otherwise sends uploads aws-chunked with a trailing
# checksum, which the test server (gofakes3) refuses: plain uploads, as in
# tests/integration/test_s3_warehouse.py.
os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")

import pyarrow.fs as pafs  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--chunk-bytes", type=int, default=1 << 20)
    a = ap.parse_args()
    with open(a.data, "rb") as f:
        data = memoryview(f.read(a.size))
    assert len(data) == a.size, "data file shorter than --size"
    scheme, host = a.endpoint.split("://", 1)
    fs = pafs.S3FileSystem(access_key=a.access_key, secret_key=a.secret_key, endpoint_override=host,
                           scheme=scheme, region="us-east-1")

    def write(key):
        with fs.open_output_stream(f"{a.bucket}/{key}") as out:
            for at in range(0, a.size, a.chunk_bytes):
                out.write(data[at:at + a.chunk_bytes])

    write(f"{a.prefix}/warmup")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    for i in range(a.count):
        write(f"{a.prefix}/{i}")
    seconds = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(json.dumps({"seconds": seconds, "bytes": a.size * a.count, "cpu_seconds": cpu,
                      "pyarrow": __import__("pyarrow").__version__}))


if __name__ == "__main__":
    main()
