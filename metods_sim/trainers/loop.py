"""The bookkeeping every trainer's loop shares: validation every few iterations, best snapshot, curve, time
limit, status hook, Ctrl-C."""
from __future__ import annotations

import time

import numpy as np

from .es import TrainResult


def train_loop(step, initial, *, iterations, time_limit, eval_every, validate, on_generation=None) -> TrainResult:
    """step(i) → (parameters after iteration i (size,), returns of its training episodes (n,), environment steps
    it took). validate(parameters) → mean validation return. Returns a TrainResult whose curve has the keys of
    ESTrainer.CURVE (fitness_* are the training episodes' returns), so every trainer writes the same dataset."""
    result, start, env_steps = TrainResult(), time.perf_counter(), 0
    result.center = result.best = np.asarray(initial, dtype=np.float64)
    try:
        for i in range(iterations):
            center, returns, steps = step(i)
            env_steps += steps
            result.center = center
            out_of_time = time_limit and time.perf_counter() - start >= 60 * time_limit
            validation = np.nan
            if i % eval_every == 0 or i == iterations - 1 or out_of_time:
                validation = validate(center)
                if validation > result.best_validation:
                    result.best, result.best_validation = center, validation
            status = dict(fitness_mean=float(np.mean(returns)), fitness_max=float(np.max(returns)),
                          fitness_min=float(np.min(returns)), center_return=validation, env_steps=env_steps,
                          wall_time=time.perf_counter() - start)
            for key in result.curve:
                result.curve[key].append(status[key])
            if on_generation:
                on_generation(i, status, result)
            if out_of_time:
                result.stopped_by = "time_limit"
                break
    except KeyboardInterrupt:
        result.interrupted, result.stopped_by = True, "interrupted"
    return result
