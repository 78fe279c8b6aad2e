"""The MetODS agent in PyTorch: the same genome and layout as `metods.MetODS`, differentiable, on CPU or CUDA.

One parameter vector means the same agent here and in the Numba kernels: `torch_arrays` unpacks it through the
agent's own `Layout` into the tensors of `TwinArrays` (the kernels' `KernelArrays` less the step's settings,
which the twin reads from the agent), and `forward` is one time step of
f, the dynamic layer (`plasticity.recursive_update` itself, on tensors) and g. tests/agents/test_torch_twin.py
checks the two agree to 1e-8 in float64.

Leading dimensions broadcast: arrays of one member (1, ...) serve a whole batch of episodes (B, ...).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..plasticity.reference import matvec, recursive_update, tanh


class TwinArrays(NamedTuple):
    """The genome as tensors, each with a leading axis P (members) or B (rows): the kernels' blocks."""

    f_weight: torch.Tensor
    f_bias: torch.Tensor
    g_weight: torch.Tensor
    g_bias: torch.Tensor
    alpha: torch.Tensor
    kappa: torch.Tensor
    beta: torch.Tensor
    L: torch.Tensor
    U1: torch.Tensor
    U2: torch.Tensor
    W0: torch.Tensor


def torch_arrays(agent, params: torch.Tensor) -> TwinArrays:
    """(P, size) (or (size,)) parameter tensor → TwinArrays with leading axis P, keeping the graph."""
    params = params.reshape(-1, agent.layout.size)
    P, N, S = params.shape[0], agent.neurons, agent.steps
    parts = {name: params[:, sl].reshape((P,) + tuple(shape)) for name, shape, sl in agent.layout.slices()}
    rows, cols = agent.triangle()

    def lower(coef):
        full = params.new_zeros((P, S + 1, S + 1))
        full[:, rows, cols] = coef
        return full

    empty = params.new_zeros((P, 0, 0))
    return TwinArrays(
        f_weight=parts["f.weight"], f_bias=parts["f.bias"], g_weight=parts["g.weight"], g_bias=parts["g.bias"],
        alpha=parts["alpha"] if "alpha" in parts else params.new_ones((P, N, N)),
        kappa=lower(parts["kappa"]), beta=lower(parts["beta"]),
        L=parts.get("proj", empty), U1=parts.get("proj.hidden", empty), U2=parts.get("proj.out", empty),
        W0=parts["W0"] if "W0" in parts else params.new_zeros((P, N, N)),
    )


def log_std(agent, params: torch.Tensor):
    """(P, n_actions) log standard deviations of a continuous task's Gaussian policy, a view of params keeping
    the graph (`Agent.log_std` in NumPy); None without a log_std block (a discrete task: the policy is the
    softmax of the logits)."""
    params = params.reshape(-1, agent.layout.size)
    return next((params[:, sl] for name, _, sl in agent.layout.slices() if name == "log_std"), None)


def forward(a: TwinArrays, W, x, *, steps: int, write: str):
    """One time step. W (B, N, N), x (B, d_in) = [o_t, one-hot a_{t−1} (a continuous task: the action vector),
    r_{t−1}]. Returns logits (B, A) (a continuous task: the Gaussian's mean), value (B,), v_S (B, N),
    W_t (B, N, N)."""
    v0 = tanh(matvec(a.f_weight, x) + a.f_bias)
    proj = {"vanilla": None, "linear": a.L, "mlp": (a.U1, a.U2)}[write]
    v, W = recursive_update(W, v0, a.alpha, a.kappa, a.beta, steps=steps, write=write, proj=proj)
    out = matvec(a.g_weight, v) + a.g_bias
    return out[:, :-1], out[:, -1], v, W
