"""Fixtures that run the real `frazil` binary on free loopback ports."""
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from s3_helpers import BUCKET, REPO, S3Server, s3server_binary
from warehouses import LocalWarehouse, S3Warehouse

FRAZIL_BIN = os.environ.get("FRAZIL_BIN", str(REPO / "build" / "frazil"))


def _ephemeral_low() -> int:
    try:
        return int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()
_handed_out = set()


def free_port() -> int:
    """A loopback port nothing listens on, for a server this session starts.

    Not one the kernel picks for bind(0): those come from the ephemeral
    range, where any outgoing connection (a client of another broker, a
    catalog call) may take it before the server binds, and where two calls
    may return the same port (a broker once got its own HTTP port as its
    Danube port). So: below the ephemeral range, and never the same twice
    in a session."""
    low, high = 10000, max(10001, _EPHEMERAL_LOW)
    for _ in range(1000):
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in [{low}, {high})")


def varint(n: int) -> bytes:
    """Base-128 varint of a non-negative int (protobuf's wire format, Avro's longs after zigzag)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def avro_long(n: int) -> bytes:
    """An Avro long: zigzag, then a varint (Avro spec, binary encoding)."""
    return varint((n << 1) ^ (n >> 63))


def http_get(port: int, path: str, timeout: float = 2.0):
    """Returns (status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Broker:
    """One `frazil serve` process with its log captured to a file."""

    def __init__(self, data_dir: pathlib.Path, log_path: pathlib.Path, extra_args=(), http_port=None,
                 listen_port=None, admin_port=None):
        self.data_dir = data_dir
        self.log_path = log_path
        self.http_port = http_port or free_port()
        self.listen_port = listen_port or free_port()
        # Danube's admin services: a free port, not the default 50051, so
        # that brokers of tests running side by side do not collide.
        self.admin_port = admin_port or free_port()
        args = [FRAZIL_BIN, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{self.listen_port}"]
        if http_port is not False:
            args += ["--http", f"127.0.0.1:{self.http_port}"]
        if admin_port is not False:
            args += ["--admin", f"127.0.0.1:{self.admin_port}"]
        args += list(extra_args)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_healthy(self, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"frazil exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, body = http_get(self.http_port, "/healthz", timeout=0.5)
                if status == 200:
                    return json.loads(body)
                last = status
            except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"/healthz not ready after {timeout}s (last: {last}):\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def start_broker(tmp_path):
    brokers = []

    def start(data_dir=None, extra_args=(), http_port=None, listen_port=None, admin_port=None):
        d = data_dir or tmp_path / "data"
        b = Broker(d, tmp_path / f"frazil-{len(brokers)}.log", extra_args, http_port, listen_port, admin_port)
        brokers.append(b)
        return b

    yield start
    for b in brokers:
        b.kill()


@pytest.fixture
def s3_server(tmp_path):
    """The S3 test server (fresh store in tmp_path) with a fresh, empty bucket."""
    server = S3Server(s3server_binary(), data_dir=tmp_path / "s3store")
    server.fs.create_dir(BUCKET)  # CreateBucket
    yield server
    server.stop()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def warehouse(request, tmp_path):
    """Each warehouse in turn: local, then a fresh bucket on the S3 test server."""
    if request.param == "local":
        yield LocalWarehouse(tmp_path)
        return
    yield S3Warehouse(tmp_path, request.getfixturevalue("s3_server"))


def run_frazil(*args, timeout=10):
    """Runs the binary to completion; returns (exit code, combined output)."""
    p = subprocess.run([FRAZIL_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode()


class DanubeRs:
    """Danube's Rust client (tests/danube-rust: danube-client 0.15 behind our
    own command line) against one broker. Each command prints one JSON object
    per line; `call` returns the last, `run` all of them."""

    def __init__(self, binary: str):
        self.binary = binary

    def argv(self, broker, cmd, *args):
        return [self.binary, "--url", f"http://127.0.0.1:{broker.listen_port}", cmd, *map(str, args)]

    def run(self, broker, cmd, *args, timeout=60):
        p = subprocess.run(self.argv(broker, cmd, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        lines = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
        assert lines, f"frazil-danube-rs {cmd} printed nothing (exit {p.returncode}): {p.stderr.decode()[-2000:]}"
        return p.returncode, lines

    def call(self, broker, cmd, *args, timeout=60):
        return self.run(broker, cmd, *args, timeout=timeout)[1][-1]

    def start(self, broker, cmd, *args):
        """A running command (a consumer), its stdout read line by line."""
        return subprocess.Popen(self.argv(broker, cmd, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


def danube_rs_binary() -> str:
    """FRAZIL_DANUBE_RS_BIN (run-tests.sh sets it), else what
    scripts/setup-danube-rust.sh builds (a no-op once built). A failed build
    fails the test: these tests are the evidence of Rust client compatibility."""
    env = os.environ.get("FRAZIL_DANUBE_RS_BIN")
    if env:
        assert os.access(env, os.X_OK), f"FRAZIL_DANUBE_RS_BIN={env} is not an executable"
        return env
    p = subprocess.run([str(REPO / "scripts" / "setup-danube-rust.sh")], capture_output=True, text=True,
                       timeout=3600)
    if p.returncode != 0:
        pytest.fail(f"scripts/setup-danube-rust.sh failed ({p.returncode}): {p.stderr.strip()[-1500:]}")
    return p.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def danube_rs():
    return DanubeRs(danube_rs_binary())


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "s3: runs against the S3 test server (tests/s3server, built by scripts/setup-s3server.sh)")
    config.addinivalue_line(
        "markers", "rest: runs against Iceberg's REST catalog server (scripts/setup-rest-catalog.sh)")
    config.addinivalue_line("markers", "glue: runs against moto as the AWS Glue endpoint (scripts/setup-venv.sh)")


@pytest.fixture
def moto_glue(tmp_path):
    """moto on a free loopback port, answering as AWS Glue (glue_helpers.py)."""
    from glue_helpers import MotoServer
    server = MotoServer(tmp_path / "moto.log", free_port())
    yield server
    server.stop()


@pytest.fixture(params=["sql", pytest.param("rest", marks=pytest.mark.rest),
                        pytest.param("glue", marks=pytest.mark.glue)])
def catalog(request, tmp_path):
    """Each catalog in turn (catalogs.py): the embedded SQL catalog, Iceberg's
    REST catalog server, Glue on moto. With the `warehouse` fixture's s3
    variant, the REST server's warehouse is the same bucket."""
    from catalogs import (GlueCatalogUnderTest, RestCatalogUnderTest, RestServer, SqlCatalogUnderTest)
    if request.param == "sql":
        yield SqlCatalogUnderTest()
        return
    if request.param == "rest":
        params = getattr(request.node, "callspec", None)
        on_s3 = params is not None and params.params.get("warehouse", "local") == "s3"
        server = RestServer(tmp_path / "rest.log", free_port(), tmp_path / "rest-warehouse",
                            s3=request.getfixturevalue("s3_server") if on_s3 else None)
        yield RestCatalogUnderTest(server)
    else:
        from glue_helpers import MotoServer
        server = MotoServer(tmp_path / "moto-catalog.log", free_port())
        yield GlueCatalogUnderTest(server)
    server.stop()
