"""A protocol's `sweep` section: many runs of one protocol, differing in named fields and in the seed.

    sweep:
      seeds: [0, 1, 2]                 # every variant runs with each seed (default: the protocol's seed)
      agent.steps: [1, 2, 4]           # a grid axis: one variant per value
      variants:                        # an axis of named variants, each a set of field changes
        "linear": {}
        "no alpha": {agent.plasticity: none}

Variants are the product of the grid axes and the named variants (in that order); a sweep with neither has one
variant, the protocol itself. Each (variant, seed) is a complete run (its own directory, checkpoint and
results.nc); `metods_sim.experiments.sweep` gathers them into one dataset with `variant` and `seed` dims.
"""
from __future__ import annotations

import copy
import itertools

import yaml


def check(given, where, validate_run) -> dict:
    """The normalised sweep {"seeds": [int], "variants": {name: {key.path: value}}} of a raw `sweep` section, or {}
    for none. validate_run(raw changes, where-prefix) validates one variant's changes as a whole protocol, so a
    sweep over an unknown key or to a bad value fails before anything runs."""
    from ..fields import ProtocolError

    if given in (None, {}):
        return {}
    if not isinstance(given, dict):
        raise ProtocolError(f"{where('sweep')}: expected a mapping (seeds, variants, or key.path: [values]), got "
                            f"{type(given).__name__}")
    given = dict(given)
    seeds = given.pop("seeds", None)
    if seeds is not None and (not isinstance(seeds, list) or not seeds or
                              not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
                              or len(set(seeds)) != len(seeds)):
        raise ProtocolError(f"{where('sweep.seeds')}: expected a list of distinct integers >= 0, got {seeds!r}")
    named = given.pop("variants", None) or {}
    if not isinstance(named, dict) or not all(isinstance(v, dict) or v is None for v in named.values()):
        raise ProtocolError(f"{where('sweep.variants')}: expected a mapping of variant names to field changes "
                            f"({{key.path: value}}), got {named!r}")
    axes = []
    for key, values in _flatten(given).items():
        if "." not in str(key):
            raise ProtocolError(f"{where('sweep.' + str(key))}: unknown key; expected seeds, variants, or a field "
                                f"path such as agent.steps")
        if not isinstance(values, list) or not values:
            raise ProtocolError(f"{where('sweep.' + str(key))}: expected a non-empty list of values, got "
                                f"{values!r}")
        axes.append([(f"{key.split('.')[-1]}={_text(v)}", {key: v}) for v in values])
    if named:
        axes.append([(str(name), dict(changes or {})) for name, changes in named.items()])
    variants = {}
    for combination in itertools.product(*axes):
        name = " ".join(n for n, _ in combination) or "protocol"
        changes = {k: v for _, c in combination for k, v in c.items()}
        prefix = f"sweep.variants.{name}" if named else "sweep"
        validate_run(changes, prefix)
        variants[name] = changes
    return {"seeds": seeds, "variants": variants} if seeds is not None else {"variants": variants}


def _flatten(given: dict, prefix: str = "") -> dict:
    """{"agent": {"steps": [1, 2]}} (as `--set sweep.agent.steps=[1,2]` writes it) → {"agent.steps": [1, 2]}."""
    out = {}
    for key, value in given.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def apply(raw: dict, changes: dict) -> dict:
    """A copy of raw with the changes {key.path: value} written in."""
    out = copy.deepcopy(raw)
    for path, value in changes.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(value)
    return out


def _text(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
