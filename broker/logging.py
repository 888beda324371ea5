"""Structured logs: JSON lines with event, notice and correlation ids, and no personal data.

``drop_personal_fields`` is the last line of defence: whatever a caller passes, a key that names
personal data is replaced before rendering. Callers should pass only ids in the first place.
"""

import logging
import sys
import traceback
from collections.abc import MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

PERSONAL_FIELDS = frozenset({
    "nhs_number", "upn", "given_name", "family_name", "name", "date_of_birth", "dob",
    "address", "postcode", "phone", "email", "clinical_summary", "accompanied_by",
    "summary", "body", "plaintext", "subject", "members", "children", "children_present",
    "if_concerns_return", "lead_professional", "action_owners",
})  # fmt: skip
REDACTED = "[redacted]"
HANDLER_NAME = "sgb-json"


def drop_personal_fields(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in PERSONAL_FIELDS.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


def summarise_exception(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Keeps an exception's type and where it was raised, never its message: messages from
    validation and database errors can quote the very values we must not log."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info and exc_info[0] is not None:
        frames = traceback.extract_tb(exc_info[2])
        where = [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames[-5:]]
        event_dict["exception"] = {"type": exc_info[0].__name__, "where": where}
    return event_dict


SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    drop_personal_fields,
    summarise_exception,
]


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """Routes structlog and the standard library (aiokafka, uvicorn) through one renderer."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=SHARED_PROCESSORS,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level)


def log_crashes() -> None:
    """An exception nothing caught ends the process through the logger (its type and where,
    as ``summarise_exception`` keeps them), never as a printed traceback: the message and
    the locals of a traceback can quote the very values the logs must not hold."""

    def crashed(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            return
        if not any(h.get_name() == HANDLER_NAME for h in logging.getLogger().handlers):
            configure_logging()
        structlog.get_logger(__name__).critical("crashed", exc_info=(kind, exc, tb))

    sys.excepthook = crashed
