"""The maze: exploration, then exploitation of a hidden target, seen through a 3×3 window (model document, section 3).

A size×size grid counted in cells **border included**, as the paper counts its mazes in pixels ("8×8 pix",
"10×10 pix"): a (size−2)×(size−2) area inside a one-cell wall border, walls laid by a randomized Prim's
algorithm, a new maze and a new hidden target cell every episode. The agent sees the view×view cells around it
(1 = wall, 0 = free; cells beyond the grid are walls) and never the target. Actions: 0 = up, 1 = down, 2 = left, 3 = right; a move into a
wall leaves the agent in place and gives `wall_reward` (0 by default). Stepping onto the target gives
`target_reward` and teleports the agent to a random free cell other than the target. The episode lasts
`step_limit` steps (it is only ever truncated).

Prim's algorithm, cell form [ours: the paper does not give its variant]: from a random interior cell, a random
wall cell of the frontier becomes free when exactly one of its four neighbours is free, until the frontier is
empty. Every free cell is reachable (each joins the tree through a free neighbour), the free cells form a tree
(no loops), and it works for any size, even or odd.

Metric `find_step` (find = 1..FINDS): the time step (1-based) at which the agent collected its k-th target reward,
0 when it did not. From it: first reward step (`step_limit` when never found, as in the paper's table) and
success (at least one reward). No closed-form optimum: `optimum` is NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..fields import ProtocolError, integer, number
from ..plasticity.jit import JIT
from .base import Task, numba_contract

FINDS = 20   # target rewards whose step is stored per episode [ours: an agent at the paper's 86.5 finds ~9]
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)   # up, down, left, right: (row, col)
# cfg layout
_SIZE, _VIEW, _TARGET_R, _WALL_R, _T = range(5)
# state layout
_ROW, _COL, _TIME, _FINDS = range(4)


@njit(**JIT)
def lay_maze(G, seed, grid):
    """Walls (1) and free cells (0) of a G×G grid (border included), row-major in `grid`, by randomized Prim's
    algorithm over the (G−2)² cells inside the border."""
    np.random.seed(seed)
    size = G - 2
    grid[:] = 1.0
    frontier = np.empty(4 * G * G, np.int64)
    n = 0
    start = (1 + np.random.randint(size)) * G + 1 + np.random.randint(size)
    grid[start] = 0.0
    for m in range(4):
        frontier[n] = start + MOVES[m, 0] * G + MOVES[m, 1]
        n += 1
    while n > 0:
        k = np.random.randint(n)
        cell = frontier[k]
        n -= 1
        frontier[k] = frontier[n]
        r, c = cell // G, cell % G
        if r < 1 or r > size or c < 1 or c > size or grid[cell] == 0.0:
            continue
        free = 0
        for m in range(4):
            free += grid[cell + MOVES[m, 0] * G + MOVES[m, 1]] == 0.0
        if free != 1:
            continue
        grid[cell] = 0.0
        for m in range(4):
            nxt = cell + MOVES[m, 0] * G + MOVES[m, 1]
            if grid[nxt] == 1.0:
                frontier[n] = nxt
                n += 1


@njit(**JIT)
def free_cell(grid, u, skip):
    """The free cell of rank floor(u · count) among the free cells other than `skip` (−1: none), row-major."""
    count = 0
    for cell in range(grid.shape[0]):
        count += grid[cell] == 0.0 and cell != skip
    rank = min(int(u * count), count - 1)
    for cell in range(grid.shape[0]):
        if grid[cell] == 0.0 and cell != skip:
            if rank == 0:
                return cell
            rank -= 1
    return -1


@njit(**JIT)
def _sample(G, seeds, uniforms, rows):
    for e in range(rows.shape[0]):
        grid = rows[e, :G * G]
        lay_maze(G, seeds[e], grid)
        target = free_cell(grid, uniforms[e, 0], -1)
        rows[e, G * G] = target
        rows[e, G * G + 1] = free_cell(grid, uniforms[e, 1], target)
        rows[e, G * G + 2:] = uniforms[e, 2:]


@dataclass(frozen=True)
class Maze(Task):
    size: int
    view: int
    target_reward: float
    wall_reward: float
    step_limit: int

    name = "maze"
    FIELDS = {
        "size": integer(8, "Side of the whole grid in cells, border included, as the paper counts its mazes in "
                           "pixels (a (size-2)x(size-2) area inside a wall border) [paper: 8 for training, 10 to "
                           "test generalization].", min=4),
        "view": integer(3, "Side of the square window of cells around the agent it observes (odd) [paper: 3].",
                        min=1),
        "target_reward": number(10.0, "Reward for reaching the hidden target, after which the agent is "
                                      "teleported to a random free cell [paper].", above=0),
        "wall_reward": number(0.0, "Reward for a move into a wall (a penalty when negative) [paper: 0].", max=0),
        "step_limit": integer(100, "Steps per episode [paper: 100].", min=1),
    }

    @classmethod
    def check(cls, section, where):
        if section["view"] % 2 == 0:
            raise ProtocolError(f"{where('task.view')}: expected an odd number (the window is centred on the "
                                f"agent), got {section['view']}")
        return section
    metric = "find_step"
    metric_dim = "find"

    n_actions = property(lambda self: 4)
    obs_size = property(lambda self: self.view * self.view)
    state_size = property(lambda self: 4)
    n_metrics = property(lambda self: FINDS)
    max_steps = property(lambda self: self.step_limit)
    optimum = property(lambda self: float("nan"))

    def config(self):
        return np.array([self.size, self.view, self.target_reward, self.wall_reward, self.step_limit],
                        dtype=np.float64)

    def sample(self, rng, episodes):
        """Per episode: the grid (size², border included, 1 = wall), the target cell, the start cell, then one
        uniform per step for the cell a target reward teleports to. Shape (episodes, size² + 2 + step_limit)."""
        G = self.size
        seeds = rng.integers(0, 2**31 - 1, size=episodes)
        uniforms = rng.random((episodes, 2 + self.step_limit))
        rows = np.empty((episodes, G * G + 2 + self.step_limit))
        _sample(G, seeds, uniforms, rows)
        return rows

    def first_reward_floor(self, data: np.ndarray) -> np.ndarray:
        """(E,) the least expected first reward step of each episode's maze, for any agent, even one that knows the
        maze (never the target): the mean step at which a depth-first tour from the start first enters each other
        free cell. The free cells form a tree and the target is uniform over the n − 1 cells other than the start;
        on a tree every depth-first tour has the same mean (a branch holds as many cells as half the steps of its
        round trip, so no order of branches gains), and no walk beats it (checked against the exact optimum over
        all walks, dynamic programming over visited set × position, in tests/tasks/test_maze.py). The cruder
        bound n / 2 (a step enters at most one new cell) is below it."""
        G = self.size
        return np.array([_depth_first_mean_entry(G, row[:G * G], int(row[G * G + 1])) for row in data])

    def episode_stats(self, metrics: np.ndarray) -> dict:
        """Per-episode summaries of the `find_step` metric (…, FINDS): first reward step (step_limit when never
        found) and success (1 when at least one reward)."""
        first = metrics[..., 0]
        return {"first_reward": np.where(first > 0, first, self.step_limit), "success": (first > 0) * 1.0}


@njit(**JIT)
def _depth_first_mean_entry(G, grid, start):
    """Mean over the other free cells of the step at which a depth-first tour from `start` first enters them."""
    seen = np.zeros(G * G, np.bool_)
    path = np.empty(G * G, np.int64)
    seen[start], path[0], depth, step, total, cells = True, start, 1, 0, 0, 0
    while depth > 0:
        step += 1
        cell = path[depth - 1]
        for m in range(4):
            nxt = cell + MOVES[m, 0] * G + MOVES[m, 1]
            if grid[nxt] == 0.0 and not seen[nxt]:
                seen[nxt], path[depth] = True, nxt
                depth += 1
                total += step
                cells += 1
                break
        else:
            depth -= 1
    return total / cells


@njit(inline="always", **JIT)
def _start(cfg, data, state):
    G = int(cfg[_SIZE])
    start = int(data[G * G + 1])
    state[_ROW], state[_COL] = start // G, start % G
    state[_TIME] = 0
    state[_FINDS] = 0

@njit(inline="always", **JIT)
def _observe(cfg, data, state, obs):
    G, V = int(cfg[_SIZE]), int(cfg[_VIEW])
    h = V // 2
    for i in range(V):
        for j in range(V):
            r, c = state[_ROW] + i - h, state[_COL] + j - h
            inside = 0 <= r < G and 0 <= c < G
            obs[i * V + j] = data[r * G + c] if inside else 1.0


@njit(inline="always", **JIT)
def _step(cfg, data, state, action, metrics):
    G = int(cfg[_SIZE])
    t = state[_TIME]
    state[_TIME] = t + 1
    r, c = state[_ROW] + MOVES[action, 0], state[_COL] + MOVES[action, 1]
    if data[r * G + c] != 0.0:
        return cfg[_WALL_R], False
    target = int(data[G * G])
    if r * G + c != target:
        state[_ROW], state[_COL] = r, c
        return 0.0, False
    if state[_FINDS] < metrics.shape[0]:
        metrics[state[_FINDS]] = t + 1
    state[_FINDS] += 1
    land = free_cell(data[:G * G], data[G * G + 2 + t], target)
    state[_ROW], state[_COL] = land // G, land % G
    return cfg[_TARGET_R], False


Maze.reset, Maze.step = numba_contract(_start, _observe, _step)
