"""PEARL's networks in PyTorch and its soft actor-critic step (Rakelly et al. 2019, Algorithm 1; the losses of
its code, `rlkit/torch/sac/sac.py`).

The encoder and the actor are the agent's genome (`agents.pearl`: the same layers, in the same vector order, so
that `genome()` is what the rollouts act with); the critics are the trainer's own: twin soft Q-functions
Q1, Q2(o, a, z), a state value V(o, z) and its slowly moving copy V̄ (PEARL's "value or target Q": the V/V̄ form of
the SAC paper that PEARL uses). The entropy temperature is PEARL's: fixed, as a reward scale (α = 1/reward_scale).

One step, on M tasks each with a context c (C transitions of its latest episode) and a batch (N transitions):
    q(z|c) = Π_n N(μ_n, σ_n²)  (`product_of_gaussians`),  z ~ q(z|c) reparameterised, one per task
    L_KL = kl_lambda · Σ_tasks KL(q(z|c) ‖ N(0, I))
    L_Q  = mean (Q1(o, a, z) − y)² + mean (Q2(o, a, z) − y)²,  y = reward_scale · r + γ V̄(o', z)
           (the encoder learns through L_Q + L_KL, as in PEARL: z is not detached there)
    L_V  = mean (V(o, z̄) − [min_i Q_i(o, ã, z̄) − log π(ã|o, z̄)])²,  ã ~ π(·|o, z̄), z̄ = z detached
    L_π  = mean (log π(ã|o, z̄) − min_i Q_i(o, ã, z̄)) + 1e-3 · mean(m²) + 1e-3 · mean(l²)   (PEARL's regularisers)
    V̄ ← (1 − τ) V̄ + τ V
Meta-World's rollouts end by their time limit only, so y always bootstraps (no terminal flags). π is the
tanh-Gaussian: [m, l] = policy([o, z]), l clamped to [-20, 2], ã = tanh(m + e^l ε), log π with the tanh's
correction log(1 − ã² + 1e-6) (rlkit's).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..agents.pearl import LAYERS, LOG_STD, VAR_MIN

CRITICS = ("q1", "q2", "v")
REGULARISER = 1e-3   # PEARL's policy_mean_reg_weight and policy_std_reg_weight


def mlp(fan_in: int, width: int, fan_out: int) -> nn.Sequential:
    """LAYERS linear layers, ReLU between them (PEARL's FlattenMlp and MlpEncoder)."""
    sizes = [fan_in] + [width] * (LAYERS - 1)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], fan_out))


def product_of_gaussians(mu, var):
    """The product of Gaussian factors N(mu_n, var_n) over dim -2 (n): (μ, σ²), each (..., L):
    1/σ² = Σ_n 1/var_n, μ = σ² Σ_n mu_n/var_n (PEARL's `_product_of_gaussians`)."""
    var_post = 1 / torch.sum(1 / var, dim=-2)
    return var_post * torch.sum(mu / var, dim=-2), var_post


class PEARLNetworks(nn.Module):
    """The agent's encoder and actor (the genome) and the trainer's critics, in the agent's float type."""

    def __init__(self, agent):
        super().__init__()
        O, A, L = agent.obs_size, agent.n_actions, agent.latent
        self.A, self.L = A, L
        self.encoder = mlp(agent.context_size, agent.encoder_hidden, 2 * L)
        self.policy = mlp(O + L, agent.hidden, 2 * A)
        self.q1 = mlp(O + A + L, agent.hidden, 1)
        self.q2 = mlp(O + A + L, agent.hidden, 1)
        self.v = mlp(O + L, agent.hidden, 1)
        self.v_target = mlp(O + L, agent.hidden, 1)
        self.v_target.load_state_dict(self.v.state_dict())
        self.to(getattr(torch, agent.dtype))

    def acting(self) -> list:
        """The genome's parameters, in the layout's order (encoder.0.weight, encoder.0.bias, ..., policy.3.bias)."""
        return list(self.encoder.parameters()) + list(self.policy.parameters())

    def genome(self) -> np.ndarray:
        return nn.utils.parameters_to_vector(self.acting()).detach().cpu().numpy().astype(np.float64)

    def load_genome(self, genome) -> None:
        with torch.no_grad():
            nn.utils.vector_to_parameters(torch.as_tensor(genome, dtype=self.acting()[0].dtype), self.acting())

    def posterior(self, context):
        """q(z|c) of contexts (M, C, d_c): μ, σ² (M, L)."""
        e = self.encoder(context)
        var = torch.clamp(nn.functional.softplus(e[..., self.L:]), min=VAR_MIN)
        return product_of_gaussians(e[..., :self.L], var)

    def tanh_gaussian(self, obs_z, generator):
        """ã = tanh(m + e^l ε) (…, A), log π(ã) (…,), m, l."""
        head = self.policy(obs_z)
        mean, log_std = head[..., :self.A], torch.clamp(head[..., self.A:], *LOG_STD)
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        pre = mean + log_std.exp() * eps
        action = torch.tanh(pre)
        log_pi = (-0.5 * eps ** 2 - log_std - 0.5 * math.log(2 * math.pi)
                  - torch.log(1 - action ** 2 + 1e-6)).sum(-1)
        return action, log_pi, mean, log_std


def optimizers(nets: PEARLNetworks, lr: float) -> dict:
    """Adam for the encoder (context), the actor, the two Q-functions together, and V [PEARL: 3e-4 each]."""
    return dict(context=torch.optim.Adam(nets.encoder.parameters(), lr=lr),
                policy=torch.optim.Adam(nets.policy.parameters(), lr=lr),
                q=torch.optim.Adam(list(nets.q1.parameters()) + list(nets.q2.parameters()), lr=lr),
                v=torch.optim.Adam(nets.v.parameters(), lr=lr))


def sac_step(nets: PEARLNetworks, opt: dict, batch: dict, context, settings: dict, generator) -> bool:
    """One step of every network on a batch {obs, action, reward, next_obs} (M, N, ·) and contexts (M, C, d_c)
    (tensors), the module doc's losses; False when one is not finite, before the optimizer step it feeds."""
    mu, var = nets.posterior(context)
    z = mu + var.sqrt() * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    z = z[:, None].expand(-1, batch["obs"].shape[1], -1)
    kl = 0.5 * (var + mu ** 2 - 1 - var.log()).sum()
    obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
    with torch.no_grad():
        y = settings["reward_scale"] * batch["reward"] + settings["gamma"] * \
            nets.v_target(torch.cat([next_obs, z], -1))[..., 0]
    q_loss = sum(((q(torch.cat([obs, action, z], -1))[..., 0] - y) ** 2).mean() for q in (nets.q1, nets.q2))
    critic_loss = settings["kl_lambda"] * kl + q_loss
    if not torch.isfinite(critic_loss):
        return False
    opt["context"].zero_grad()
    opt["q"].zero_grad()
    critic_loss.backward()
    opt["q"].step()
    opt["context"].step()

    obs_z = torch.cat([obs, z.detach()], -1)
    new_action, log_pi, mean, log_std = nets.tanh_gaussian(obs_z, generator)
    sa_z = torch.cat([obs, new_action, z.detach()], -1)
    min_q = torch.minimum(nets.q1(sa_z), nets.q2(sa_z))[..., 0]
    v_loss = ((nets.v(obs_z)[..., 0] - (min_q - log_pi).detach()) ** 2).mean()
    policy_loss = (log_pi - min_q).mean() + REGULARISER * ((mean ** 2).mean() + (log_std ** 2).mean())
    if not (torch.isfinite(v_loss) and torch.isfinite(policy_loss)):
        return False
    opt["v"].zero_grad()
    v_loss.backward()
    opt["v"].step()
    with torch.no_grad():
        for target, source in zip(nets.v_target.parameters(), nets.v.parameters()):
            target.mul_(1 - settings["tau"]).add_(settings["tau"] * source)
    opt["policy"].zero_grad()
    policy_loss.backward()
    opt["policy"].step()
    return True
