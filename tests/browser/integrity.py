"""Subresource integrity (SRI, sha384) of the browser's own scripts, recorded beside them in
``static/js/integrity.json`` for the pages' import map and script tags to use.

    python tests/browser/integrity.py    # rewrites the manifest after a script changes
"""

import base64
import hashlib
import json
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "broker" / "entrypoints" / "web" / "static"
SCRIPTS = STATIC / "js"
MANIFEST = SCRIPTS / "integrity.json"
HASHED = ("notice-crypto.js", "vendor/noble-post-quantum.js")


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def current() -> dict[str, str]:
    """Each script's hash as the files are now, by its path under static/js."""
    return {name: sri((SCRIPTS / name).read_bytes()) for name in HASHED}


def recorded() -> dict[str, str]:
    manifest: dict[str, str] = json.loads(MANIFEST.read_text())
    return manifest


if __name__ == "__main__":
    MANIFEST.write_text(json.dumps(current(), indent=2) + "\n")
    print(MANIFEST)
