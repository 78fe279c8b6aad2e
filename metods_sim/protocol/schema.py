"""Every protocol field, its default, its check and its meaning — the one place defaults live.

Tags in the docs follow the model document: [paper] stated in the paper, [ours] our choice where it is silent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    default: Any
    doc: str
    kind: str                      # "int", "float", "str", "bool"
    choices: tuple | None = None
    min: float | None = None       # inclusive
    max: float | None = None       # inclusive
    above: float | None = None     # exclusive lower bound

    def expected(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        words = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                 "mapping": "a mapping"}[self.kind]
        bounds = []
        if self.above is not None:
            bounds.append(f"> {self.above:g}")
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        return words + (" " + " and ".join(bounds) if bounds else "")


def _int(default, doc, **kw):
    return Field(default, doc, "int", **kw)


def _float(default, doc, **kw):
    return Field(default, doc, "float", **kw)


def _choice(default, doc, choices):
    return Field(default, doc, "str", choices=tuple(choices))


TOP = {
    "name": Field("", "Protocol name, used in the default output path; empty: the protocol file's name.", "str"),
    "seed": _int(0, "Seed of everything random in the run (initial genome, ES noise, every episode).", min=0),
    "sweep": Field({}, "Many runs of this protocol in one dataset with variant and seed dims: seeds: [0, 1], "
                       "key.path: [values] (a grid axis), variants: {name: {key.path: value}} (named variants); "
                       "{}: one run. Each run gets its own directory DIR/<variant>/seed-<n>/ and the whole "
                       "trainer budget (time_limit is per run). See docs/protocol.md.", "mapping"),
}

TASKS = {
    "harlow": {
        "presentations": _int(6, "Presentations per episode (the first is a coin flip) [ours: 6 fits the paper's "
                                 "optimum of 6.2].", min=1),
        "pattern_size": _int(8, "Length of the random ±1 object patterns [ours].", min=1),
        "distance": _int(1, "Steps from the centre to each object on the 1-D track [ours: 1; with 2 the "
                            "shipped budget did not escape the random-choice plateau reliably, see README].", min=1),
        "fixation_reward": _float(0.2, "Reward for reaching the centre during fixation [figure].", min=0),
        "correct_reward": _float(1.0, "Reward for choosing the episode's rewarded object [figure]."),
        "wrong_reward": _float(-1.0, "Reward for choosing the other object [figure]."),
        "step_limit": _int(60, "Steps per episode at most; unreached presentations count as not chosen [ours: "
                               "3.3x the 18 steps an optimal agent needs with distance 1].", min=1),
    },
    "harlow_simple": {
        "presentations": _int(6, "Presentations per episode, two steps each (choice, feedback).", min=1),
        "pattern_size": _int(8, "Length of the random ±1 object patterns [ours].", min=1),
        "correct_reward": _float(1.0, "Reward for choosing the episode's rewarded object."),
        "wrong_reward": _float(-1.0, "Reward for choosing the other object."),
    },
    "maze": {
        "size": _int(8, "Side of the whole grid in cells, border included, as the paper counts its mazes in "
                        "pixels (a (size-2)x(size-2) area inside a wall border) [paper: 8 for training, 10 to test "
                        "generalization].", min=4),
        "view": _int(3, "Side of the square window of cells around the agent it observes (odd) [paper: 3].", min=1),
        "target_reward": _float(10.0, "Reward for reaching the hidden target, after which the agent is teleported "
                                      "to a random free cell [paper].", above=0),
        "wall_reward": _float(0.0, "Reward for a move into a wall (a penalty when negative) [paper: 0].", max=0),
        "step_limit": _int(100, "Steps per episode [paper: 100].", min=1),
    },
}



def _body(ctrl_cost: float, ctrl_doc: str) -> dict:
    """The fields every MuJoCo task has."""
    return {
        "horizon": _int(200, "Steps per episode (each frame_skip MuJoCo steps) [paper: 200].", min=1),
        "ctrl_cost": _float(ctrl_cost, "Weight of the control cost, ctrl_cost · Σ a² over the applied controls "
                                       + ctrl_doc, min=0),
        "reset_noise": _float(0.1, "Scale s of Gymnasium's reset noise: qpos0 + U(-s, s), s · N(0, 1) velocities "
                                   "[Gymnasium: 0.1].", min=0),
        "frame_skip": _int(5, "MuJoCo steps of 0.01 s per environment step [Gymnasium: 5].", min=1),
        "impair": Field({"frozen": []}, "Robot impairment, {frozen: [k, ...]}: actuators (0-based; ant_dir 0-7, "
                                        "cheetah 0-5) given zero torque, e.g. at evaluation: --set "
                                        "task.impair.frozen=[2] [paper: one actuator frozen at test time, unseen "
                                        "in training]; {frozen: []}: none.", "mapping"),
    }


TASKS.update({
    "ant_dir": {
        "directions": _choice("forward_backward", "Rewarded direction drawn per episode: forward_backward (θ = 0 "
                                                  "or π [paper], as many of each in every set of episodes "
                                                  "[ours]), uniform (θ ~ U(0, 2π)), or forward (θ = 0 always: "
                                                  "plain locomotion, nothing to adapt to; a first curriculum "
                                                  "stage, see trainer.init_from).",
                              ("forward_backward", "uniform", "forward")),
        **_body(0.5, "[Gymnasium Ant-v5: 0.5]."),
        "contact_cost": _float(5e-4, "Weight of the contact cost, Σ clip(cfrc_ext)² [Gymnasium Ant-v5: 5e-4].",
                               min=0),
        "contact_force": _float(1.0, "Contact forces are clipped to ±contact_force, in the cost and the "
                                     "observation [Gymnasium Ant-v5: 1].", above=0),
        "contact_obs": Field(True, "The 78 clipped contact forces are part of the observation (105 floats; "
                                   "false: 27) [Gymnasium Ant-v5: true].", "bool"),
        "healthy_reward": _float(1.0, "Survival bonus per step while the torso's height is in [healthy_z_min, "
                                      "healthy_z_max] [Gymnasium Ant-v5: 1].", min=0),
        "terminate": Field(True, "The episode ends when the torso's height leaves that range [Gymnasium "
                                 "Ant-v5: true].", "bool"),
        "healthy_z_min": _float(0.2, "Lowest healthy torso height [Gymnasium Ant-v5: 0.2].",),
        "healthy_z_max": _float(1.0, "Highest healthy torso height [Gymnasium Ant-v5: 1].",),
    },
    "cheetah_dir": {   # the direction, ±1, is drawn as ant_dir's forward_backward: as many of each
        **_body(0.05, "[meta-RL's usual 0.05; Gymnasium's default 0.1]."),
    },
    "cheetah_vel": {
        "velocity_min": _float(0.0, "Lowest goal velocity, drawn per episode from U(velocity_min, velocity_max) "
                                    "[ours: the common meta-RL range 0-2 m/s].",),
        "velocity_max": _float(2.0, "Highest goal velocity.",),
        **_body(0.05, "[meta-RL's usual 0.05; Gymnasium's default 0.1]."),
    },
    "metaworld": {
        "benchmark": _choice("ML1", "Meta-World benchmark: ML1 (one environment, its goals vary) or ML10 (10 "
                                    "training, 5 test environments) [paper].", ("ML1", "ML10")),
        "env_name": Field("reach-v3", "ML1's environment, e.g. reach-v3, push-v3 [paper]; unused by ML10.", "str"),
        "split": _choice("train", "Tasks episodes are drawn from: the benchmark's train or test tasks.",
                         ("train", "test")),
        "rollouts": _int(10, "Rollouts per adaptation episode, W carried from one to the next [paper: 10].", min=1),
        "rollout_steps": _int(500, "Steps per rollout [paper and Meta-World: 500].", min=1, max=500),
        "benchmark_seed": _int(0, "Seed of Meta-World's benchmark (its lists of tasks) [ours].", min=0),
    },
})

INIT_LOG_STD = _float(0.0, "On a continuous task (MuJoCo, Meta-World): the starting log standard deviation of every "
                           "action of the Gaussian policy, σ = exp(init_log_std), the genome's log_std block. The "
                           "gradient trainer learns it from there; ES scores the mean action (action: greedy), so "
                           "there it only matters for action: sample. Unused on a discrete task [ours: 0, σ = 1].")
ACTION = _choice("greedy", "Action selection from the logits: greedy (argmax) or sample (softmax) [ours: greedy "
                           "under ES, less fitness noise]. On a MuJoCo task the network's outputs are the mean "
                           "of a Gaussian with learned log_std: greedy takes the mean, sample draws; either is "
                           "clipped to [-1, 1].", ("greedy", "sample"))
DTYPE = _choice("float32", "Float type of the rollout kernels (float64 for checks).", ("float32", "float64"))

AGENTS = {
    "metods": {
        "neurons": _int(20, "N, neurons of the dynamic layer [paper: 20 solve Harlow].", min=1),
        "steps": _int(4, "S, recursive read/write passes per time step [paper: S = 4 best].", min=1),
        "write": _choice("linear", "Write vector u(v): vanilla u = v, linear u = L v, mlp u = U2 tanh(U1 v) "
                                   "[paper].", ("vanilla", "linear", "mlp")),
        "mlp_hidden": _int(20, "Hidden units of the mlp write vector [ours].", min=1),
        "plasticity": _choice("elementwise", "alpha: elementwise = learned N×N per-synapse plasticity [paper]; "
                                             "none = all ones [ours, the ablation].", ("elementwise", "none")),
        "W0": _choice("zeros", "Initial fast weights each episode: zeros, learned (in the genome), or sampled "
                               "(N(0, W0_std²) per episode) [paper lists all three; ours: zeros].",
                      ("zeros", "learned", "sampled")),
        "W0_std": _float(0.1, "Standard deviation of W0 when sampled.", min=0),
        "action": ACTION,
        "W_clip": _float(0.0, "Bound on every fast weight: after each time step W is clipped to [-W_clip, W_clip] "
                              "(0: no bound) [ours]. Unbounded, a rule whose W overflows or becomes NaN makes that "
                              "member diverge: it gets the worst fitness.", min=0),
        "dtype": DTYPE,
        "init_std": _float(1.0, "Initial f and g weights ~ N(0, init_std²/fan_in) [ours].", min=0),
        "init_log_std": INIT_LOG_STD,
        "init_alpha": _float(1.0, "Initial value of every alpha entry [ours].",),
        "init_beta": _float(0.1, "Initial write coefficients beta[s, s]; beta[s, s-1] = kappa[s, s] = 1, the "
                                 "rest 0: each pass starts as a plain Hebbian accumulation [ours].",),
    },
    "rl2": {
        "hidden": _int(12, "H, units of the GRU (PyTorch's GRUCell) that sees [o, one-hot a, r] [paper: RL² is a "
                           "GRU; ours: 12 gives 1,420 parameters on harlow, as many as the default MetODS agent's "
                           "1,412].", min=1),
        "action": ACTION,
        "dtype": DTYPE,
        "init_std": _float(1.0, "Initial weights ~ N(0, init_std²/fan_in), biases 0 [ours].", min=0),
        "init_log_std": INIT_LOG_STD,
    },
    "feedforward": {
        "hidden": _int(48, "H, tanh units of the one hidden layer on [o, one-hot a, r], no memory across steps "
                           "[ours: 48 gives 1,396 parameters on harlow, as many as the default MetODS agent's "
                           "1,412].", min=1),
        "action": ACTION,
        "dtype": DTYPE,
        "init_std": _float(1.0, "Initial weights ~ N(0, init_std²/fan_in), biases 0 [ours].", min=0),
        "init_log_std": INIT_LOG_STD,
    },
    "random": {
        "action": _choice("sample", "sample: uniform random actions, drawn from each episode's uniforms (its "
                                    "logits are all equal: greedy would always pick action 0); on a MuJoCo task "
                                    "N(0, 1) actions clipped to [-1, 1]. zero: the zero action at every step "
                                    "(MuJoCo tasks only: the motionless baseline).", ("sample", "zero")),
        "dtype": DTYPE,
    },
}

INIT_FROM = Field("", "A run's results.nc (or its directory; relative to the working directory) whose best genome "
                     "training starts from, e.g. a run on an easier variant of the task (a curriculum); the agent "
                     "and task must give genomes of the same size. Empty: the agent's initial genome (agent.init_*) "
                     "[ours]. Not read for an agent without parameters (random).", "str")

TRAINERS = {
    "es": {
        "algorithm": _choice("pgpe", "EvoTorch search algorithm.", ("pgpe", "snes", "xnes", "cmaes", "cem")),
        "generations": _int(3000, "Generations at most.", min=1),
        "time_limit": _float(0.0, "Minutes of training at most (0: no limit); the run then evaluates and writes "
                                  "as usual.", min=0),
        "popsize": _int(256, "Population size (pgpe samples symmetric pairs: must be even).", min=2),
        "episodes": _int(8, "Episodes per member per generation; every member sees the same ones.", min=1),
        "stdev_init": _float(0.05, "Initial standard deviation of the search distribution.", above=0),
        "center_lr": _float(0.01, "Centre learning rate (pgpe, snes, xnes).", above=0),
        "stdev_lr": _float(0.1, "Standard-deviation learning rate (pgpe, snes, xnes).", above=0),
        "optimizer": _choice("clipup", "Optimizer of the pgpe centre.", ("clipup", "adam", "sgd")),
        "max_speed": _float(0.02, "ClipUp maximum speed (pgpe with clipup).", above=0),
        "parenthood_ratio": _float(0.25, "Share of the population that are parents (cem).", above=0, max=1),
        "eval_every": _int(25, "Generations between evaluations of the search centre on held-out episodes.", min=1),
        "eval_episodes": _int(512, "Held-out episodes of each centre evaluation (the validation set).", min=1),
        "checkpoint_every": _int(100, "Generations between checkpoints (DIR/checkpoint.pkl, from which `python -m "
                                      "metods_sim resume DIR` continues); one is also written when training stops. "
                                      "0: only then.", min=0),
        "device": _choice("cpu", "Device of the ES arithmetic (rollouts always run on the CPU).",
                          ("cpu", "cuda")),
        "num_actors": _int(0, "Ray actors evaluating the population (EvoTorch's mechanism); 0: this process.",
                           min=0),
        "init_from": INIT_FROM,
    },
    "gradient": {
        "algorithm": _choice("a2c", "On-policy actor-critic through the whole episode (backpropagation through "
                                    "time over W): a2c, or ppo (clipped ratio, several epochs per batch) [paper: "
                                    "actor-critic with GAE].", ("a2c", "ppo")),
        "updates": _int(2000, "Parameter updates at most (the dataset's generation axis).", min=1),
        "time_limit": _float(0.0, "Minutes of training at most (0: no limit); the run then evaluates and writes "
                                  "as usual.", min=0),
        "episodes": _int(64, "Episodes per update, run in one batch with actions sampled from the policy.", min=1),
        "lr": _float(0.001, "Adam learning rate [ours].", above=0),
        "gamma": _float(0.9, "Discount factor [ours].", min=0, max=1),
        "gae_lambda": _float(0.95, "GAE lambda [ours].", min=0, max=1),
        "entropy": _float(0.01, "Weight of the policy-entropy bonus [ours].", min=0),
        "value_coef": _float(0.5, "Weight of the value (critic) loss [ours].", min=0),
        "max_grad_norm": _float(1.0, "Gradient norm clipping (0: none) [ours].", min=0),
        "normalize_advantages": Field(True, "Advantages rescaled to mean 0, standard deviation 1 over each batch "
                                            "[ours].", "bool"),
        "bptt": _int(0, "Truncated backpropagation through time: gradients cross at most this many steps of the "
                        "W trajectory, and memory holds one such window (0: the whole episode).", min=0),
        "ppo_epochs": _int(4, "Passes over each batch (ppo).", min=1),
        "ppo_clip": _float(0.2, "Clipping of the probability ratio (ppo).", above=0),
        "eval_every": _int(10, "Updates between evaluations of the parameters on held-out episodes.", min=1),
        "eval_episodes": _int(512, "Held-out episodes of each evaluation (the validation set).", min=1),
        "checkpoint_every": _int(100, "Updates between checkpoints (DIR/checkpoint.pkl: parameters, Adam's state, "
                                      "torch's RNG, the curve so far; `python -m metods_sim resume DIR` continues "
                                      "from it); one is also written when training stops. 0: only then.", min=0),
        "device": _choice("cpu", "Device of the PyTorch twin (the task always steps on the CPU).",
                          ("cpu", "cuda")),
        "init_from": INIT_FROM,
    },
}

EVALUATION = {
    "episodes": _int(1000, "Held-out episodes of the final evaluation (the test set).", min=1),
    "agent": _choice("best", "Agent evaluated at the end: best = the centre snapshot with the highest validation "
                             "return, center = the final search centre.", ("best", "center")),
}

RECORDING = {
    "episodes": _int(8, "Test episodes whose W, activations, actions and rewards are stored.", min=0),
}

OUTPUT = {
    "dir": Field("", "Run directory; empty: runs/<name>/<timestamp>/. Holds results.nc.", "str"),
}

SECTIONS = {"task": TASKS, "agent": AGENTS, "trainer": TRAINERS,
            "evaluation": EVALUATION, "recording": RECORDING, "output": OUTPUT}
KINDED = {"task": ("harlow", "task"), "agent": ("metods", "agent"), "trainer": ("es", "trainer")}
