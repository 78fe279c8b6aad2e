"""Protocol files: read, override, validate and complete a YAML experiment description.

    spec = load("protocols/harlow.yaml", overrides=["trainer.popsize=64"])

A spec is a plain nested dict holding every field (defaults filled in from `schema`), so that it can be stored
verbatim with the results. Any problem raises ProtocolError with one line naming the file, the key and what was
expected.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..fields import ProtocolError, Where, check_unknown, kinded, show, value
from . import sweep
from .schema import CLASSES, KINDED, SECTIONS, TOP


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
    where = Where(source, origins)
    spec = {}
    check_unknown(raw, list(TOP) + list(SECTIONS), where, "")
    for key, field in TOP.items():
        if field.kind != "mapping":
            spec[key] = value(raw, key, field, where, key)
    for section, fields in SECTIONS.items():
        given = raw.get(section, {})
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise ProtocolError(f"{where(section)}: expected a mapping of fields, got {show(given)}")
        spec[section] = _section(section, fields, given, where)
    _check_together(spec, where)
    spec["sweep"] = _sweep(raw, source, where)
    return spec


def _sweep(raw, source, where):
    base = {k: v for k, v in raw.items() if k != "sweep"}

    def validate_run(changes, prefix):
        validate(sweep.apply(base, changes), source, {path: f"{source}: {prefix}: {path}" for path in changes})

    return sweep.check(raw.get("sweep"), where, validate_run)


def defaults(task="harlow", agent="metods", trainer=None) -> dict:
    """The complete spec of an empty protocol with the given kinds; trainer None: the one the agent needs (pearl's
    own), else es."""
    trainer = trainer or CLASSES["agent"][agent].trainer or "es"
    return validate({"task": {"kind": task}, "agent": {"kind": agent}, "trainer": {"kind": trainer}}, "<defaults>")


def dump(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False)


def _section(section, fields, given, where):
    if section not in KINDED:
        check_unknown(given, list(fields), where, section + ".")
        return {key: value(given, key, field, where, f"{section}.{key}") for key, field in fields.items()}
    default_kind, what = KINDED[section]
    return kinded(section, CLASSES[section], default_kind, what, given, where)


def _check_together(spec, where):
    """The rules across fields, each beside the class that imposes it: a task's on its own section, an agent's
    also given the task's class, a trainer's also given the agent section."""
    task = CLASSES["task"][spec["task"]["kind"]]
    spec["task"] = task.check(spec["task"], where)
    agent = CLASSES["agent"][spec["agent"]["kind"]]
    spec["agent"] = agent.check(spec["agent"], where, task=task)
    if agent.trainer and spec["trainer"]["kind"] != agent.trainer:
        raise ProtocolError(f"{where('trainer.kind')}: expected {agent.trainer} with agent.kind {agent.kind} (the "
                            f"only trainer of that agent), got {spec['trainer']['kind']}")
    spec["trainer"] = CLASSES["trainer"][spec["trainer"]["kind"]].check(spec["trainer"], where, agent=spec["agent"])


__all__ = ["ProtocolError", "apply_override", "defaults", "dump", "load", "parse", "runs", "validate"]


def runs(spec: dict):
    """(variant name, seed, complete spec of that run) for every run of a validated spec with a sweep, variants
    outermost."""
    base = {k: v for k, v in spec.items() if k != "sweep"}
    seeds = spec["sweep"].get("seeds") or [spec["seed"]]
    for name, changes in spec["sweep"]["variants"].items():
        for seed in seeds:
            raw = sweep.apply(base, changes)
            raw["seed"] = seed
            yield name, seed, validate(raw, f"sweep variant {name}")
