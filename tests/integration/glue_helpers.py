"""moto (PyPI `moto[server]`, in .venv by scripts/setup-venv.sh) as the AWS
Glue endpoint of the integration tests: a real HTTP server on a free
loopback port, started as tests/glue/moto_server.h starts it, with what a
broker (`catalog.type: glue`) and PyIceberg's GlueCatalog need to use it.
moto keeps its state in memory: it lives as long as the fixture."""
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ACCESS_KEY = "FRAZILGLUEKEY"
SECRET_KEY = "frazil/glue+secret"
REGION = "us-east-1"


def moto_binary() -> str:
    env = os.environ.get("FRAZIL_MOTO_SERVER_BIN")
    if env:
        return env
    # The venv this test runs in (tests run with .venv/bin/python).
    return str(pathlib.Path(sys.executable).parent / "moto_server")


class MotoServer:
    """strict: moto with Glue's VersionId rule for UpdateTable
    (strict_glue_moto.py), which moto itself does not enforce."""

    def __init__(self, log_path: pathlib.Path, port: int, extra_env=None, strict=False):
        bin_ = moto_binary()
        if not os.access(bin_, os.X_OK):
            pytest.skip(f"no moto_server at {bin_}: run scripts/setup-venv.sh (or set FRAZIL_MOTO_SERVER_BIN)")
        self._log = open(log_path, "wb")
        self.log_path = log_path
        self.endpoint = f"http://127.0.0.1:{port}"
        # The strict variant patches moto in this interpreter's venv.
        cmd = [sys.executable, str(pathlib.Path(__file__).parent / "strict_glue_moto.py")] if strict else [bin_]
        self.proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=dict(os.environ, **(extra_env or {})))
        deadline = time.monotonic() + 30  # a cold Python start
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                break
            except urllib.error.HTTPError:  # an answer all the same
                break
            except OSError:
                assert self.proc.poll() is None, f"moto_server exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"moto_server did not start:\n{log_path.read_text()}"
                time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self._log.close()


def glue_catalog_yaml(endpoint: str, region: str = REGION, keys: bool = True) -> str:
    """The `catalog:` section of a broker config for this moto."""
    text = f"catalog:\n  type: glue\n  endpoint: {endpoint}\n"
    if region:
        text += f"  region: {region}\n"
    if keys:
        text += f"  access_key_id: {ACCESS_KEY}\n  secret_access_key: {SECRET_KEY}\n"
    return text


def pyiceberg_glue_catalog(endpoint: str, **properties):
    """PyIceberg's GlueCatalog on this moto; `properties` add to its own
    (the FileIO's s3.* for a warehouse on S3)."""
    from pyiceberg.catalog.glue import GlueCatalog
    return GlueCatalog("glue", **{"glue.endpoint": endpoint, "glue.region": REGION,
                                  "glue.access-key-id": ACCESS_KEY, "glue.secret-access-key": SECRET_KEY,
                                  **properties})
