"""Building blocks shared by every wire contract."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

OrgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")]
"""An organisation's code in the directory (an ODS code, a school URN, a service code)."""

AreaCode = Annotated[str, StringConstraints(pattern=r"^[EW]\d{8}$")]
"""A local authority area by its ONS code (E06..E10 in England, W06 in Wales)."""

Upn = Annotated[str, StringConstraints(pattern=r"^[A-HJ-NP-RT-Z]\d{11}[0-9A-HJ-NP-RT-Z]$")]
"""A Unique Pupil Number: a check letter, twelve characters (the last a letter if temporary)."""

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# The directory stores these in columns of these widths (PostgreSQL refuses anything longer).
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""The id of a person, household or plan in the directory."""
ContactId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
"""A recipient's id, such as ``school-oakfield:key_adult``."""
Phone = Annotated[str, StringConstraints(min_length=1, max_length=50)]
FreeText = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class Contract(BaseModel):
    """A wire contract: immutable, strict about fields nobody agreed on, and never quoting
    a rejected value in an error's text (it may be an NHS number or a name)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True
    )

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        check_storable(value)
        return value


def check_storable(value: object) -> None:
    """Refuses text (also inside lists and mappings) holding NUL, which PostgreSQL cannot
    keep in text and no agency's record holds. (pydantic already refuses unpaired surrogates.)"""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text holds a NUL character")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)
