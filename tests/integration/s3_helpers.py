"""The S3 test server (tests/s3server, built by scripts/setup-s3server.sh) for
the integration tests: a real S3 server on loopback, or its fault-injecting
proxy in front of one, and what a broker and PyIceberg need to use it."""
import os
import pathlib
import signal
import subprocess
import urllib.request

import pyarrow.fs as pafs
import pytest
from pyiceberg.catalog.sql import SqlCatalog


ACCESS_KEY = "FRAZILITKEY"
SECRET_KEY = "frazil/it+secret"
BUCKET = "frazil-it"
PREFIX = "wh"
REPO = pathlib.Path(__file__).resolve().parents[2]


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
    """The test S3 server with SigV4 checked (or, given `upstream`, the
    fault-injecting proxy in front of it, with `faults` its options such as
    ["--fail-503", "2"]). `addr` 127.0.0.1:0 picks a free port; `data_dir`
    keeps the objects in a bolt file there, across restarts."""

    def __init__(self, binary: str, addr="127.0.0.1:0", data_dir=None, upstream=None, faults=()):
        # The AWS SDK in pyarrow sends uploads aws-chunked with a trailing
        # checksum by default, which gofakes3 refuses (411): plain uploads.
        os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
        self.binary, self.data_dir, self.upstream, self.faults = binary, data_dir, upstream, list(faults)
        self._start(addr)
        self.fs = pafs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint_override=self.endpoint,
                                    scheme="http", region="us-east-1", allow_bucket_creation=True,
                                    allow_bucket_deletion=True)

    def _start(self, addr):
        args = [self.binary, "--addr", addr]
        if self.upstream:
            args += ["--upstream", self.upstream, *self.faults]
        else:
            args += ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]
            if self.data_dir:
                os.makedirs(self.data_dir, exist_ok=True)
                args += ["--dir", str(self.data_dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), f"S3 test server: unexpected first line {line!r}"
        self.address = line.removeprefix("listening on ").strip()
        self.endpoint = f"http://{self.address}"

    def keys(self, prefix: str):
        """Every object under bucket/prefix, as keys relative to the bucket."""
        infos = self.fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
        return sorted(i.path.removeprefix(BUCKET + "/") for i in infos if i.type == pafs.FileType.File)

    def injected(self) -> int:
        """Proxy mode: how many faults it injected so far (GET /__faults)."""
        with urllib.request.urlopen(f"{self.endpoint}/__faults", timeout=5) as r:
            return int(r.read().decode().strip())

    def kill(self, sig=signal.SIGKILL):
        """Stops the process at once (an outage); restart() brings it back."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)

    def restart(self):
        """The same server again, on the same port (and directory)."""
        assert self.proc.poll() is not None, "still running"
        self._start(self.address)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def s3_yaml(endpoint, extra="", max_attempts=3):
    return f"""\
s3:
  endpoint: {endpoint}
  region: us-east-1
  path_style: true
  access_key_id: {ACCESS_KEY}
  secret_access_key: {SECRET_KEY}
  connect_timeout_ms: 1000
  request_timeout_ms: 10000
  max_attempts: {max_attempts}
  retry_base_delay_ms: 20
  retry_max_delay_ms: 200
{extra}"""


def open_s3_catalog(data_dir, server: S3Server) -> SqlCatalog:
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
