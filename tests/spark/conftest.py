"""tests/spark reuses tests/integration's fixtures and helpers (Broker,
start_broker, FRAZIL_BIN, ...). pytest imports this file as the module
`conftest`, so the integration helpers that say `from conftest import ...`
find the same names here."""
import importlib.util
import pathlib
import sys

_INTEGRATION = pathlib.Path(__file__).resolve().parents[1] / "integration"
# test_topic_storage's helpers (producers, subscriptions, catalog access) and
# the integration conftest's own imports (warehouses) are found by module name.
if str(_INTEGRATION) not in sys.path:
    sys.path.append(str(_INTEGRATION))
_spec = importlib.util.spec_from_file_location("frazil_integration_conftest", _INTEGRATION / "conftest.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
sys.modules["frazil_integration_conftest"] = _mod

from frazil_integration_conftest import *  # noqa: E402,F401,F403  (fixtures and helpers)
from frazil_integration_conftest import FRAZIL_BIN, REPO, Broker, free_port, http_get, run_frazil  # noqa: E402,F401


def pytest_runtest_makereport(item, call):
    """Stops the tests' producer threads before pytest formats a failure:
    CPython 3.11's ast.parse (pytest reads the failing source with it) can
    fail with "AST constructor recursion depth mismatch" while other threads
    run Python code."""
    if call.when == "call":
        import shared_tables

        shared_tables.stop_all_producers()
