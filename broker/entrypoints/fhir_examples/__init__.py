"""UK Core resources written by hand (synthetic people, NHS numbers from the 999 test range):
the FHIR endpoints' OpenAPI examples, and the resources the FHIR tests vary."""

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def example(name: str) -> dict[str, Any]:
    """One resource, freshly read (callers may change it)."""
    data: dict[str, Any] = json.loads((HERE / name).read_text())
    return data


ENCOUNTER = example("encounter_ed_baby_bruising.json")
APPOINTMENT = example("appointment_not_brought.json")
BUNDLE = example("bundle_transaction.json")
