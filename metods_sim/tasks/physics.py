"""MuJoCo from inside Numba kernels: the C library's functions called by address, its arrays read in place.

A rollout kernel steps every member's body between two network steps without returning to Python: the
functions of MuJoCo's C API (`mj_step`, `mj_forward`, ...) are called through their addresses, and MjData's
arrays (qpos, qvel, ctrl, xpos, cfrc_ext) are read and written where MuJoCo keeps them. Both kinds of address
reach the kernel as int64 arguments, never as compiled-in constants, so the kernel stays in Numba's disk cache.

Why not `mujoco.rollout.rollout`: it steps open-loop controls and returns states, but the Ant's observation and
contact cost need `cfrc_ext`, which Gymnasium computes after each step with `mj_rnePostConstraint` and which is
no part of a MuJoCo state; and a closed loop would return to Python every environment step.

Each thread of the kernel owns one MjData (`Simulator.threads`); an agent's body is its full integration state
(`mjSTATE_INTEGRATION`: qpos, qvel, act, ctrl, warm start, ...), kept in the kernel's per-lane arrays and set into
the thread's MjData for each step. MuJoCo documents that state as everything `mj_step` depends on, so a body steps
exactly as it would in an MjData of its own (the Gymnasium comparison in the tests checks it).

    sim = simulator(xml_path)
    sim.functions   int64 (len(FUNCTIONS) + 1,)   the model's address, then the functions' addresses
    sim.threads     int64 (threads, len(ARRAYS) + 1) per thread: its MjData's address, then its arrays'

Several models in one kernel call (`models_for`: Meta-World's ML10 mixes ten): each thread holds its own copy of
every model, with an MjData of it, so that a task may set a model's body and site positions for the episode it
steps (Meta-World moves the door, the drawer, the shelf per task) without racing another thread. A thread's row of
`Models.threads` is one block of `BLOCK` addresses per model, [functions (the copy's address first) | MjData and
its arrays | the copy's MODEL_ARRAYS], and `block(mj, m)` returns model m's three parts as the (functions, mj)
that the helpers below take, and the model arrays. The copies cost memory: a Meta-World model holds about 20 MB
(meshes and textures), so ML10's train split takes some 200 MB per thread.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.extending import intrinsic

from ..plasticity.jit import FUSED
from ..errors import UserError

FUNCTIONS = ("mj_step", "mj_forward", "mj_rnePostConstraint", "mj_resetData", "mj_getState", "mj_setState")
MODEL, STEP, FORWARD, RNE_POST, RESET, GET_STATE, SET_STATE = range(len(FUNCTIONS) + 1)
ARRAYS = ("qpos", "qvel", "ctrl", "xpos", "cfrc_ext", "mocap_pos", "mocap_quat", "site_xpos", "geom_xmat", "xquat",
          "geom_xpos", "site_xmat")
(DATA, QPOS, QVEL, CTRL, XPOS, CFRC_EXT, MOCAP_POS, MOCAP_QUAT, SITE_XPOS, GEOM_XMAT, XQUAT, GEOM_XPOS,
 SITE_XMAT) = range(len(ARRAYS) + 1)
# a model's arrays that a task may set per episode (Meta-World moves bodies and sites of its model per task)
MODEL_ARRAYS = ("body_pos", "site_pos")
BODY_POS, SITE_POS = range(len(MODEL_ARRAYS))
MEMORY = 2   # floats a physics task keeps per agent beside its body (the Ant: its torso's last (x, y))


class PhysicsError(UserError):
    """MuJoCo is missing or unusable: bad input like a bad protocol (one line, exit status 2)."""


@dataclass(frozen=True)
class Simulator:
    model: object               # mujoco.MjModel
    datas: tuple                # one MjData per thread (kept alive here: the kernel holds only addresses)
    functions: np.ndarray
    threads: np.ndarray
    state_size: int             # doubles in one body's integration state
    state_spec: int             # mjSTATE_INTEGRATION


def mujoco_module():
    """`import mujoco`, or a PhysicsError naming what is missing."""
    try:
        import mujoco
    except ImportError as error:
        raise PhysicsError(f"cannot import MuJoCo ({error}); install it with pip install mujoco==3.3.0") from None
    return mujoco


@functools.lru_cache(maxsize=None)
def simulator(xml_path: str) -> Simulator:
    """The model at xml_path and one MjData per Numba thread, with the addresses the kernels need."""
    mujoco = mujoco_module()
    try:
        model = mujoco.MjModel.from_xml_path(xml_path)
    except (ValueError, OSError) as error:
        raise PhysicsError(f"{xml_path}: MuJoCo cannot load the model ({error})") from None
    return simulator_for(model)


def simulator_for(model) -> Simulator:
    """One MjData per Numba thread for an MjModel built elsewhere (Meta-World edits its model after loading it:
    the simulation must use that very model). Not cached: the caller keeps the Simulator."""
    mujoco = mujoco_module()
    library = _library(mujoco)
    functions = [model._address] + [ctypes.cast(getattr(library, name), ctypes.c_void_p).value for name in FUNCTIONS]
    datas = tuple(mujoco.MjData(model) for _ in range(numba.config.NUMBA_NUM_THREADS))
    threads = [[d._address] + [getattr(d, name).ctypes.data for name in ARRAYS] for d in datas]
    spec = int(mujoco.mjtState.mjSTATE_INTEGRATION)
    return Simulator(model, datas, np.array(functions, np.int64), np.array(threads, np.int64),
                     mujoco.mj_stateSize(model, spec), spec)


FUNCS, ROW = len(FUNCTIONS) + 1, len(ARRAYS) + 1
BLOCK = FUNCS + ROW + len(MODEL_ARRAYS)


@dataclass(frozen=True)
class Models:
    models: tuple               # the models as built (sizes and names are read from them)
    copies: tuple               # per thread, a copy of each model (kept alive here, as the MjData)
    datas: tuple
    threads: np.ndarray         # int64 (threads, len(models) * BLOCK)
    state_size: int             # the largest integration state of the models
    state_spec: int


def models_for(models) -> Models:
    """Per Numba thread, a copy of each model and an MjData of it (`block`)."""
    import copy

    mujoco = mujoco_module()
    library = _library(mujoco)
    functions = [ctypes.cast(getattr(library, name), ctypes.c_void_p).value for name in FUNCTIONS]
    copies, datas, threads = [], [], []
    for _ in range(numba.config.NUMBA_NUM_THREADS):
        row = []
        for model in models:
            own = copy.copy(model)
            data = mujoco.MjData(own)
            copies.append(own)
            datas.append(data)
            row += ([own._address] + functions + [data._address] + [getattr(data, a).ctypes.data for a in ARRAYS]
                    + [getattr(own, a).ctypes.data for a in MODEL_ARRAYS])
        threads.append(row)
    spec = int(mujoco.mjtState.mjSTATE_INTEGRATION)
    return Models(tuple(models), tuple(copies), tuple(datas), np.array(threads, np.int64),
                  max(mujoco.mj_stateSize(m, spec) for m in models), spec)


@njit(inline="always", **FUSED)
def block(mj, m):
    """(functions, mj, model arrays) of model m in a thread's row of Models.threads."""
    at = m * BLOCK
    return mj[at:at + FUNCS], mj[at + FUNCS:at + FUNCS + ROW], mj[at + FUNCS + ROW:at + BLOCK]


def _library(mujoco):
    """The C library the Python bindings load (the wheel ships it beside them)."""
    found = sorted(glob.glob(os.path.join(os.path.dirname(mujoco.__file__), "libmujoco.so*")) +
                   glob.glob(os.path.join(os.path.dirname(mujoco.__file__), "libmujoco*.dylib")))
    if not found:
        raise PhysicsError(f"{os.path.dirname(mujoco.__file__)}: no libmujoco shared library beside the MuJoCo "
                           f"bindings; reinstall with pip install mujoco==3.3.0")
    return ctypes.CDLL(found[0])


@intrinsic
def call(typingctx, function, model, data):
    """function(model, data) for a C function void f(const mjModel*, mjData*); all three are addresses."""
    if not all(isinstance(t, types.Integer) for t in (function, model, data)):
        return None

    def codegen(context, builder, signature, args):
        pointer = ir.IntType(8).as_pointer()
        f = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), [pointer, pointer]).as_pointer())
        builder.call(f, [builder.inttoptr(a, pointer) for a in args[1:]])
        return context.get_dummy_value()

    return types.void(function, model, data), codegen


@intrinsic
def call_state(typingctx, function, model, data, state, spec):
    """function(model, data, state, spec) for mj_getState / mj_setState; state: the address of doubles."""
    if not all(isinstance(t, types.Integer) for t in (function, model, data, state, spec)):
        return None

    def codegen(context, builder, signature, args):
        pointer = ir.IntType(8).as_pointer()
        kind = ir.FunctionType(ir.VoidType(), [pointer, pointer, pointer, ir.IntType(32)])
        f = builder.inttoptr(args[0], kind.as_pointer())
        builder.call(f, [builder.inttoptr(a, pointer) for a in args[1:4]] + [builder.trunc(args[4], ir.IntType(32))])
        return context.get_dummy_value()

    return types.void(function, model, data, state, spec), codegen


@intrinsic
def _double_pointer(typingctx, address):
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.DoubleType().as_pointer())

    return types.CPointer(types.float64)(address), codegen


@njit(inline="always", **FUSED)
def doubles(address, n):
    """The n doubles at address, as a NumPy view (no copy, no allocation)."""
    return carray(_double_pointer(address), (n,))


@njit(inline="always", **FUSED)
def step(functions, mj, n):
    """n physics steps of the thread's MjData (mj: its row of Simulator.threads), then its cfrc_ext, as
    Gymnasium's MujocoEnv does (force-related quantities are not computed by mj_step without a force sensor)."""
    for _ in range(n):
        call(functions[STEP], functions[MODEL], mj[DATA])
    call(functions[RNE_POST], functions[MODEL], mj[DATA])


@njit(inline="always", **FUSED)
def forward(functions, mj):
    """Positions and everything else mj_forward derives, for the thread's MjData as it stands."""
    call(functions[FORWARD], functions[MODEL], mj[DATA])


@njit(inline="always", **FUSED)
def split(state):
    """A physics task's per-agent state (float64 (integration state + MEMORY,)) → (body, memory) views."""
    n = state.shape[0] - MEMORY
    return state[:n], state[n:]


@njit(inline="always", **FUSED)
def save(functions, mj, body, spec):
    """The thread's MjData's integration state → body (float64 (state_size,))."""
    call_state(functions[GET_STATE], functions[MODEL], mj[DATA], body.ctypes.data, spec)


@njit(inline="always", **FUSED)
def load(functions, mj, body, spec):
    """body → the thread's MjData."""
    call_state(functions[SET_STATE], functions[MODEL], mj[DATA], body.ctypes.data, spec)

