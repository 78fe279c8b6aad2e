"""Agents, registered by name: a genome layout, its unpacking for the rollout kernels, and the network step they
fuse (`metods_sim.agents.base` states the contract)."""
from .base import Agent
from .feedforward import Feedforward
from .layout import Layout
from .maml import MAML
from .metods import KernelArrays, MetODS
from .pearl import PEARL
from .random import Random
from .rl2 import RL2

AGENTS = {cls.kind: cls for cls in (MetODS, RL2, Feedforward, MAML, PEARL, Random)}


def make_agent(section: dict, task):
    """The agent of a validated spec's `agent` section (every field present), sized for `task`."""
    fields = dict(section)
    return AGENTS[fields.pop("kind")](obs_size=task.obs_size, n_actions=task.n_actions, continuous=task.continuous,
                                      max_steps=task.max_steps, rollout_steps=task.rollout_length, **fields)


__all__ = ["AGENTS", "Agent", "Feedforward", "KernelArrays", "Layout", "MAML", "MetODS", "PEARL", "RL2", "Random",
           "make_agent"]
