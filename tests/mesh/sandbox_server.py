"""Runs NHS England's mesh-sandbox on loopback with the test's own mailboxes and workflows.

The sandbox reads its mailboxes (``mailboxes.jsonl``) and workflows (``workflows.jsonl``)
from a folder inside its package; this launcher points it at ``SGB_MESH_SANDBOX_DATA``
instead, before the app is imported, and serves it with uvicorn on the port given.
Started by ``tests/mesh/conftest.py``: ``python sandbox_server.py PORT``. Plain HTTP: the
sandbox needs no TLS, and mesh-client speaks HTTP to a non-https URL.
"""

import os
import sys
from typing import Any

import uvicorn
from mesh_sandbox.store import canned_store

DATA = os.environ["SGB_MESH_SANDBOX_DATA"]
_initialise = canned_store.CannedStore.initialise


def _initialise_from_test_data(self: Any) -> None:
    self._canned_data_dir = DATA
    _initialise(self)


canned_store.CannedStore.initialise = _initialise_from_test_data  # type: ignore[method-assign]

from mesh_sandbox.api import app  # noqa: E402  after the patch: the store is built on import

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
