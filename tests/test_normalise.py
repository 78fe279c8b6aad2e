"""Observation normalisation (`trainer.observation_norm: running`): the running statistics are the mean and
variance of every observation seen, merged batch by batch; the transform is clip((o − μ)/σ, −c, c)."""
import numpy as np

from metods_sim.rollout import Normalisation, ObservationStats
from metods_sim.rollout.normalise import CLIP, EPSILON


def batch(rng, rows, O, scale):
    """rows of observations, each row a different number of steps (0 included): (counts, sums, sumsqs) and the
    observations themselves, stacked."""
    counts = rng.integers(0, 30, rows)
    counts[0] = 0
    obs = [rng.normal(3.0, scale, (n, O)) * np.arange(1, O + 1) for n in counts]
    return (counts, np.stack([o.sum(0) for o in obs]), np.stack([(o ** 2).sum(0) for o in obs])), np.concatenate(obs)


def test_the_running_merge_is_the_mean_and_variance_of_all_the_observations_together(rng):
    O, stats, seen = 4, ObservationStats.start(4), []
    for generation, scale in enumerate([0.1, 1.0, 10.0]):   # batches of different spread
        sums, obs = batch(rng, 16, O, scale)
        stats = stats.merged(*sums)
        seen.append(obs)
        together = np.concatenate(seen)
        assert stats.count == len(together)
        np.testing.assert_allclose(stats.mean, together.mean(0), rtol=1e-12, atol=0)
        np.testing.assert_allclose(stats.var, together.var(0), rtol=1e-12, atol=0)
    norm = stats.normalisation()
    np.testing.assert_allclose(norm.std, np.sqrt(together.var(0) + EPSILON), rtol=1e-12)


def test_the_merge_does_not_depend_on_the_order_of_the_rows(rng):
    """Ray actors hand back their pieces of a population in any order: the statistics must be the same numbers."""
    (counts, sums, sumsqs), _ = batch(rng, 64, 3, 5.0)
    start = ObservationStats.start(3).merged(counts[:8], sums[:8], sumsqs[:8])
    order = rng.permutation(64)
    a, b = start.merged(counts, sums, sumsqs), start.merged(counts[order], sums[order], sumsqs[order])
    assert a.count == b.count
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.M2, b.M2)


def test_rows_that_saw_nothing_or_overflowed_are_left_out(rng):
    (counts, sums, sumsqs), obs = batch(rng, 8, 2, 1.0)
    bad = (np.array([5]), np.array([[np.inf, 1.0]]), np.array([[np.inf, 1.0]]))
    merged = ObservationStats.start(2).merged(*(np.concatenate([a, b]) for a, b in zip((counts, sums, sumsqs), bad)))
    np.testing.assert_allclose(merged.mean, obs.mean(0), rtol=1e-12)
    assert ObservationStats.start(2).merged(np.zeros(3), np.zeros((3, 2)), np.zeros((3, 2))).count == 0


def test_before_any_observation_the_transform_is_the_clip_alone_and_after_it_centres_and_scales():
    norm = ObservationStats.start(3).normalisation()
    np.testing.assert_array_equal(norm.apply([[0.5, -7.0, 7.0]]), [[0.5, -CLIP, CLIP]])
    stats = ObservationStats(4.0, np.array([1.0, 2.0]), np.array([4.0, 0.0]))   # var 1 and 0
    o = np.array([[2.0, 2.0], [1.0, 3.0]])
    expected = np.clip((o - [1.0, 2.0]) / np.sqrt([1.0 + EPSILON, EPSILON]), -CLIP, CLIP)
    np.testing.assert_array_equal(stats.normalisation().apply(o), expected)
    assert expected[1, 1] == CLIP                                      # a constant entry that moves: clipped


def test_statistics_stored_as_mean_and_std_come_back_as_they_were(rng):
    (counts, sums, sumsqs), _ = batch(rng, 8, 3, 2.0)
    stats = ObservationStats.start(3).merged(counts, sums, sumsqs)
    norm = stats.normalisation()
    again = ObservationStats.of(stats.count, norm.mean, norm.std)
    assert isinstance(norm, Normalisation) and again.count == stats.count
    np.testing.assert_allclose(again.M2, stats.M2, rtol=1e-10)
