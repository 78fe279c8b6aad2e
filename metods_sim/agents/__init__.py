"""Agents, registered by name: a genome layout, its unpacking for the rollout kernels, and the network step they
fuse (`metods_sim.agents.base` states the contract)."""
from .base import Agent
from .layout import Layout
from .metods import KernelArrays, MetODS

AGENTS = {cls.kind: cls for cls in (MetODS,)}


def make_agent(section: dict, task):
    """The agent of a validated spec's `agent` section (every field present), sized for `task`."""
    fields = dict(section)
    return AGENTS[fields.pop("kind")](obs_size=task.obs_size, n_actions=task.n_actions, **fields)


__all__ = ["AGENTS", "Agent", "KernelArrays", "Layout", "MetODS", "make_agent"]
