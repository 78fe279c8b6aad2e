"""MetODS's twin: `agents.torch_twin` (f, the dynamic layer, g on tensors) under the twins' contract; the state is
W, clipped to agent.W_clip after every step as in the kernels."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..metods import MetODS
from ..torch_twin import TwinArrays, forward, torch_arrays


@dataclass(frozen=True)
class MetODSTwin:
    agent: MetODS

    def arrays(self, params: torch.Tensor) -> TwinArrays:
        return torch_arrays(self.agent, params)

    def start(self, rows: TwinArrays, noise) -> tuple:
        """(W_0,): W0 plus each row's sampled noise, (B, N, N)."""
        return (rows.W0 + torch.as_tensor(noise, dtype=rows.W0.dtype, device=rows.W0.device),)

    def step(self, rows: TwinArrays, state: tuple, x: torch.Tensor):
        agent = self.agent
        logits, value, v, W = forward(rows, state[0], x, steps=agent.steps, write=agent.write)
        if agent.W_clip:
            # after the step as in the kernels; clamp keeps NaN, so divergence still shows
            W = torch.clamp(W, -agent.W_clip, agent.W_clip)
        return logits, value, (W,), (W, v)
