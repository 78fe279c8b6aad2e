"""A run on a Ray cluster, as docs/cluster.md tells a researcher to start one: two nodes started with `ray start` on
this machine, each with CPUs of its own and token authentication, joined by RAY_ADDRESS. The run puts actors on
both nodes and writes the dataset of the same run without Ray; a node killed mid-run stops it with a checkpoint
that `resume` finishes to that dataset; a cluster that does not answer is one line, exit 2.

Every Ray process these tests start runs in a session of its own (`ray start --block`, a new session each) and
is killed by its id at the end: `ray stop` would stop every Ray on the machine."""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import pytest
import yaml

import metods_sim
from metods_sim.protocol import load
from metods_sim.results import read_checkpoint
from metods_sim.experiments.run import run

from conftest import ROOT
from test_run import PROTOCOL, SMALL, assert_same_dataset, small

pytest.importorskip("ray")
RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
pytestmark = pytest.mark.skipif(not RAY or not sys.platform.startswith("linux"),
                                reason="needs the ray command and Linux's /proc")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(leader: int) -> list:
    """The ids of the processes in the session `leader` started (Linux: /proc/PID/stat's sixth field)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == leader:
            pids.append(int(stat.parent.name))
    return pids


class Cluster:
    """Ray nodes on this machine, as docs/cluster.md starts them: token authentication (the token in a private
    HOME's ~/.ray/auth_token), their own temp dirs and ports."""

    def __init__(self, root: Path):
        self.root, self.nodes, self.port = root, {}, free_port()
        home = root / "home"
        (home / ".ray").mkdir(parents=True)
        (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
        self.env.update(HOME=str(home), RAY_AUTH_MODE="token", RAY_USAGE_STATS_ENABLED="0", RAY_TMPDIR=str(root),
                        PYTHONPATH=str(ROOT))
        self.address = f"127.0.0.1:{self.port}"

    def start(self, name: str, *args: str) -> None:
        """`ray start --block ARGS` for node `name`, in a session of its own; returns once it runs."""
        head = ["--head", f"--port={self.port}", "--include-dashboard=false"]
        where = [f"--address={self.address}"] if self.nodes else head
        log = self.root / f"{name}.log"
        with open(log, "w") as out:
            self.nodes[name] = subprocess.Popen(
                [RAY, "start", "--block", *where, *args, f"--temp-dir={self.root / name}",
                 "--object-store-memory=100000000", f"--dashboard-agent-listen-port={free_port()}"],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.time() + 60
        while "Ray runtime started" not in log.read_text():
            assert self.nodes[name].poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL every process of node `name`, as a machine that dies: raylet, workers, actors."""
        leader = self.nodes[name].pid
        for pid in session(leader):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.nodes[name].wait()

    def stop(self) -> None:
        for name in reversed(list(self.nodes)):
            self.kill(name)

    def command(self, *args, unset=()):
        """`python -m metods_sim ARGS` as a user on the head runs it, RAY_ADDRESS set, the variables `unset`
        not; a Popen."""
        env = {k: v for k, v in {**self.env, "RAY_ADDRESS": self.address}.items() if k not in unset}
        return subprocess.Popen([sys.executable, "-m", "metods_sim", *map(str, args)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def cluster():
    root = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))   # short: Ray's socket paths must fit 107 bytes
    cluster = Cluster(root)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def finish(proc, timeout=240):
    """(exit status, stdout, stderr) of a command started by Cluster.command; killed after `timeout` s."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out, err


def assert_same_run_as_without_ray(ds, alone):
    """The dataset of the run without Ray (num_actors 0): every value and attribute, its protocol's num_actors
    aside."""
    protocol = yaml.safe_load(ds.attrs["protocol"])
    assert protocol["trainer"].pop("num_actors") == 2
    alone_protocol = yaml.safe_load(alone.attrs["protocol"])
    assert alone_protocol["trainer"].pop("num_actors") == 0 and protocol == alone_protocol
    assert_same_dataset(ds, alone, besides=("protocol",))


def test_a_run_on_a_two_node_cluster_puts_actors_on_both_and_writes_the_dataset_of_the_run_without_ray(
        cluster, tmp_path):
    cluster.start("head", "--num-cpus=1")
    cluster.start("worker", "--num-cpus=2")
    # the token in ~/.ray/auth_token is not enough: a process joining a cluster by its address uses it only with
    # RAY_AUTH_MODE=token (Ray 2.60)
    code, _, err = finish(cluster.command(*small("trainer.num_actors=2"), "--out", tmp_path / "refused",
                                          unset=["RAY_AUTH_MODE"]))
    assert code == 2 and err.strip() == (
        f"error: RAY_ADDRESS={cluster.address}: the Ray cluster refused this process (token authentication): set "
        f"RAY_AUTH_MODE=token and give it the cluster's token (~/.ray/auth_token or RAY_AUTH_TOKEN), as its nodes have")
    code, _, err = finish(cluster.command(*small("trainer.generations=3", "trainer.num_actors=2"),
                                          "--out", tmp_path / "cluster"))
    assert code == 0, err[-3000:]
    # one actor on each node: the head's has its 1 CPU, the worker's both of its CPUs (Numba allowing)
    said = [line for line in err.splitlines() if line.startswith("ray: ")]
    both = min(2, numba.config.NUMBA_NUM_THREADS)
    assert len(said) == 1 and re.fullmatch(
        rf"ray: 2 actors on 2 nodes: (?=.*node \w{{8}} \(head, 1 CPU\) 1 actor × 1 Numba thread)"
        rf"(?=.*node \w{{8}} \(2 CPUs\) 1 actor × {both} Numba threads?).*", said[0]), err
    run(load(PROTOCOL, SMALL + ["trainer.generations=3"]), out_dir=tmp_path / "alone", progress=False)
    assert_same_run_as_without_ray(metods_sim.load(tmp_path / "cluster"), metods_sim.load(tmp_path / "alone"))


def test_a_run_that_loses_a_cluster_node_stops_with_its_checkpoint_and_resume_finishes_it(cluster, tmp_path):
    cluster.start("head", "--num-cpus=1")
    cluster.start("worker", "--num-cpus=1")
    out = tmp_path / "run"
    proc = cluster.command(*small("trainer.num_actors=2"), "--out", out)   # 200 generations, a checkpoint every 10
    deadline = time.time() + 120
    while not (out / "checkpoint.pkl").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    cluster.kill("worker")
    code, _, err = finish(proc)
    lines = err.strip().splitlines()
    assert code == 1 and "Traceback" not in err, err[-3000:]
    done = read_checkpoint(out)["generations"]
    assert 10 <= done < 200
    assert re.fullmatch(rf"error: a Ray node was lost during generation {done} \(.+\); python -m metods_sim resume "
                        rf"{out} continues from generation {done} \(docs/cluster.md\)", lines[-1]), lines[-1]
    assert not (out / "results.nc").exists()

    # at once: Ray may still count the lost node (it marks it dead after ~15 s of missed health checks); actors
    # sent there die with it and start again on the head alone: 1 CPU, so 1 actor, which runs in the driver
    code, _, err = finish(cluster.command("resume", out, "--quiet"))
    assert code == 0, err[-3000:]
    assert "warning: trainer.num_actors is 2 but the Ray cluster has 1 CPU: 1 actor" in err
    run(load(PROTOCOL, SMALL), out_dir=tmp_path / "alone", progress=False)
    assert_same_run_as_without_ray(metods_sim.load(out), metods_sim.load(tmp_path / "alone"))


@pytest.mark.parametrize("there", ["nothing", "http"])
def test_an_address_where_no_ray_cluster_answers_is_one_line_and_exit_2_within_seconds(tmp_path, there):
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)   # it speaks HTTP/1
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{free_port() if there == 'nothing' else server.server_address[1]}"
    env = {**os.environ, "RAY_ADDRESS": address, "PYTHONPATH": str(ROOT)}
    started = time.time()
    try:
        done = subprocess.run([sys.executable, "-m", "metods_sim", *small("trainer.num_actors=2"), "--out",
                               tmp_path / "run"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    finally:
        server.shutdown()
    assert done.returncode == 2 and time.time() - started < 60
    assert done.stderr.strip() == {
        "nothing": f"error: RAY_ADDRESS={address}: no Ray cluster answers there (Connection refused); start its head "
                   f"with ray start --head, or unset RAY_ADDRESS to run Ray on this machine",
        "http": f"error: RAY_ADDRESS={address}: what answers there is not a Ray head (it speaks no gRPC); is it the "
                f"address and port that ray start --head printed?"}[there]
    assert not (tmp_path / "run").exists()   # refused before anything is written
