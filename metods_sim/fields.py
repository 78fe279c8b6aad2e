"""Protocol fields: the record each task, agent and trainer declares its settings with (`FIELDS`, beside its
class), and the checking of one section against them. A leaf: `metods_sim.protocol` assembles the whole schema
from the registries; a task (e.g. the Gymnasium face) checks its own keywords with `section` alone.

A class that has fields declares

    FIELDS = {"key": integer(default, "doc", min=1), ...}     # in the order `fields` and docs/protocol.md list

and, for rules that involve more than one field, `check(section, where, **other_sections)`, which raises
ProtocolError through `where(key path)` and may return a normalised section.
"""
from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from typing import Any

from .errors import UserError


class ProtocolError(UserError, ValueError):
    """A protocol that cannot run; str(error) is the one line shown to the user."""


@dataclass(frozen=True)
class Field:
    default: Any
    doc: str
    kind: str                      # "int", "float", "str", "bool", "mapping"
    choices: tuple | None = None
    min: float | None = None       # inclusive
    max: float | None = None       # inclusive
    above: float | None = None     # exclusive lower bound

    def expected(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        words = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                 "mapping": "a mapping"}[self.kind]
        bounds = []
        if self.above is not None:
            bounds.append(f"> {self.above:g}")
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        return words + (" " + " and ".join(bounds) if bounds else "")


def integer(default, doc, **kw) -> Field:
    return Field(default, doc, "int", **kw)


def number(default, doc, **kw) -> Field:
    return Field(default, doc, "float", **kw)


def choice(default, doc, choices) -> Field:
    return Field(default, doc, "str", choices=tuple(choices))


class Where:
    """The start of an error line: `FILE: KEY` for a key from the file, `--set KEY=VALUE` for an override.
    origins: {key path: what set it} for keys that came from the command line rather than the file."""

    def __init__(self, source, origins=None):
        self.source, self.origins = source, origins or {}

    def __call__(self, path):
        return self.origins.get(path) or f"{self.source}: {path}"


def show(value):
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__}"
    return repr(value)


def suggest(word, known):
    close = difflib.get_close_matches(str(word), list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def check_unknown(given, known, where, prefix, context="", hint=""):
    for key in given:
        if key not in known:
            raise ProtocolError(f"{where(prefix + str(key))}: unknown key{context}; expected one of "
                                f"{', '.join(known)}{suggest(key, known)}{hint}")


def value(given: dict, key: str, field: Field, where, path: str):
    """given[key] checked against `field` (its default when absent)."""
    if key not in given:
        return copy.deepcopy(field.default)
    value = given[key]
    bad = ProtocolError(f"{where(path)}: expected {field.expected()}, got {show(value)}")
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad
    elif field.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
    elif field.kind == "str":
        if not isinstance(value, str):
            raise bad
    elif field.kind == "bool" and not isinstance(value, bool):
        raise bad
    elif field.kind == "mapping" and not isinstance(value, dict):
        raise bad
    if field.choices and value not in field.choices:
        raise ProtocolError(f"{where(path)}: expected {field.expected()}, got {show(value)}"
                            f"{suggest(value, field.choices)}")
    if field.kind in ("int", "float"):
        if not math.isfinite(value) or (field.min is not None and value < field.min) or \
                (field.max is not None and value > field.max) or (field.above is not None and value <= field.above):
            raise bad
    return value


def kinded(section: str, registry: dict, default_kind: str, what: str, given: dict, where) -> dict:
    """A kinded section (`task`, `agent`, `trainer`) checked against the fields of the class its `kind` names
    in `registry` ({kind: class with FIELDS}); every field present, `kind` first. Cross-field checks are the
    caller's (the class's `check`)."""
    kind = given.get("kind", default_kind)
    if kind not in registry:
        raise ProtocolError(f"{where(section + '.kind')}: unknown {what} {show(kind)}; expected one of "
                            f"{', '.join(registry)}{suggest(kind, registry)}")
    fields = registry[kind].FIELDS
    hint = ""
    if f"{section}.kind" in where.origins:   # the file's section was written for the kind it names
        hint = f"; to replace the whole section from the command line: --set '{section}={{kind: {kind}}}'"
    check_unknown(given, ["kind"] + list(fields), where, section + ".", f" (for {section}.kind {kind})", hint)
    out = {"kind": kind}
    for key, field in fields.items():
        out[key] = value(given, key, field, where, f"{section}.{key}")
    return out


__all__ = ["Field", "ProtocolError", "Where", "check_unknown", "choice", "integer", "kinded", "number", "show",
           "suggest", "value"]
