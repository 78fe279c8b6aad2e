"""Observation normalisation by running mean and variance (`trainer.observation_norm: running`), the standard
lever of ES on locomotion (Salimans et al. 2017; ARS, Mania et al. 2018).

    norm = stats.normalisation()                 the transform frozen from the statistics so far
    out = rollout(..., norm=norm)                every engine feeds the agent clip((o − μ)/σ, −c, c) in place of o,
                                                 and returns the sums of the raw o it saw (out.obs_sum, obs_sumsq;
                                                 their count is out.steps)
    stats = stats.merged(out.steps, out.obs_sum, out.obs_sumsq)   Chan's parallel merge, float64

σ = sqrt(var + EPSILON) and c = CLIP [ours: Salimans et al.'s code floors the variance at 1e-2 and clips the
normalised observation to ±5]. Before any observation (count 0) the transform is μ = 0, σ = 1 (then the clip).
Only o is normalised, never the previous action or reward. Every engine computes the transform in float64, as
`Normalisation.apply` does, and then casts it to the agent's float type, so that the engines agree.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

EPSILON = 1e-2
CLIP = 5.0


class Normalisation(NamedTuple):
    """The frozen transform: mean, std (obs_size,) float64; clip c."""

    mean: np.ndarray
    std: np.ndarray
    clip: float = CLIP

    def apply(self, obs) -> np.ndarray:
        """clip((obs − mean) / std, −clip, clip), float64, over obs (..., obs_size)."""
        return np.minimum(np.maximum((np.asarray(obs, np.float64) - self.mean) / self.std, -self.clip), self.clip)


class ObservationStats(NamedTuple):
    """Running statistics of every observation seen in training: count, mean (obs_size,) and M2 (obs_size,), the
    sum of squared deviations from the mean, all float64."""

    count: float
    mean: np.ndarray
    M2: np.ndarray

    @classmethod
    def start(cls, obs_size: int) -> ObservationStats:
        return cls(0.0, np.zeros(obs_size), np.zeros(obs_size))

    @classmethod
    def of(cls, count, mean, std) -> ObservationStats:
        """The statistics whose normalisation is (mean, std) after count observations (a stored run's)."""
        mean = np.asarray(mean, np.float64)
        return cls(float(count), mean, float(count) * np.maximum(np.asarray(std, np.float64) ** 2 - EPSILON, 0.0))

    @property
    def var(self) -> np.ndarray:
        return self.M2 / self.count if self.count else np.ones_like(self.mean)

    def normalisation(self) -> Normalisation:
        if not self.count:
            return Normalisation(np.zeros_like(self.mean), np.ones_like(self.mean))
        return Normalisation(self.mean.copy(), np.sqrt(self.var + EPSILON))

    def merged(self, counts, sums, sumsqs) -> ObservationStats:
        """These statistics and the rows of a batch, row r having counts[r] observations whose sums are sums[r]
        and sums of squares sumsqs[r] (any leading shape: (P, E) rows of a rollout), merged by Chan et al.'s
        parallel formula, generalised to many groups at once: N = Σ n_i, mean = Σ n_i m_i / N,
        M2 = Σ M2_i + Σ n_i (m_i − mean)². Rows with no observation or non-finite sums are left out. The rows are
        put in a canonical order (sorted by content) first, so that the float sums do not depend on the order in
        which they came (Ray actors return their pieces of a population in any order)."""
        O = self.mean.shape[0]
        n = np.asarray(counts, np.float64).reshape(-1)
        s, q = np.asarray(sums, np.float64).reshape(-1, O), np.asarray(sumsqs, np.float64).reshape(-1, O)
        kept = (n > 0) & np.isfinite(s).all(axis=1) & np.isfinite(q).all(axis=1)
        n, s, q = n[kept], s[kept], q[kept]
        if not n.size:
            return self
        order = np.lexsort(np.concatenate([n[None], s.T, q.T])[::-1])
        n, s, q = n[order], s[order], q[order]
        m = s / n[:, None]
        m2 = np.maximum(q - s * m, 0.0)                      # each row's own sum of squared deviations
        n = np.concatenate([[self.count], n]) if self.count else n
        m = np.concatenate([self.mean[None], m]) if self.count else m
        m2 = np.concatenate([self.M2[None], m2]) if self.count else m2
        total = n.sum()
        mean = (n[:, None] * m).sum(axis=0) / total
        return ObservationStats(float(total), mean, m2.sum(axis=0) + (n[:, None] * (m - mean) ** 2).sum(axis=0))
