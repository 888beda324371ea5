"""Writes the JSON Schema of every wire contract into ``schemas/json``.

``python -m schemas.generate`` rewrites them; ``--check`` fails when any is out of date, so CI
catches a model changed without its published schema.
"""

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.events import EVENT_MODELS
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice
from schemas.peers import PeerSpec
from schemas.transport import EventHeader, SealedEvent
from schemas.web_passkeys import EnrolmentAnswer

OUT = Path(__file__).parent / "json"

CONTRACTS: dict[str, type[BaseModel]] = {
    **{event_type.value: model for event_type, model in EVENT_MODELS.items()},
    "event_header": EventHeader,
    "sealed_event": SealedEvent,
    "notice_header": NoticeHeader,
    "notice_body": NoticeBody,
    "sealed_notice": SealedNotice,
    "peer": PeerSpec,  # a peer broker as registered (issue 16)
    "web_passkey_enrolment": EnrolmentAnswer,  # the web inbox's passkey.js (issue 17)
}


def rendered() -> dict[Path, str]:
    return {
        OUT / f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2) + "\n"
        for name, model in CONTRACTS.items()
    }


def stale(files: dict[Path, str]) -> list[Path]:
    expected = set(files)
    extra = [path for path in OUT.glob("*.schema.json") if path not in expected]
    changed = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    return sorted(changed + extra)


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        out_of_date = stale(files)
        for path in out_of_date:
            print(f"out of date: {path.name} (run: python -m schemas.generate)", file=sys.stderr)
        return 1 if out_of_date else 0
    OUT.mkdir(exist_ok=True)
    for path in OUT.glob("*.schema.json"):
        path.unlink()
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files)} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
