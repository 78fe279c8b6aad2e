"""Every registered task honours the contract; the grid tasks are valid Gymnasium environments (the MuJoCo
tasks are Gymnasium's own bodies: tests/tasks/test_locomotion.py)."""
import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import metods_sim  # noqa: F401  (registers the environments)
from metods_sim.tasks import GYM_IDS, TASKS, make_task
from metods_sim.protocol import defaults


@pytest.mark.parametrize("kind", sorted(GYM_IDS))
def test_gymnasium_env_checker_passes(kind):
    env = gymnasium.make(GYM_IDS[kind])
    check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_every_task_has_a_gymnasium_id_and_schema(kind):
    task = make_task(defaults(task=kind)["task"])
    assert task.name == kind and (kind in GYM_IDS) != task.continuous
    assert task.obs_size > 0 and task.n_actions >= 2 and task.max_steps > 0


@pytest.mark.parametrize("kind", sorted(GYM_IDS))
def test_episodes_are_reproducible_from_the_seed(kind):
    env = gymnasium.make(GYM_IDS[kind])
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.action_space.n, size=200)

    def play(seed):
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for a in actions:
            obs, r, term, trunc, _ = env.step(int(a))
            trace.append(np.append(obs, r))
            if term or trunc:
                break
        return np.concatenate(trace)

    np.testing.assert_array_equal(play(7), play(7))
    assert not np.array_equal(play(7), play(8))


def test_unknown_task_fields_are_refused():
    with pytest.raises(ValueError, match="task.presentatons: unknown key.*did you mean presentations"):
        gymnasium.make(GYM_IDS["harlow"], presentatons=3)


def test_importing_the_package_registers_the_environments():
    import subprocess
    import sys

    code = "import gymnasium, metods_sim; print(gymnasium.make('metods_sim/Harlow-v0').action_space)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Discrete(3)"
