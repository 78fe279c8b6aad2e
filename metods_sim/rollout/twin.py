"""Batched rollouts of an agent's PyTorch twin (`agents.twins`: MetODS, MAML, RL², feedforward): the task's own
Numba functions step every episode (`episodes.Lockstep`, no second copy of the task), the agent runs in torch, so
the whole episode can be differentiated (backpropagation through time over the agent's state: MetODS's W
trajectory, RL²'s h, MAML's adapted θ).

Rows: B = P·E, row b runs member b // E on episode b % E (member 0's rows first), as in `rollout.rollout`.
Actions come from the logits as in the fused kernel: argmax, or a sample drawn with the episode's uniform
`episodes.noise[e, t]`, so a sampled run is reproducible and equal to the Numba one.

A continuous task (a MuJoCo body, Meta-World) cannot be stepped from here: its physics runs inside its own
rollout (`rollout.rollout`: a body's in the fused kernel). `collect` then plays
the episodes with that rollout, recording every step, rebuilds the network's inputs x_t = [o_t, a_{t−1}, r_{t−1}]
from the recording, and replays the twin over them (`replay`): the same numbers, with the twin's graph. Its policy
is the kernels' Gaussian, clip(mean + exp(log_std) · ε, -1, 1) with ε = `episodes.noise[e, t]` (E, T, A).

With norm (`normalise.Normalisation`) the observation part of x_t is normalised as the kernels do it: on a
discrete task when x_t is built, on a continuous one once, over the raw observations the rollout recorded.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import torch

from ..agents.torch_twin import log_std
from ..agents.twins import twin_for
from .episodes import Lockstep, choose_all


class Trajectory(NamedTuple):
    """Over (T, B): x (T, B, d_in) the inputs to f; action (T, B) int64, or on a continuous task (T, B, A) the
    Gaussian's sample before the clip to [-1, 1] (what the policy's log-probability is of; the task applied it
    clipped); reward (T, B); live (T, B) bool, the step was taken; logits (T, B, A), out[:A] of the network (the
    logits, or the Gaussian's mean); value (T, B); v (T, B, N) and W (T, B, N, N) after each step, only with
    keep=True. Tensors on the agent's device. returns (B,), metrics (B, M), steps (B,): numpy, as the task
    reports them; obs_sum, obs_sumsq (B, obs_size): numpy, the sums of the raw observations fed and of their
    squares (`Rollouts`)."""

    x: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    live: torch.Tensor
    logits: torch.Tensor
    value: torch.Tensor
    v: torch.Tensor | None
    W: torch.Tensor | None
    returns: np.ndarray
    metrics: np.ndarray
    steps: np.ndarray
    obs_sum: np.ndarray
    obs_sumsq: np.ndarray


def per_row(arrays, E):
    """Arrays of P members (a NamedTuple or a dict of tensors) → arrays broadcasting over B = P·E rows (one member
    is left to broadcast)."""
    items = arrays._asdict() if hasattr(arrays, "_asdict") else arrays
    if next(iter(items.values())).shape[0] == 1:
        return arrays
    return type(arrays)(**{name: torch.repeat_interleave(a, E, dim=0) for name, a in items.items()})


def _start(twin, params, episodes):
    """The twin's arrays over B = P·E rows and its state at the episodes' start, for params (P, size)."""
    P = params.shape[0]
    noise = np.tile(episodes.agent_noise, (P,) + (1,) * (episodes.agent_noise.ndim - 1))
    rows = per_row(twin.arrays(params), episodes.data.shape[0])
    return rows, twin.start(rows, noise)


def hold(new, old, live):
    """The state after a step, where rows not live (B,) keep their old state; settings that are not tensors (a
    step count) pass as they are."""
    return tuple(torch.where(live.reshape((-1,) + (1,) * (n.ndim - 1)), n, o) if torch.is_tensor(n) else n
                 for n, o in zip(new, old))


def detach(state):
    """The state cut from the graph: where a truncated backpropagation through time stops."""
    return tuple(s.detach() if torch.is_tensor(s) else s for s in state)


def advance(twin, rows, state, x, live):
    """One network step of every row; rows not live keep their state. Returns logits, value, state, (W, v)."""
    logits, value, new, recorded = twin.step(rows, state, x)
    return logits, value, hold(new, state, live), recorded


def collect(agent, task, params, episodes, *, greedy: bool, device="cpu", keep=False, norm=None) -> Trajectory:
    """Run params (P, size) tensor on every episode, stepping the task in batches (a continuous task: by its own
    rollout, then `replay`; keep=True is for discrete tasks only, the fused rollout records a continuous task's
    W and v), the observations normalised by norm when given. Differentiable when params require grad and grad
    mode is on: the network's outputs, not the inputs it was given (the actions are samples, as in any policy
    gradient)."""
    if task.continuous:
        if keep:
            raise ValueError("collect(keep=True) keeps the twin's v and W on discrete tasks only; "
                             "rollout(..., record=E) records them on a continuous task")
        return _collect_recorded(agent, task, params, episodes, greedy=greedy, device=device, norm=norm)
    params = params.reshape(-1, agent.layout.size)
    P, dtype, twin = params.shape[0], params.dtype, twin_for(agent)
    rows, state = _start(twin, params, episodes)
    episode = Lockstep(task, np.tile(episodes.data, (P, 1)))
    noise = np.tile(episodes.noise, (P, 1))
    out = {k: [] for k in ("x", "action", "reward", "live", "logits", "value", "v", "W")}
    for t in range(task.max_steps):
        x = torch.as_tensor(episode.inputs(norm), dtype=dtype, device=device)
        live_t = torch.as_tensor(~episode.done, device=device)
        logits, value, state, (W, v) = advance(twin, rows, state, x, live_t)
        action = choose_all(logits.detach().cpu().numpy(), noise[:, t], greedy)
        episode.step(action, t)
        for key, value_ in (("x", x), ("action", torch.as_tensor(action, device=device)),
                            ("reward", torch.as_tensor(episode.rewards.copy(), dtype=dtype, device=device)),
                            ("live", live_t), ("logits", logits), ("value", value), ("v", v), ("W", W)):
            if value_ is not None and (keep or key not in ("v", "W")):
                out[key].append(value_)
        if episode.done.all():
            break
    stacked = {k: torch.stack(v) if v else None for k, v in out.items()}
    return Trajectory(**stacked, returns=episode.total, metrics=episode.metrics,
                      steps=stacked["live"].sum(0).cpu().numpy(), obs_sum=episode.obs_sum, obs_sumsq=episode.obs_sumsq)


def _collect_recorded(agent, task, params, episodes, *, greedy, device, norm) -> Trajectory:
    """`collect` on a continuous task: each member plays every episode in the task's rollout (`rollout.rollout`,
    the agent sampling or greedy as asked), recording them all; the twin is replayed over the recorded inputs,
    so its means and values are the ones the rollout acted on (float64: to rounding)."""
    genomes = params.detach().reshape(-1, agent.layout.size).cpu().numpy().astype(np.float64)
    acting = dataclasses.replace(agent, action="greedy" if greedy else "sample")
    E, A, O = episodes.data.shape[0], task.n_actions, task.obs_size
    from . import rollout

    runs = [rollout(acting, task, genome, episodes, record=E, norm=norm) for genome in genomes]
    T = max(int(run.steps.max()) for run in runs)   # every episode ended by then
    steps = np.concatenate([run.steps[0] for run in runs])
    # x_t = [o_t, a_{t−1}, r_{t−1}] (zeros at t = 0), as the kernels build it, over (T, B, d_in); the recording
    # holds the raw o_t, normalised here once as the kernel normalised what it fed
    x = np.zeros((T, steps.size, O + A + 1))
    obs = np.concatenate([run.obs[:, :T] for run in runs]).swapaxes(0, 1)
    x[:, :, :O] = obs if norm is None else norm.apply(obs)
    x[1:, :, O:O + A] = np.concatenate([run.action[:, :T - 1] for run in runs]).swapaxes(0, 1)
    x[1:, :, O + A] = np.concatenate([run.reward[:, :T - 1] for run in runs]).T
    reward = np.concatenate([run.reward[:, :T] for run in runs]).T
    x, reward = (torch.as_tensor(a, dtype=params.dtype, device=device) for a in (x, reward))
    live = torch.as_tensor(np.arange(T)[:, None] < steps[None, :], device=device)
    mean, value, _ = replay(agent, params.to(device), episodes, x, live)
    # the sample the rollout drew, before its clip: mean + σ ε (the mean itself when greedy)
    noise = torch.as_tensor(np.tile(episodes.noise, (len(runs), 1, 1))[:, :T].swapaxes(0, 1), dtype=params.dtype,
                            device=device)
    sigma = torch.repeat_interleave(log_std(agent, params.to(device)).detach().exp(), E, dim=0)
    action = mean.detach() if greedy else mean.detach() + sigma * noise
    return Trajectory(x=x, action=action, reward=reward, live=live, logits=mean, value=value, v=None, W=None,
                      returns=np.concatenate([run.returns[0] for run in runs]),
                      metrics=np.concatenate([run.metrics[0] for run in runs]), steps=steps,
                      obs_sum=np.concatenate([run.obs_sum[0] for run in runs]),
                      obs_sumsq=np.concatenate([run.obs_sumsq[0] for run in runs]))


def replay(agent, params, episodes, x, live, *, start=0, stop=None, W=None):
    """The network alone over recorded inputs x (T, B, d_in) and live (T, B), steps start..stop, from the state W
    (the twin's state tuple an earlier replay reached: MetODS's W, RL²'s h, MAML's θ and window; the episode's
    start when None). Returns logits (t, B, A) (a continuous task's: the Gaussian's mean), value (t, B) and the
    state reached (to `detach` or carry on)."""
    params = params.reshape(-1, agent.layout.size)
    twin = twin_for(agent)
    rows, state = _start(twin, params, episodes)
    state = state if W is None else W
    logits, values = [], []
    for t in range(start, x.shape[0] if stop is None else stop):
        logit, value, state, _ = advance(twin, rows, state, x[t], live[t])
        logits.append(logit)
        values.append(value)
    return torch.stack(logits), torch.stack(values), state
