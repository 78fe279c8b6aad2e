"""Small synthetic Harlow recordings whose analyses have known answers."""
import numpy as np
import pytest
import xarray as xr

REWARDS = np.array([[0.0, 0.2, 1.0, 0.0, 0.0, 0.0],    # first choice rewarded at t = 2; length 4
                    [0.2, -1.0, 0.0, 0.2, 1.0, 0.0],   # unrewarded at t = 1; length 6
                    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],    # the 1.0 comes after the end (length 3): no choice
                    [0.2, 0.0, -1.0, 0.0, 0.2, 0.0]])  # unrewarded at t = 2; length 5
LENGTH = np.array([4, 6, 3, 5])
D = np.array([[1.0, 0.0], [0.0, -0.5]])  # the only direction W moves in
PROTOCOL = "task: {correct_reward: 1.0, wrong_reward: -1.0}\nagent: {W0: zeros}\n"


def recording(a, rewards, length):
    """W_t = a_t·D and activation v_t = (1, 0) on live steps, zeros after each episode's length (as recorded)."""
    S, T = rewards.shape
    live = np.arange(T)[None] < length[:, None]
    v = np.zeros((S, T, 2))
    v[..., 0] = live
    return xr.Dataset({"W": (("sample", "time", "post", "pre"), ((a * live)[..., None, None] * D).astype(np.float32)),
                       "activation": (("sample", "time", "neuron"), v.astype(np.float32)),
                       "reward": (("sample", "time"), rewards), "sample_length": ("sample", length)},
                      coords={"sample": np.arange(S), "time": np.arange(T)}, attrs={"protocol": PROTOCOL, "a": a})


@pytest.fixture
def ds():
    """a grows by 3 at steps whose reward input is non-zero and by 1 elsewhere (from W₀ = 0)."""
    reward_in = np.concatenate([np.zeros((4, 1)), REWARDS[:, :-1]], axis=1)
    return recording(np.cumsum(np.where(reward_in != 0, 3.0, 1.0), axis=1), REWARDS, LENGTH)
