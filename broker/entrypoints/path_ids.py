"""The identifiers a route takes from its path, as wide as the columns that hold them.

An id longer than its column, or with a control character (PostgreSQL's text holds no NUL),
could never name a record: it is the caller's 422, before any query, rather than the
database's refusal. The widths are the directory's (schemas/common.py).
"""

from typing import Annotated, Any

from fastapi import Path

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def _id(max_length: int, what: str) -> Any:  # FastAPI's Path() is typed Any
    return Path(min_length=1, max_length=max_length, pattern=PRINTABLE, description=what)


OrgInPath = Annotated[str, _id(64, "an organisation's code in the directory")]
RecordInPath = Annotated[str, _id(64, "the id of a person, household or plan")]
ContactInPath = Annotated[str, _id(100, "a recipient's id, such as school-oakfield:key_adult")]
ChangeInPath = Annotated[str, _id(36, "the id of a change held for a second approval")]
KindInPath = Annotated[str, _id(20, "the kind of a registration or relationship")]
PasskeyInPath = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="a passkey's reference")]
