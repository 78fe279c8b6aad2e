"""PyTorch twins of the agents, registered by agent kind: the same genome and the same step as the agent's Numba
functions, in torch, so that an episode can be differentiated (`rollout.twin` plays and replays episodes with any
of them; the gradient trainer backpropagates through them). Each agent's tests check its twin against the fused
kernel to 1e-8 in float64.

    twin = twin_for(agent)
    arrays = twin.arrays(params)               params (P, size) tensor → the genome as tensors with a leading
                                               axis P (views keeping the graph)
    state = twin.start(rows, noise)            rows: arrays spread over B rows (`rollout.twin.per_row`; one
                                               member, leading axis 1, is left to broadcast); noise (B, ...) the
                                               rows' `agent.episode_noise`. The state at t = 0: a tuple of (B, ...)
                                               tensors, and plain settings (ints) where the step needs them
    logits, value, state, (W, v) = twin.step(rows, state, x)
                                               x (B, d_in) = [o_t, a_{t−1}, r_{t−1}] → logits (B, A) (a continuous
                                               task: the Gaussian's mean), value (B,), the state after the step,
                                               and what a recorded step stores (`agent.record_shapes`; None where
                                               that is None)

The state tuples hold the quantities of `agent.reference_start` (MetODS: W; RL²: h; MAML: the adapted θ and the
window), so that a row that has ended can keep its state tensor by tensor (`rollout.twin.hold`).
"""
from __future__ import annotations

from .baselines import FeedforwardTwin, RL2Twin
from .maml import MAMLTwin
from .metods import MetODSTwin

TWINS = {"metods": MetODSTwin, "maml": MAMLTwin, "rl2": RL2Twin, "feedforward": FeedforwardTwin}


def twin_for(agent):
    """The twin of an agent whose kind has one (`TWINS`); ValueError naming the kind otherwise."""
    if agent.kind not in TWINS:
        raise ValueError(f"agent.kind {agent.kind} has no PyTorch twin (agents with one: {', '.join(TWINS)})")
    return TWINS[agent.kind](agent)


__all__ = ["TWINS", "twin_for"]
