"""Meta-training by gradient, as the paper trained MetODS: on-policy actor-critic through the whole episode, of
any agent with a PyTorch twin (`agents.twins`: MetODS, MAML, RL², feedforward), through one path.

One update: `episodes` fresh training episodes are played with actions sampled from the policy (no graph kept), and
GAE turns their rewards and values into advantages. On a discrete task the agent's twin plays them, the task's Numba
functions stepping each episode; on a continuous task (a MuJoCo body, Meta-World) the task's own rollout plays them
(its physics cannot be stepped from torch) and records every step, and the twin is replayed over the recorded inputs
for the means and values the rollout acted on (`rollout.twin.collect` does either). The network is then replayed
over the recorded inputs with the graph, in windows of `bptt` steps (the whole episode with 0): each window's loss
is backpropagated before the next one runs and the agent's state (MetODS's W, RL²'s h, MAML's adapted θ) is detached
between them, so memory holds one window of its trajectory. A MAML agent's loss reaches the genome through its
within-episode adaptation steps (second order, by autograd). The policy is the softmax of the logits on a discrete
task, and on a continuous task the kernels' Gaussian: mean out[:A], the genome's learned log_std (which gets its
gradient like every other block), its log-probability taken of the sample before the clip to [-1, 1]
(`policy_terms`). Adam takes one step (a2c) or `ppo_epochs` steps with the clipped ratio (ppo), after clipping the
gradient norm. The parameters are evaluated on the validation episodes by the same fused Numba rollout as an ES
centre, and the curve has the ES trainer's keys: the dataset is the same. The updates run in the loop every trainer
shares (`loop.train_loop`), with its checkpoints, Ctrl-C and SIGTERM, exact resumption and time limit; an update
whose loss or gradient is not finite is not applied and stops the run (stopped_by: diverged), keeping the last
finite parameters. With trainer.observation_norm running, an update's episodes are played (and replayed) with the
observations normalised by the statistics frozen before it, and the observations they fed are merged into them after
it.
"""
from __future__ import annotations

import math
import pickle

import numpy as np
import torch

from ..agents import torch_twin
from ..agents.twins import TWINS
from ..rollout import draw_episodes
from ..rollout.twin import collect, detach, replay
from ..seeding import rng_for
from ..fields import Field, ProtocolError, choice, integer, number
from .loop import ENV_STEPS, INIT_FROM, OBSERVATION_NORM, TARGET, TIME_LIMIT, Trainer, TrainResult, fitness_status


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


def policy_terms(out, action, log_std=None):
    """Log-probability of the actions taken and entropy of the policy, per step (T, B). Discrete (log_std None):
    the softmax of the logits out (T, B, A), action (T, B) indices. Continuous: the diagonal Gaussian of mean out
    (T, B, A) and log standard deviations log_std (broadcasting against it), action (T, B, A) the samples before
    their clip to [-1, 1] (the clip is part of the task's step, not of the policy)."""
    if log_std is None:
        log_probs = torch.log_softmax(out, -1)
        logp = log_probs.gather(-1, action[..., None])[..., 0]
        return logp, -(log_probs.exp() * log_probs).sum(-1)
    log_std = log_std.expand_as(out)
    z = (action - out) * torch.exp(-log_std)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    return (-0.5 * z ** 2 - log_std - half_log_2pi).sum(-1), (0.5 + half_log_2pi + log_std).sum(-1)


class GradientTrainer(Trainer):
    kind = "gradient"
    FIELDS = {
        "algorithm": choice("a2c", "On-policy actor-critic through the whole episode (backpropagation through "
                                   "time over the agent's state: MetODS's W, RL²'s h, MAML's adapted θ): a2c, "
                                   "or ppo (clipped ratio, several epochs per batch) [paper: "
                                   "actor-critic with GAE].", ("a2c", "ppo")),
        "updates": integer(2000, "Parameter updates at most (the dataset's generation axis).", min=1),
        "time_limit": TIME_LIMIT,
        "env_steps": ENV_STEPS,
        "episodes": integer(64, "Episodes per update, run in one batch with actions sampled from the policy.",
                            min=1),
        "lr": number(0.001, "Adam learning rate [ours].", above=0),
        "gamma": number(0.9, "Discount factor [ours].", min=0, max=1),
        "gae_lambda": number(0.95, "GAE lambda [ours].", min=0, max=1),
        "entropy": number(0.01, "Weight of the policy-entropy bonus [ours].", min=0),
        "value_coef": number(0.5, "Weight of the value (critic) loss [ours].", min=0),
        "reward_scale": number(1.0, "Factor on the rewards the critic and the advantages are computed from (the "
                                    "agent's input r_{t-1}, the returns and every figure stay unscaled): the value "
                                    "head shares the network with the policy and starts near 0, so on a task "
                                    "paying returns of hundreds its squared error swamps the policy's gradient "
                                    "until it has learned their size; e.g. 0.01 on Meta-World (10 a step) [ours: 1, "
                                    "no scaling].", above=0),
        "max_grad_norm": number(1.0, "Gradient norm clipping (0: none) [ours].", min=0),
        "normalize_advantages": Field(True, "Advantages rescaled to mean 0, standard deviation 1 over each batch "
                                            "[ours].", "bool"),
        "bptt": integer(0, "Truncated backpropagation through time: gradients cross at most this many steps of "
                           "the agent's state trajectory (W, h, θ), and memory holds one such window (0: the "
                           "whole episode).", min=0),
        "ppo_epochs": integer(4, "Passes over each batch (ppo).", min=1),
        "ppo_clip": number(0.2, "Clipping of the probability ratio (ppo).", above=0),
        "eval_every": integer(10, "Updates between evaluations of the parameters on held-out episodes.", min=1),
        "eval_episodes": integer(512, "Held-out episodes of each evaluation (the validation set).", min=1),
        "checkpoint_every": integer(100, "Updates between checkpoints (DIR/checkpoint.pkl: parameters, Adam's "
                                         "state, torch's RNG, the curve so far; `python -m metods_sim resume DIR` "
                                         "continues from it); one is also written when training stops. 0: only "
                                         "then.", min=0),
        "device": choice("cpu", "Device of the PyTorch twin (the task always steps on the CPU).", ("cpu", "cuda")),
        "init_from": INIT_FROM,
        "observation_norm": OBSERVATION_NORM,
    } | TARGET

    @classmethod
    def check(cls, section, where, *, agent):
        """The gradient trainer needs an agent with a PyTorch twin (`agents.twins.TWINS`)."""
        if agent["kind"] not in TWINS:
            raise ProtocolError(f"{where('trainer.kind')}: expected es with agent.kind {agent['kind']} (the "
                                f"gradient trainer differentiates an agent's PyTorch twin, and {agent['kind']} has "
                                f"none; {', '.join(TWINS)} have one), got gradient")
        return section

    ITERATIONS = "updates"   # the protocol field counting this trainer's iterations
    DIVERGED = ("update {} diverged (non-finite loss or gradient; its step was not taken); the dataset holds the "
                "run until then. Bound W with agent.W_clip, or lower trainer.lr")

    @property
    def device(self) -> torch.device:
        """Where the PyTorch twin runs (trainer.device; the task always steps on the CPU)."""
        return torch.device(self.trainer["device"])

    @property
    def dtype(self) -> torch.dtype:
        """The twin's float type: the agent's, as in the fused kernels that validate it."""
        return getattr(torch, self.agent.dtype)

    @staticmethod
    def state_floats(trainer: dict, size: int, task=None) -> int:
        """About how many floats a checkpoint holds: the parameters, Adam's two moments, and slack."""
        return 4 * size + 1024

    def train(self, initial=None, on_generation=None, *, state=None, checkpoint=None, observations=None) -> TrainResult:
        """Meta-train from the genome `initial` (and, with observation_norm running, the statistics
        `observations`: none seen when None), or continue from `state`, a state this trainer handed to
        `checkpoint`: checkpoint(state, updates done) is called every trainer.checkpoint_every updates and once
        more when training stops (the ES trainer's contract, `loop.train_loop`)."""
        t = self.trainer
        if state is None:
            params, optimizer = self._start(torch.tensor(initial, dtype=self.dtype, device=self.device))
            result = self.start(initial, observations)
        else:
            params, optimizer, result = self._thaw(state)

        def one_update(i):
            # update i's episodes come from their own stream: i is all the NumPy random state there is to keep
            episodes = draw_episodes(self.task, self.agent, rng_for(self.seed, "train", i), t["episodes"])
            run, finite = self.update(params, optimizer, episodes, result.normalisation())
            if result.observations is not None:   # this update's observations, for the next
                result.observations = result.observations.merged(run.steps, run.obs_sum, run.obs_sumsq)
            status = fitness_status(run.returns) | dict(diverged=int(not finite),
                                                        env_steps=result.env_steps + int(run.steps.sum()))
            # a diverged update leaves the last finite parameters as the centre: what the dataset keeps
            center = params.detach().cpu().numpy().astype(np.float64) if finite else result.center
            return center, status, not finite

        return self.loop(one_update, result, lambda: _freeze(params, optimizer, result), on_generation, checkpoint)

    def _start(self, params: torch.Tensor):
        params = params.to(self.device).requires_grad_(True)
        return params, torch.optim.Adam([params], lr=self.trainer["lr"])

    def _thaw(self, state: bytes):
        saved, adam, rng, result = pickle.loads(state)
        params, optimizer = self._start(saved)
        optimizer.load_state_dict(adam)
        torch.set_rng_state(rng["cpu"])
        if rng["cuda"] is not None:
            torch.cuda.set_rng_state_all(rng["cuda"])
        return params, optimizer, result

    def update(self, params, optimizer, episodes, norm=None):
        """One batch, its observations normalised by norm when given (`rollout.Normalisation`): collect,
        advantages, one (a2c) or ppo_epochs (ppo) optimizer steps; the replays read the batch's inputs as
        collected (normalised once). Returns the
        Trajectory of the batch and whether every step was finite: a non-finite loss or gradient stops the
        update before its optimizer step, so params and Adam's moments keep their last finite values."""
        t = self.trainer
        with torch.no_grad():
            run = collect(self.agent, self.task, params, episodes, greedy=False, device=self.device, norm=norm)
            advantages, targets = gae(run.reward * t["reward_scale"], run.value, run.live, t["gamma"],
                                      t["gae_lambda"])
            if t["normalize_advantages"]:
                live = advantages[run.live]
                advantages = (advantages - live.mean()) / (live.std() + 1e-8)
            old, _ = policy_terms(run.logits, run.action, torch_twin.log_std(self.agent, params))
        for _ in range(t["ppo_epochs"] if t["algorithm"] == "ppo" else 1):
            optimizer.zero_grad()
            loss = self.backward(params, episodes, run, advantages, targets, old)
            if not (torch.isfinite(loss) and torch.isfinite(params.grad).all()):
                return run, False
            if t["max_grad_norm"]:
                torch.nn.utils.clip_grad_norm_([params], t["max_grad_norm"])
            optimizer.step()
        return run, bool(torch.isfinite(params).all())

    def backward(self, params, episodes, run, advantages, targets, old_logp):
        """Accumulate the gradient of the mean per-step loss, window by window of the agent's state trajectory
        (MetODS's W, RL²'s h, MAML's adapted θ); returns that loss (detached)."""
        T = run.x.shape[0]
        window, n, state, total = self.trainer["bptt"] or T, run.live.sum(), None, 0.0
        for begin in range(0, T, window):
            end = min(begin + window, T)
            logits, values, state = replay(self.agent, params, episodes, run.x, run.live, start=begin, stop=end,
                                           W=state)
            part = slice(begin, end)
            loss = self.loss(logits, values, run.action[part], run.live[part], advantages[part], targets[part],
                             old_logp[part], torch_twin.log_std(self.agent, params))
            (loss / n).backward()
            total = total + loss.detach() / n
            state = detach(state)
        return total

    def loss(self, logits, values, action, live, advantages, targets, old_logp, log_std=None):
        """Summed over the live steps of a window: policy loss + value_coef · squared value error
        − entropy · policy entropy (`policy_terms`: log_std None on a discrete task)."""
        t = self.trainer
        logp, entropy = policy_terms(logits, action, log_std)
        if t["algorithm"] == "ppo":
            ratio = torch.exp(logp - old_logp)
            clipped = torch.clamp(ratio, 1 - t["ppo_clip"], 1 + t["ppo_clip"])
            policy = -torch.minimum(ratio * advantages, clipped * advantages)
        else:
            policy = -logp * advantages
        per_step = policy + t["value_coef"] * (values - targets) ** 2 - t["entropy"] * entropy
        return per_step[live].sum()


def _freeze(params, optimizer, result) -> bytes:
    """The trainer's whole state as one immutable snapshot: parameters, Adam's moments and step count, torch's
    RNG (no update draws from it today; kept so that one that does still resumes exactly), the result so far."""
    rng = dict(cpu=torch.get_rng_state(), cuda=torch.cuda.get_rng_state_all() if params.is_cuda else None)
    return pickle.dumps((params.detach().cpu(), optimizer.state_dict(), rng, result),
                        protocol=pickle.HIGHEST_PROTOCOL)
