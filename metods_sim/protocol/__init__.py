"""Protocol files: read, override, validate and complete a YAML experiment description.

    spec = load("protocols/harlow.yaml", overrides=["trainer.popsize=64"])

A spec is a plain nested dict holding every field (defaults filled in from `schema`), so that it can be stored
verbatim with the results. Any problem raises ProtocolError with one line naming the file, the key and what was
expected.
"""
from __future__ import annotations

import copy
import difflib
import math
import re
from pathlib import Path

import yaml

from . import sweep
from .schema import KINDED, SECTIONS, TOP, Field


class ProtocolError(ValueError):
    """A protocol that cannot run; str(error) is the one line shown to the user."""


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, reading exponents as YAML 1.2 does: PyYAML follows YAML 1.1, where 1e30, 1e-3 and
    1.5e3 (no dot, or no exponent sign) are strings, and `--set agent.init_alpha=1e30` would be refused."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"))


def load(path, overrides=(), *, seed=None) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ProtocolError(f"{path}: no such protocol file") from None
    except UnicodeDecodeError:
        raise ProtocolError(f"{path}: cannot read the protocol file (not UTF-8 text)") from None
    except OSError as error:
        raise ProtocolError(f"{path}: cannot read the protocol file ({error.strerror})") from None
    raw = parse(text, str(path))
    origins = {apply_override(raw, item): f"--set {item}" for item in overrides}
    if seed is not None:
        raw["seed"] = seed
        origins["seed"] = f"--seed {seed}"
    spec = validate(raw, str(path), origins)
    if not spec["name"]:
        spec["name"] = path.stem
    return spec


def parse(text: str, source: str) -> dict:
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise ProtocolError(f"{source}: invalid YAML{where}: {problem}") from None
    if raw is None:  # an empty file is more likely a mistake (a truncated copy) than a wish for every default
        raise ProtocolError(f"{source}: empty protocol; expected a mapping of sections (task, agent, trainer, ...), "
                            f"or {{}} for every default")
    if not isinstance(raw, dict):
        raise ProtocolError(f"{source}: expected a mapping of sections (task, agent, trainer, ...), "
                            f"got {type(raw).__name__}")
    return raw


def apply_override(raw: dict, item: str) -> str:
    """Apply one `--set key.path=value`; the value is read as YAML (`3`, `0.5`, `pgpe`, `[1, 2]`).
    Returns the key path."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ProtocolError(f"--set {item}: expected key.path=value")
    try:
        parsed = yaml.load(value, Loader=_Loader)
    except yaml.YAMLError:
        raise ProtocolError(f"--set {item}: the value is not valid YAML") from None
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ProtocolError(f"--set {item}: {part} is not a section")
        node = child
    node[parts[-1]] = parsed
    return ".".join(parts)


def validate(raw: dict, source: str, origins=None) -> dict:
    """Check a raw protocol dict and fill in defaults. origins: {key path: what set it} for keys that came from
    the command line rather than the file, so that errors name the option."""
    where = _Where(source, origins or {})
    spec = {}
    _check_unknown(raw, list(TOP) + list(SECTIONS), where, "")
    for key, field in TOP.items():
        if field.kind != "mapping":
            spec[key] = _value(raw, key, field, where, key)
    for section, fields in SECTIONS.items():
        given = raw.get(section, {})
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise ProtocolError(f"{where(section)}: expected a mapping of fields, got {_show(given)}")
        spec[section] = _section(section, fields, given, where)
    _check_together(spec, where)
    spec["sweep"] = _sweep(raw, source, where)
    return spec


def _sweep(raw, source, where):
    base = {k: v for k, v in raw.items() if k != "sweep"}

    def validate_run(changes, prefix):
        validate(sweep.apply(base, changes), source, {path: f"{source}: {prefix}: {path}" for path in changes})

    return sweep.check(raw.get("sweep"), where, validate_run)


class _Where:
    """The start of an error line: `FILE: KEY` for a key from the file, `--set KEY=VALUE` for an override."""

    def __init__(self, source, origins):
        self.source, self.origins = source, origins

    def __call__(self, path):
        return self.origins.get(path) or f"{self.source}: {path}"


def defaults(task="harlow", agent="metods", trainer="es") -> dict:
    """The complete spec of an empty protocol with the given kinds."""
    return validate({"task": {"kind": task}, "agent": {"kind": agent}, "trainer": {"kind": trainer}}, "<defaults>")


def dump(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False)


def _section(section, fields, given, where):
    if section not in KINDED:
        _check_unknown(given, list(fields), where, section + ".")
        return {key: _value(given, key, field, where, f"{section}.{key}") for key, field in fields.items()}
    default_kind, what = KINDED[section]
    kind = given.get("kind", default_kind)
    if kind not in fields:
        raise ProtocolError(f"{where(section + '.kind')}: unknown {what} {_show(kind)}; expected one of "
                            f"{', '.join(fields)}{_suggest(kind, fields)}")
    hint = ""
    if f"{section}.kind" in where.origins:   # the file's section was written for the kind it names
        hint = f"; to replace the whole section from the command line: --set '{section}={{kind: {kind}}}'"
    _check_unknown(given, ["kind"] + list(fields[kind]), where, section + ".", f" (for {section}.kind {kind})",
                   hint)
    out = {"kind": kind}
    for key, field in fields[kind].items():
        out[key] = _value(given, key, field, where, f"{section}.{key}")
    return out


def _check_unknown(given, known, where, prefix, context="", hint=""):
    for key in given:
        if key not in known:
            raise ProtocolError(f"{where(prefix + str(key))}: unknown key{context}; expected one of "
                                f"{', '.join(known)}{_suggest(key, known)}{hint}")


def _suggest(word, known):
    close = difflib.get_close_matches(str(word), list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _value(given: dict, key: str, field: Field, where, path: str):
    if key not in given:
        return copy.deepcopy(field.default)
    value = given[key]
    bad = ProtocolError(f"{where(path)}: expected {field.expected()}, got {_show(value)}")
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
        raise ProtocolError(f"{where(path)}: expected {field.expected()}, got {_show(value)}"
                            f"{_suggest(value, field.choices)}")
    if field.kind in ("int", "float"):
        if not math.isfinite(value) or (field.min is not None and value < field.min) or \
                (field.max is not None and value > field.max) or (field.above is not None and value <= field.above):
            raise bad
    return value


def _check_together(spec, where):
    from ..tasks import TASKS

    task, trainer = spec["task"], spec["trainer"]
    continuous = TASKS[task["kind"]].continuous
    if "impair" in task:
        task["impair"] = _impairment(task, where)
    if task["kind"] == "metaworld" and task["benchmark"] == "ML1":
        _check_metaworld(task, where)
    if spec["agent"]["kind"] == "random" and spec["agent"]["action"] == "zero" and not continuous:
        raise ProtocolError(f"{where('agent.action')}: expected sample with task.kind {task['kind']} (zero is the "
                            f"motionless baseline of the MuJoCo tasks), got 'zero'")
    if task["kind"] == "maze" and task["view"] % 2 == 0:
        raise ProtocolError(f"{where('task.view')}: expected an odd number (the window is centred on the agent), "
                            f"got {task['view']}")
    if trainer["kind"] == "gradient" and spec["agent"]["kind"] != "metods":
        raise ProtocolError(f"{where('trainer.kind')}: expected es with agent.kind {spec['agent']['kind']} (the "
                            f"gradient trainer differentiates MetODS's PyTorch twin, and only MetODS has one), "
                            f"got gradient")
    if trainer["kind"] != "es":   # the checks below concern ES fields
        return
    if trainer["algorithm"] == "pgpe" and trainer["popsize"] % 2:
        raise ProtocolError(f"{where('trainer.popsize')}: expected an even number with algorithm pgpe (it samples "
                            f"symmetric pairs), got {trainer['popsize']}")
    if trainer["num_actors"] and trainer["device"] != "cpu":
        raise ProtocolError(f"{where('trainer.device')}: expected cpu when trainer.num_actors > 0 (EvoTorch's Ray "
                            f"actors run on the CPU), got {trainer['device']}")


def _check_metaworld(task, where):
    from ..tasks.metaworld import known_environment, metaworld_module

    metaworld_module()   # missing: one line naming the install
    if not known_environment(task["env_name"]):
        raise ProtocolError(f"{where('task.env_name')}: expected a Meta-World ML1 environment such as reach-v3 or "
                            f"push-v3, got {task['env_name']!r}")


def _impairment(task, where) -> dict:
    """task.impair checked against the body's actuators: {frozen: [k, ...]} with 0 <= k < actuators."""
    from ..tasks import TASKS

    impair, actuators = task["impair"], TASKS[task["kind"]].actuators
    for key in impair:
        if key != "frozen":
            raise ProtocolError(f"{where('task.impair.' + str(key))}: unknown key; expected frozen")
    frozen = impair.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(k, int) and not isinstance(k, bool) and
                                               0 <= k < actuators for k in frozen):
        origin = where.origins.get("task.impair.frozen") or where.origins.get("task.impair") or \
            where.origins.get("task") or f"{where.source}: task.impair.frozen"
        raise ProtocolError(f"{origin}: expected a list of actuator indices in 0..{actuators - 1} "
                            f"({task['kind']} has {actuators} actuators), got {frozen!r}")
    return {"frozen": list(frozen)}


def _show(value):
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__}"
    return repr(value)


__all__ = ["ProtocolError", "apply_override", "defaults", "dump", "load", "parse", "validate"]
