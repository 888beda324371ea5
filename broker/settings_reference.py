"""docs/settings.md from the Settings model (broker.config): each environment variable, its
type, default and description, so the reference cannot drift from the code.

    python -m broker.config           # writes docs/settings.md
    python -m broker.config --check   # exit 1 when docs/settings.md is not current (make lint)
"""

import sys
import types
import typing
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from broker.config import Settings

REFERENCE = Path(__file__).parents[1] / "docs" / "settings.md"
HEADER = """# Settings reference

Generated from `broker/config.py` by `python -m broker.config` (`make lint` checks it is
current): do not edit by hand.

Every setting is an environment variable (`SGB_` and the name; a nested setting joins its
parts with `__`), or a key in the TOML file `SGB_SETTINGS_FILE` names (nested settings as
tables: `[routing]`, `[webhooks]`); the environment wins. A list may be given as a comma
list (`SGB_ADMINISTRATORS=la-front-door,icb-demo`) or as a JSON list; any other structured
value as JSON.

| Variable | Type | Default | What it is |
|---|---|---|---|
"""


def render() -> str:
    return HEADER + "".join(_line(*row) for row in _rows(Settings, "SGB_"))


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        nested = _model_of(field.annotation)
        if nested is not None:
            yield from _rows(nested, variable + "__")
        else:
            yield variable, field


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _line(variable: str, field: FieldInfo) -> str:
    about = (field.description or "").replace("\n", " ").replace("|", "\\|")
    return f"| `{variable}` | {_type(field.annotation)} | {_default(field)} | {about} |\n"


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(str(m.value) for m in annotation)
    return getattr(annotation, "__name__", str(annotation)).replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    value = field.default
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "(required)"
    if isinstance(value, SecretStr):
        return "(empty)" if not value.get_secret_value() else "(secret)"
    if isinstance(value, dict):
        return "; ".join(f"{_plain(k)}: {_plain(v)}" for k, v in value.items()) or "{}"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "(empty)"
    return f"`{_plain(value)}`" if value not in (None, "") else "(none)"


def _plain(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("|", "\\|")


def main(argv: Sequence[str]) -> int:
    text = render()
    if "--check" in argv:
        if not REFERENCE.exists() or REFERENCE.read_text(encoding="utf-8") != text:
            print(f"{REFERENCE.name} is not current: run python -m broker.config", file=sys.stderr)
            return 1
        return 0
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(text, encoding="utf-8")
    print(f"wrote {REFERENCE}")
    return 0
