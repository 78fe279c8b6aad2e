"""Meta-training by gradient, as the paper trained MetODS: on-policy actor-critic through the whole episode.

One update: the PyTorch twin runs `episodes` fresh training episodes with actions sampled from its policy
(no graph kept), and GAE turns their rewards and values into advantages. The network is then replayed over the
recorded inputs with the graph, in windows of `bptt` steps (the whole episode with 0): each window's loss is
backpropagated before the next one runs and W is detached between them, so memory holds one window of the W
trajectory. Adam takes one step (a2c) or `ppo_epochs` steps with the clipped ratio (ppo), after clipping the
gradient norm. The parameters are evaluated on the validation episodes by the same fused Numba rollout as an ES
centre, and the curve has the ES trainer's keys: the dataset is the same.
"""
from __future__ import annotations

import numpy as np
import torch

from ..rollout import draw_episodes, rollout
from ..rollout_torch import collect, replay
from ..seeding import rng_for
from .es import ESTrainer
from .loop import train_loop


def gae(reward, value, live, gamma: float, lam: float):
    """Generalized advantage estimation over (T, B); an episode ends after its last live step (nothing is
    bootstrapped beyond it). Returns advantages and value targets, (T, B), zero where not live."""
    live = live.to(reward.dtype)
    advantages = torch.zeros_like(reward)
    running = torch.zeros_like(reward[0])
    for t in reversed(range(reward.shape[0])):
        going_on = live[t + 1] if t + 1 < reward.shape[0] else torch.zeros_like(running)
        following = value[t + 1] if t + 1 < reward.shape[0] else torch.zeros_like(running)
        delta = reward[t] + gamma * following * going_on - value[t]
        running = (delta + gamma * lam * going_on * running) * live[t]
        advantages[t] = running
    return advantages, (advantages + value) * live


class GradientTrainer:
    kind = "gradient"
    CURVE = ESTrainer.CURVE

    def __init__(self, trainer: dict, task, agent, *, seed: int):
        self.trainer, self.task, self.agent, self.seed = trainer, task, agent, seed
        self.validation = draw_episodes(task, agent, rng_for(seed, "validation"), trainer["eval_episodes"])
        self.device = torch.device(trainer["device"])
        self.dtype = getattr(torch, agent.dtype)

    def validate(self, genome) -> float:
        return float(rollout(self.agent, self.task, genome, self.validation).returns.mean())

    def train(self, initial: np.ndarray, on_generation=None):
        t = self.trainer
        params = torch.tensor(initial, dtype=self.dtype, device=self.device, requires_grad=True)
        optimizer = torch.optim.Adam([params], lr=t["lr"])

        def step(i):
            episodes = draw_episodes(self.task, self.agent, rng_for(self.seed, "train", i), t["episodes"])
            run = self.update(params, optimizer, episodes)
            return params.detach().cpu().numpy().astype(np.float64), run.returns, int(run.steps.sum())

        return train_loop(step, initial, iterations=t["updates"], time_limit=t["time_limit"],
                          eval_every=t["eval_every"], validate=self.validate, on_generation=on_generation)

    def update(self, params, optimizer, episodes):
        """One batch: collect, advantages, one (a2c) or ppo_epochs (ppo) optimizer steps. Returns the
        Trajectory of the batch."""
        t = self.trainer
        with torch.no_grad():
            run = collect(self.agent, self.task, params, episodes, greedy=False, device=self.device)
            advantages, targets = gae(run.reward, run.value, run.live, t["gamma"], t["gae_lambda"])
            if t["normalize_advantages"]:
                live = advantages[run.live]
                advantages = (advantages - live.mean()) / (live.std() + 1e-8)
            old = torch.log_softmax(run.logits, -1).gather(-1, run.action[..., None])[..., 0]
        for _ in range(t["ppo_epochs"] if t["algorithm"] == "ppo" else 1):
            optimizer.zero_grad()
            self.backward(params, episodes, run, advantages, targets, old)
            if t["max_grad_norm"]:
                torch.nn.utils.clip_grad_norm_([params], t["max_grad_norm"])
            optimizer.step()
        return run

    def backward(self, params, episodes, run, advantages, targets, old_logp):
        """Accumulate the gradient of the mean per-step loss, window by window of the W trajectory."""
        T = run.x.shape[0]
        window, n, W = self.trainer["bptt"] or T, run.live.sum(), None
        for begin in range(0, T, window):
            end = min(begin + window, T)
            logits, values, W = replay(self.agent, params, episodes, run.x, run.live, start=begin, stop=end, W=W)
            part = slice(begin, end)
            loss = self.loss(logits, values, run.action[part], run.live[part], advantages[part], targets[part],
                             old_logp[part])
            (loss / n).backward()
            W = W.detach()

    def loss(self, logits, values, action, live, advantages, targets, old_logp):
        """Summed over the live steps of a window: policy loss + value_coef · squared value error
        − entropy · policy entropy."""
        t = self.trainer
        log_probs = torch.log_softmax(logits, -1)
        logp = log_probs.gather(-1, action[..., None])[..., 0]
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        if t["algorithm"] == "ppo":
            ratio = torch.exp(logp - old_logp)
            clipped = torch.clamp(ratio, 1 - t["ppo_clip"], 1 + t["ppo_clip"])
            policy = -torch.minimum(ratio * advantages, clipped * advantages)
        else:
            policy = -logp * advantages
        per_step = policy + t["value_coef"] * (values - targets) ** 2 - t["entropy"] * entropy
        return per_step[live].sum()
