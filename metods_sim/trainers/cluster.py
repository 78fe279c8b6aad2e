"""Ray for the ES trainer's actors (trainer.num_actors): the cluster a run joins, how many actors it gets, where
they go and how many Numba threads each runs (docs/cluster.md).

A run joins the Ray cluster that Ray's own RAY_ADDRESS environment variable names (HOST:PORT of the head, as `ray
start --head` prints it); without it, EvoTorch's way: a Ray started on this machine for the run. Each actor holds
one CPU of the cluster, and actors are spread over the nodes (Ray's SPREAD strategy), so that a node never runs
more actors than it has CPUs; an actor then runs (CPUs of its node) // (actors on its node) Numba threads. A run
asking more actors than the cluster has CPUs gets as many actors as there are CPUs (the results do not depend on
the number of actors), and says so.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import sys
import tempfile
import time

from ..fields import ProtocolError

# where each actor goes: one CPU each, spread over the nodes
ACTOR = {"num_cpus": 1, "scheduling_strategy": "SPREAD"}
TIMEOUT = 5.0   # seconds to wait for the head's port to answer
PLACING = 120   # seconds to wait for the actors to start


class NodeLost(RuntimeError):
    """A Ray actor's node (or its process) died during a generation; str(error) is one line."""


def connect(num_actors: int) -> int:
    """Join the Ray cluster RAY_ADDRESS names, else start Ray on this machine (once per process); return how
    many actors to start: num_actors, or the cluster's CPUs when it has fewer. An address where nothing answers is
    a ProtocolError within seconds; one that answers but not as Ray's head does, after Ray's 20 s of retries."""
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS", "").strip()
        if address in ("", "auto", "local"):   # Ray on this machine: EvoTorch's way
            ray.init(address=address or None, logging_level=logging.WARNING)
        else:
            _join(address)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if num_actors > cpus:
        print(f"warning: trainer.num_actors is {num_actors} but the Ray cluster has {_count(cpus, 'CPU')}: "
              f"{_count(cpus, 'actor')}, one per CPU (the results are the same)", file=sys.stderr)
        return cpus
    return num_actors


def _join(address: str) -> None:
    """ray.init(address), with Ray's retries (about 20 s) and their log lines kept from the terminal: a cluster
    that does not answer, or refuses this process, is one line."""
    import ray

    _check_reachable(address)
    error = None
    with tempfile.TemporaryFile(mode="w+") as said:
        with _stderr_to(said):
            try:
                # the actors' own output stays in the nodes' Ray logs: the terminal shows the run's
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ray.exceptions.RayError) as failed:
                error = failed
        said.seek(0)
        text = said.read()
    if error is None:
        sys.stderr.write(text)   # what Ray had to say about the cluster it joined
        return
    causes = f"{error} {error.__cause__} {text}"
    if isinstance(error.__cause__, ray.exceptions.AuthenticationError) or "InvalidAuthToken" in causes:
        raise ProtocolError(f"RAY_ADDRESS={address}: the Ray cluster refused this process (token authentication): "
                            f"set RAY_AUTH_MODE=token and give it the cluster's token (~/.ray/auth_token or "
                            f"RAY_AUTH_TOKEN), as its nodes have") from None
    why = first_line(error.__cause__ or error)
    raise ProtocolError(f"RAY_ADDRESS={address}: cannot join the Ray cluster ({why}); is it the address and port that "
                        f"ray start --head printed?") from None


@contextlib.contextmanager
def _stderr_to(file):
    """File descriptor 2 (where Ray's C++ core logs) and sys.stderr go to `file` inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _check_reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ProtocolError(f"RAY_ADDRESS: expected HOST:PORT, the address of the head node that `ray start --head` "
                            f"prints, got {address!r}")
    try:
        connection = socket.create_connection((host.strip("[]"), int(port)), timeout=TIMEOUT)
    except OSError as error:
        why = "no answer in {:.0f} s".format(TIMEOUT) if isinstance(error, TimeoutError) else \
            getattr(error, "strerror", None) or str(error)
        raise ProtocolError(f"RAY_ADDRESS={address}: no Ray cluster answers there ({why}); start its head with ray "
                            f"start --head, or unset RAY_ADDRESS to run Ray on this machine") from None
    # Ray's head speaks gRPC, HTTP/2: it answers a client's preface with its SETTINGS frame. Anything else (an
    # HTTP/1 server, say) would leave ray.init waiting for ever. With TLS (RAY_USE_TLS) Ray's own checks decide.
    with connection:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("0", "false", ""):
            try:
                connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                frame = connection.recv(9)
            except OSError:
                frame = b""
            if len(frame) < 4 or frame[3] != 4:
                raise ProtocolError(f"RAY_ADDRESS={address}: what answers there is not a Ray head (it speaks no gRPC); "
                                    f"is it the address and port that ray start --head printed?")


def place(problem) -> None:
    """Start the Ray actors of an EvoTorch problem (EpisodeProblem), set each one's Numba threads, and say in one
    line where they went. Actors that Ray cannot place within PLACING seconds (the CPUs are taken) are a
    ProtocolError, not a run that waits for ever; a node that dies as they start, NodeLost."""
    import ray

    problem.all_remote_problems()   # creates the actors
    actors = problem._actors
    calls = [actor.call.remote("ray_node", [], {}) for actor in actors]
    waiting, deadline = calls, time.monotonic() + PLACING
    while waiting:   # one by one: an actor that died with its node is "ready" too, and must not wait for the rest
        ready, waiting = ray.wait(waiting, num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            release(problem)
            raise ProtocolError(f"trainer.num_actors: Ray started {len(calls) - len(waiting)} of {len(calls)} "
                                f"actors (1 CPU each) in {PLACING} s: the cluster's CPUs are taken by other work (ray "
                                f"status); try again")
        try:
            ray.get(ready)
        except Exception as error:
            release(problem)
            if lost(error):
                raise NodeLost(f"a Ray node was lost as the actors started ({first_line(error)})") from None
            raise
    nodes = ray.get(calls)
    per_node = threads_per_actor(nodes)
    threads = ray.get([actor.call.remote("use_threads", [per_node], {}) for actor in actors])  # as each sees them
    cpus, where = _cpus(), collections.defaultdict(list)
    heads = {node["NodeID"] for node in ray.nodes() if "node:__internal_head__" in node["Resources"]}
    for node, n in zip(nodes, threads):
        where[node].append(n)
    print(f"ray: {_count(len(nodes), 'actor')} on {_count(len(where), 'node')}: " + "; ".join(
        f"node {node[:8]} ({'head, ' if node in heads else ''}{_count(cpus.get(node, 0), 'CPU')}) "
        f"{_count(len(n), 'actor')} × {_count(max(n), 'Numba thread')}" for node, n in where.items()), file=sys.stderr)


def _cpus() -> dict:
    """{node id: its CPUs} of the live nodes."""
    import ray

    return {node["NodeID"]: int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node["Alive"]}


def threads_per_actor(nodes: list) -> dict:
    """{node id: Numba threads of each actor on it} for actors on `nodes` (one node id per actor): the node's
    CPUs shared between its actors, at least one each."""
    cpus = _cpus()
    return {node: max(1, cpus.get(node, 1) // count) for node, count in collections.Counter(nodes).items()}


def node_id() -> str:
    """The Ray node this process runs on."""
    import ray

    return ray.get_runtime_context().get_node_id()


def release(problem) -> None:
    """End the Ray actors of an EvoTorch problem, if it started any."""
    if getattr(problem, "_actors", None):
        import ray

        for actor in problem._actors:
            ray.kill(actor)


def lost(error) -> bool:
    """Whether a Ray error means an actor's node or process died (not an error in the actor's code)."""
    import ray.exceptions as e

    return isinstance(error, (e.RayActorError, e.NodeDiedError, e.ObjectLostError, e.OwnerDiedError,
                              e.WorkerCrashedError, e.LocalRayletDiedError)) and not isinstance(error, e.RayTaskError)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def first_line(error) -> str:
    """The first sentence of an error's message, for one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    text = text[:text.find(". ") + 1] if ". " in text else text
    return text if len(text) <= 200 else text[:197] + "..."
