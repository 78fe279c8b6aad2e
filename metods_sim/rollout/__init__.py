"""Rollouts: genomes × episodes → returns, metrics and recordings, with one contract whatever steps the task.

    episodes = draw_episodes(task, agent, rng, E)       everything random about E episodes, drawn up front
    out = rollout(agent, task, params (P, size), episodes, record=R, norm=None)   Rollouts: returns (P, E), ...

A task written in Numba, with or without MuJoCo called from it (task.engine fused or physics), runs in the one
fused kernel (`kernel`); a task whose environments are Python (engine stepped: Meta-World's unfused
environments) in `stepped`. `reference` is the batched-NumPy twin of the kernel that the tests check it against,
and `twin` the PyTorch rollouts that the gradient trainer differentiates; all share `episodes`: the input x_t,
the recording and the episode bookkeeping. With norm (`normalise.Normalisation`, `trainer.observation_norm:
running`) every engine feeds the agent the normalised observation; each returns the sums of the raw observations
it fed, from which the trainers keep their running statistics (`normalise`).
"""
from __future__ import annotations

from .episodes import Episodes, Rollouts, draw_episodes
from .kernel import rollout_fused
from .normalise import Normalisation, ObservationStats
from .reference import rollout_reference


def rollout(agent, task, params, episodes: Episodes, *, record: int = 0,
            norm: Normalisation | None = None) -> Rollouts:
    """Run genomes params (P, size) (or (size,)) on every episode, each observation normalised by norm when
    given. Returns Rollouts."""
    if task.engine == "stepped":
        from .stepped import rollout_stepped

        return rollout_stepped(agent, task, params, episodes, record=record, norm=norm)
    return rollout_fused(agent, task, params, episodes, record=record, norm=norm)


__all__ = ["Episodes", "Normalisation", "ObservationStats", "Rollouts", "draw_episodes", "rollout",
           "rollout_reference"]
