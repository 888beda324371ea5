"""Structured logs: JSON lines with event, notice and correlation ids, and no personal data.

``drop_personal_fields`` is the last line of defence: whatever a caller passes, a key that names
personal data is replaced before rendering. Callers should pass only ids in the first place.
"""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PERSONAL_FIELDS = frozenset({
    "nhs_number", "upn", "given_name", "family_name", "name", "date_of_birth", "dob",
    "address", "postcode", "phone", "email", "clinical_summary", "accompanied_by",
    "summary", "body", "plaintext", "subject", "members", "children", "children_present",
    "if_concerns_return", "lead_professional", "action_owners",
})  # fmt: skip
REDACTED = "[redacted]"


def drop_personal_fields(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in PERSONAL_FIELDS.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_personal_fields,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
