"""The baselines' twins: the genome unpacked by name (the layout's names are the network's, f.weight, …), and
the readout [logits, value] = g.weight h + g.bias that every baseline ends with. RL²'s GRU and the feedforward
layer step here; MAML's MLP in `twins.maml`."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...plasticity.reference import matvec
from ..base import Baseline


@dataclass(frozen=True)
class BaselineTwin:
    agent: Baseline

    def arrays(self, params: torch.Tensor) -> dict:
        """{block name: (P, *shape)} views of params (P, size) (log_std too, on a continuous task)."""
        params = params.reshape(-1, self.agent.layout.size)
        return {name: params[:, sl].reshape((params.shape[0],) + tuple(shape))
                for name, shape, sl in self.agent.layout.slices()}

    @staticmethod
    def readout(rows: dict, h: torch.Tensor):
        """logits (B, A) (or the Gaussian's mean) and value (B,) of the last hidden layer h (B, H)."""
        out = matvec(rows["g.weight"], h) + rows["g.bias"]
        return out[:, :-1], out[:, -1]


class FeedforwardTwin(BaselineTwin):
    """h = tanh(f.weight x + f.bias); no state."""

    def start(self, rows, noise):
        return ()

    def step(self, rows, state, x):
        h = torch.tanh(matvec(rows["f.weight"], x) + rows["f.bias"])
        return *self.readout(rows, h), (), (None, h)


class RL2Twin(BaselineTwin):
    """The GRU cell of `agents.rl2` (PyTorch's GRUCell equations, gates r, z, n); the state is h, zero at t = 0."""

    def start(self, rows, noise):
        return (rows["g.weight"].new_zeros((noise.shape[0], self.agent.hidden)),)

    def step(self, rows, state, x):
        H, (h,) = self.agent.hidden, state
        gi = matvec(rows["gru.weight_ih"], x) + rows["gru.bias_ih"]
        gh = matvec(rows["gru.weight_hh"], h) + rows["gru.bias_hh"]
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        return *self.readout(rows, h), (h,), (None, h)
