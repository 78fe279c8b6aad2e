"""Meta-training PEARL (Rakelly et al. 2019) off-policy, as its Algorithm 1: the only trainer of `agent.kind:
pearl`, and PEARL is trained by it only (by gradient, through SAC; never by ES).

One iteration:
  1. collect: `episodes` adaptation episodes, each on a task drawn from the split's list, played by the current
     encoder and actor exactly as at meta-test (`agents.pearl`: z from the prior for the first rollout, then from
     the posterior of the episode's transitions so far, resampled at every rollout) but with actions sampled from
     the tanh-Gaussian; played by the task's own rollout (`rollout.rollout`, recording every step: the fused
     kernel on ML10's fifteen environments, ML1's reach-v3 and push-v3 among them; Meta-World's own environments
     stepped from Python for the rest of ML1), as the
     gradient trainer collects its continuous episodes. Every transition goes to its task's replay, the episode
     becomes the task's context (`replay.TaskReplay`).
  2. train: `gradient_steps` steps of `sac.sac_step`, each on `meta_batch` tasks drawn from those with data:
     `context_size` transitions of the task's latest episode infer z, `batch_size` transitions of its replay
     train the critics and the actor.
The genome (encoder and actor) is validated on the held-out episodes by the same rollout as every trainer's
(`loop.Trainer.validate`: actions as agent.action says, greedy by default), and the curve has the other trainers'
keys: fitness_mean/max/min are the returns of the iteration's collected episodes.

Everything random in iteration i comes from the stream (seed, train, i): its episodes, its batches, and the torch
generator of its z and action samples; the critics' initialisation from (seed, init, 1). The state a checkpoint
holds is then every network, the four Adam optimizers, the replay and the curve, and a resumed run equals, value
for value, the run left alone (`loop.train_loop`). A non-finite loss stops the run (stopped_by: diverged),
keeping the genome of the iteration before.

Differences from PEARL's code, for a CPU: smaller networks (`agent.hidden`, `agent.encoder_hidden`) and meta
batch; no separate initial collection (the first iteration's episodes, played by the untrained actor, are it);
a task's context is its latest adaptation episode (PEARL's: its latest prior- and posterior-z collections).
"""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import torch

from ..fields import ProtocolError, choice, integer, number
from ..rollout import draw_episodes, rollout
from ..seeding import rng_for
from .loop import ENV_STEPS, INIT_FROM, TARGET, TIME_LIMIT, Trainer, TrainResult, fitness_status
from .replay import TaskReplay
from .sac import PEARLNetworks, optimizers, sac_step


class PEARLTrainer(Trainer):
    kind = "pearl"
    FIELDS = {
        "iterations": integer(500, "Iterations at most (the dataset's generation axis): each collects `episodes` "
                                   "adaptation episodes, then takes `gradient_steps` SAC steps [PEARL's code: "
                                   "500].", min=1),
        "time_limit": TIME_LIMIT,
        "env_steps": ENV_STEPS,
        "episodes": integer(1, "Adaptation episodes collected per iteration, each on a task drawn at random "
                               "(Meta-World: rollouts × rollout_steps environment steps) [PEARL's code: 5 tasks of "
                               "1,000 steps; ours: 1 episode of 5,000 on Meta-World].", min=1),
        "gradient_steps": integer(250, "SAC steps per iteration [PEARL's code: 2,000 per 5,000 steps collected; "
                                       "ours: 250 per 5,000, sized for a CPU].", min=1),
        "meta_batch": integer(4, "Tasks per SAC step, each with its own context and z [PEARL's code: 16; ours: "
                                 "4].", min=1),
        "batch_size": integer(256, "Transitions per task per SAC step [PEARL's code: 256].", min=1),
        "context_size": integer(64, "Transitions of a task's latest episode that infer its z in a SAC step "
                                    "[PEARL's code: 64].", min=1),
        "lr": number(3e-4, "Adam learning rate of the encoder, the actor, the Q-functions and V [PEARL's code: "
                           "3e-4].", above=0),
        "gamma": number(0.99, "Discount [PEARL's code: 0.99].", min=0, max=1),
        "tau": number(0.005, "Soft update of the target value V̄ ← (1 − τ) V̄ + τ V [PEARL's code: 0.005].",
                      min=0, max=1),
        "reward_scale": number(1.0, "Rewards are multiplied by it in the Q target: PEARL's inverse entropy "
                                    "temperature, α = 1/reward_scale [PEARL's code: 5 on locomotion; ours: 1, "
                                    "Meta-World's rewards reach 10 a step].", above=0),
        "kl_lambda": number(0.1, "Weight of KL(q(z|c) ‖ N(0, I)) in the encoder's loss, PEARL's information "
                                 "bottleneck [PEARL's code: 0.1].", min=0),
        "buffer_size": integer(100_000, "Transitions kept per task, the oldest overwritten [PEARL's code: "
                                        "1,000,000; ours: what a checkpoint can hold].", min=1),
        "eval_every": integer(5, "Iterations between evaluations of the genome on held-out episodes.", min=1),
        "eval_episodes": integer(4, "Held-out episodes of each evaluation (the validation set).", min=1),
        "checkpoint_every": integer(10, "Iterations between checkpoints (DIR/checkpoint.pkl: the networks, Adam's "
                                        "states, the replay, the curve; `python -m metods_sim resume DIR` "
                                        "continues from it); one is also written when training stops. 0: only "
                                        "then.", min=0),
        "init_from": INIT_FROM,
        "observation_norm": choice("none", "PEARL is fed the raw observations, as PEARL's code feeds them.",
                                   ("none",)),
    } | TARGET

    ITERATIONS = "iterations"   # the protocol field counting this trainer's iterations
    DIVERGED = ("iteration {} diverged (a non-finite SAC loss); the dataset holds the run until then. Lower "
                "trainer.lr or trainer.reward_scale")

    @classmethod
    def check(cls, section, where, *, agent):
        if agent["kind"] != "pearl":
            raise ProtocolError(f"{where('trainer.kind')}: expected es (or gradient for metods) with agent.kind "
                                f"{agent['kind']} (the pearl trainer is PEARL's SAC, for agent.kind pearl only), "
                                f"got pearl")
        return section

    @staticmethod
    def state_floats(trainer: dict, size: int, task=None) -> int:
        """About how many floats a checkpoint holds: the replay (float32, two to a float64) of every step the
        run may collect, and the networks with Adam's moments (the critics are about the actor's size each)."""
        steps = trainer["iterations"] * trainer["episodes"] * (task.max_steps if task else 5000)
        width = 2 * (task.obs_size if task else 39) + 9
        return steps * width // 2 + 24 * size + 1024

    @property
    def dtype(self) -> torch.dtype:
        return getattr(torch, self.agent.dtype)

    def train(self, initial=None, on_generation=None, *, state=None, checkpoint=None, observations=None) -> TrainResult:
        """Meta-train from the genome `initial`, or continue from `state`, a state this trainer handed to
        `checkpoint` (the other trainers' contract, `loop.train_loop`)."""
        t = self.trainer
        if state is None:
            torch.manual_seed(int(rng_for(self.seed, "init", 1).integers(2**31)))   # the critics' initialisation
            nets = PEARLNetworks(self.agent)
            nets.load_genome(initial)
            opt = optimizers(nets, t["lr"])
            replay = TaskReplay(self.task.obs_size, self.task.n_actions, t["buffer_size"])
            result = self.start(initial, observations)
        else:
            nets, opt, replay, result = self._thaw(state)

        def iteration(i):
            rng = rng_for(self.seed, "train", i)
            episodes = draw_episodes(self.task, self.agent, rng, t["episodes"])
            run = self.collect(nets.genome(), episodes, replay)
            generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
            finite = all(self.step(nets, opt, replay, rng, generator) for _ in range(t["gradient_steps"]))
            status = fitness_status(run.returns[0]) | dict(diverged=int(not finite),
                                                           env_steps=result.env_steps + int(run.steps.sum()))
            return (nets.genome() if finite else result.center), status, not finite

        return self.loop(iteration, result, lambda: _freeze(nets, opt, replay, result), on_generation, checkpoint)

    def collect(self, genome, episodes, replay: TaskReplay):
        """Play the episodes with actions sampled from the actor, recording them; into the replay. Returns the
        Rollouts."""
        acting = dataclasses.replace(self.agent, action="sample")
        E = episodes.data.shape[0]
        run = rollout(acting, self.task, genome, episodes, record=E)
        for e in range(E):
            T = int(run.steps[0, e])
            replay.add_episode(int(episodes.data[e, 0]), run.obs[e, :T], run.action[e, :T], run.reward[e, :T],
                               self.agent.rollout_steps)
        return run

    def step(self, nets, opt, replay: TaskReplay, rng, generator) -> bool:
        """One SAC step on meta_batch tasks drawn (with replacement) from those with data."""
        t = self.trainer
        tasks = rng.choice(replay.tasks, t["meta_batch"])
        batch = {k: torch.as_tensor(v, dtype=self.dtype) for k, v in replay.batch(rng, tasks, t["batch_size"]).items()}
        context = torch.as_tensor(replay.contexts(rng, tasks, t["context_size"]), dtype=self.dtype)
        return sac_step(nets, opt, batch, context, t, generator)

    def _thaw(self, state: bytes):
        weights, adam, replay, result = pickle.loads(state)
        nets = PEARLNetworks(self.agent)
        nets.load_state_dict(weights)
        opt = optimizers(nets, self.trainer["lr"])
        for name, optimizer in opt.items():
            optimizer.load_state_dict(adam[name])
        return nets, opt, replay, result


def _freeze(nets, opt, replay, result) -> bytes:
    """The trainer's whole state as one immutable snapshot (the module doc says why no RNG state is in it)."""
    return pickle.dumps(({k: v.clone() for k, v in nets.state_dict().items()},
                         {name: o.state_dict() for name, o in opt.items()}, replay, result),
                        protocol=pickle.HIGHEST_PROTOCOL)
