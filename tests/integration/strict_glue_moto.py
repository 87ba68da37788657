"""moto's server (same arguments as `moto_server`) with Glue's optimistic
concurrency: UpdateTable with a VersionId that is no longer the table's
current version is refused with ConcurrentModificationException, as AWS
Glue refuses it. moto 5.2.5 accepts any VersionId, so two writers racing on
one table would silently overwrite each other's commits there; the tests of
writers sharing a table (test_catalog_shared_writers.py) need the real rule.

Each refusal is logged on stderr as one line
  strict-glue: refused UpdateTable DB.TABLE version V (current C) from UA
so a test can count whose commits lost a race."""
import sys
import threading

from moto.core.exceptions import JsonRESTError
from moto.glue.responses import GlueResponse
from moto.server import main


class ConcurrentModificationException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("ConcurrentModificationException", message)


# moto's server is threaded: the check and the update are one step.
_lock = threading.Lock()
_update_table = GlueResponse.update_table


def _strict_update_table(self):
    version = self.parameters.get("VersionId")
    with _lock:
        if version is not None:
            db = self.parameters.get("DatabaseName")
            name = (self.parameters.get("TableInput") or {}).get("Name")
            table = self.glue_backend.get_table(db, name)
            current = str(table._current_version)  # what GetTable answers as VersionId
            if str(version) != current:
                agent = self.headers.get("User-Agent", "")
                print(f"strict-glue: refused UpdateTable {db}.{name} version {version} (current {current}) "
                      f"from {agent}", file=sys.stderr, flush=True)
                raise ConcurrentModificationException(
                    f"Update table failed due to concurrent modifications: version {version} is not "
                    f"the current version {current}")
        return _update_table(self)


GlueResponse.update_table = _strict_update_table

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
