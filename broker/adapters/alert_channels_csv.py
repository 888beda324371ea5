"""Reads contacts' alert channels from a CSV file (``sgb contact alerts-import``).

UTF-8 (a spreadsheet's byte-order mark is fine), a header row ``contact_id,email,mobile``, one
row per channel: a contact with two email addresses and a mobile has three rows (or fewer, an
email and the mobile sharing one). A contact named in the file gets exactly the channels its
rows give. A fault raises ``CsvImportError`` naming the row and the field, never the value.
"""

import csv
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from broker.errors import CsvImportError
from schemas.alerts import AlertChannelsSpec

COLUMNS = ("contact_id", "email", "mobile")


def read_alert_channels(path: Path) -> dict[str, AlertChannelsSpec]:
    """Each contact's channels, by contact id, in the file's order."""
    emails: dict[str, list[str]] = {}
    mobiles: dict[str, list[str]] = {}
    first_row: dict[str, int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            _check_header(path.name, reader.fieldnames or [])
            for number, row in enumerate(reader, start=2):
                contact = (row.get("contact_id") or "").strip()
                if not contact:
                    raise CsvImportError(path.name, number, "contact_id", "missing")
                first_row.setdefault(contact, number)
                emails.setdefault(contact, [])
                mobiles.setdefault(contact, [])
                if email := (row.get("email") or "").strip():
                    emails[contact].append(email)
                if mobile := (row.get("mobile") or "").strip():
                    mobiles[contact].append(mobile)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvImportError(path.name, None, None, f"unreadable ({type(exc).__name__})") from None
    return {c: _spec(path.name, first_row[c], emails[c], mobiles[c]) for c in first_row}


def _check_header(file: str, header: Sequence[str]) -> None:
    for column in header:
        if column not in COLUMNS:
            raise CsvImportError(file, 1, column, f"unknown column; expected {', '.join(COLUMNS)}")
    if "contact_id" not in header:
        raise CsvImportError(file, 1, "contact_id", "missing column")


def _spec(file: str, row: int, emails: list[str], mobiles: list[str]) -> AlertChannelsSpec:
    if len(mobiles) > 1:
        raise CsvImportError(file, row, "mobile", "one mobile number per contact")
    try:
        return AlertChannelsSpec(emails=tuple(emails), mobile=mobiles[0] if mobiles else None)
    except ValidationError as exc:
        field = ".".join(str(part) for part in exc.errors()[0]["loc"]) or None
        raise CsvImportError(file, row, field, "invalid (a contact's rows from this one)") from None
