"""Agents, registered by name: a genome layout and its unpacking for the rollout kernels."""
from .layout import Layout
from .metods import KernelArrays, MetODS

AGENTS = {MetODS.kind: MetODS}


def make_agent(section: dict, task):
    """The agent of a validated spec's `agent` section (every field present), sized for `task`."""
    fields = dict(section)
    return AGENTS[fields.pop("kind")](obs_size=task.obs_size, n_actions=task.n_actions, **fields)


__all__ = ["AGENTS", "KernelArrays", "Layout", "MetODS", "make_agent"]
