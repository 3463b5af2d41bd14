"""The one error type of the config package, and how validation errors read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration file is missing, unreadable or holds a wrong key or value."""


def _key(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a dotted key, `sources[2].kind`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _got(value: Any) -> str:
    """A short rendering of the offending value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_validation(path: Path, error: ValidationError) -> ConfigError:
    """Turn a pydantic ValidationError into one readable ConfigError naming file and key."""
    lines = []
    for item in error.errors():
        key = _key(tuple(item["loc"]))
        if item["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{key}'")
            continue
        if item["type"] == "missing":
            lines.append(f"{path}: missing key '{key}'")
            continue
        message = item["msg"]
        message = message[0].lower() + message[1:] if message else message
        lines.append(f"{path}: key '{key}': expected {message} (got {_got(item.get('input'))})")
    return ConfigError("\n".join(lines))
