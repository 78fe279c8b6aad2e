"""MAML's twin: the 3-layer MLP of `agents.maml` as a torch module called with each row's own parameters
(torch.func.functional_call, vmapped over rows), and its within-episode step written with torch.func.grad on the
REINFORCE surrogate of the window, the objective whose gradient the kernel writes out by hand:

    θ ← θ + inner_lr · ∇_θ Σ_t' log π_θ(a_t' | x_t') (G_t' − b)        at t = K, 2K, … before acting

with the window, G_t' and b of `agents.maml` (constants: they are the rewards seen), log π the softmax of the
logits, or on a continuous task the Gaussian of the genome's log_std at the clipped action the task received.
The adapted θ stays a function of the genome in the autograd graph, so a loss on later steps reaches the genome
through the adaptation step: MAML's second-order meta-gradient, by autograd alone.

State: (θ's six blocks (B, …), the window x_{t−K} … x_{t−1} (B, K, d_in), zeros before the episode, t).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.func import functional_call, grad, vmap

from .baselines import BaselineTwin

NET = ("f1.weight", "f1.bias", "f2.weight", "f2.bias", "g.weight", "g.bias")   # θ, the genome's blocks


class MLP(torch.nn.Module):
    """h1 = tanh(f1 x), h = tanh(f2 h1), out = g h; its parameters are named as the genome's blocks. Built on the
    meta device: it holds no numbers, it is only ever called with parameters given to functional_call."""

    def __init__(self, d_in: int, H: int, A1: int):
        super().__init__()
        self.f1, self.f2, self.g = (torch.nn.Linear(i, o, device="meta") for i, o in ((d_in, H), (H, H), (H, A1)))

    def forward(self, x):
        """x (..., d_in) → out (..., A+1), h (..., H)."""
        h = torch.tanh(self.f2(torch.tanh(self.f1(x))))
        return self.g(h), h


@dataclass(frozen=True)
class MAMLTwin(BaselineTwin):
    """The twin of `agents.maml.MAML`: its arrays are the genome's blocks by name (`BaselineTwin.arrays`)."""

    net: MLP = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # built once, outside any vmapped step: vmap refuses the random initialisation that a Linear layer runs
        # when it is built (even on the meta device)
        object.__setattr__(self, "net", MLP(self.agent.inputs, self.agent.hidden, self.agent.n_actions + 1))

    def start(self, rows, noise):
        B, agent = noise.shape[0], self.agent
        theta = tuple(rows[name].expand((B,) + rows[name].shape[1:]) for name in NET)
        return (*theta, rows["f1.weight"].new_zeros((B, agent.adapt_every, agent.inputs)), 0)

    def step(self, rows, state, x):
        *theta, window, t = state
        theta = dict(zip(NET, theta))
        if t > 0 and t % self.agent.adapt_every == 0:
            theta = self.adapted(rows, theta, window, x)
        out, h = vmap(self.mlp)(theta, x)
        window = torch.cat([window[:, 1:], x[:, None]], dim=1)
        return out[:, :-1], out[:, -1], (*theta.values(), window, t + 1), (None, h)

    def mlp(self, theta: dict, x):
        """The network with parameters theta {name: tensor} on x (…, d_in): out, h."""
        return functional_call(self.net, theta, (x,))

    def adapted(self, rows, theta, window, x) -> dict:
        """θ + inner_lr ∇_θ surrogate, every row at once; window (B, K, d_in) closed by x (B, d_in)."""
        agent = self.agent
        A, first = agent.n_actions, agent.obs_size
        after = torch.cat([window[:, 1:], x[:, None]], dim=1)          # x_{t'+1}: holds a_t', r_t'
        G, acc = [], torch.zeros_like(after[:, 0, -1])
        for k in reversed(range(after.shape[1])):                       # G_t' = r_t' + γ G_{t'+1}, cut at t
            acc = after[:, k, -1] + agent.inner_gamma * acc
            G.insert(0, acc)
        G = torch.stack(G, dim=1)
        inv_var = torch.exp(-2 * rows["log_std"]).expand(x.shape[0], A) if agent.continuous else None
        step = vmap(grad(self.surrogate), in_dims=(0, 0, 0, 0, 0 if agent.continuous else None))(
            theta, window, after[..., first:first + A], G - G.mean(dim=1, keepdim=True), inv_var)
        return {name: theta[name] + agent.inner_lr * step[name] for name in NET}

    def surrogate(self, theta, window, taken, weight, inv_var):
        """Σ_t' log π_θ(a_t' | x_t') (G_t' − b) of one row: window (K, d_in), taken (K, A) the actions (one-hot,
        or the clipped vectors), weight (K,) G_t' − b, inv_var (A,) 1/σ² or None (a discrete task); log π up to
        a constant in θ."""
        head = self.mlp(theta, window)[0][:, :self.agent.n_actions]
        if inv_var is None:
            logp = (torch.log_softmax(head, dim=-1) * taken).sum(-1)
        else:
            logp = -0.5 * ((taken - head) ** 2 * inv_var).sum(-1)
        return (logp * weight).sum()
