"""A real multi-node Ray layout on loopback loses worker nodes mid-sweep; every member is stored once.

Opt-in (``pytest tests/slow/test_ray_multinode.py``, 30-45 s on the 2-core CPU: four ``ray start``
processes and a driver). A head and workers are started as separate ``ray start --block``
processes on this machine, each node a process group of its own with its own ``$TMPDIR`` (so
the test sees which node trains what), every process authenticated with one token of the test's
own. ``grokscope sweep --backend ray --address`` drives the sweep as a user would. Worker A is
killed (every process of the node, SIGKILL) while it trains an ensemble: the sweep goes on on B.
Then B is killed the same way: no CPU is left, the driver waits, worker C joins, and the sweep
finishes. The checks are those of ``tests/integration/test_ray_cluster.py``: against an
uninterrupted in-process reference, no member lost, none mapped twice, one run per ensemble.

Every wait is bounded (``WAIT``); every process the test starts is killed by its pid in a ``finally``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from test_ray_cluster import (  # noqa: E402  (the shared spec, reference and checks)
    WAIT,
    check_every_member_once,
    reference,  # noqa: F401  (a fixture)
    training_worker,
    write_spec,
)

from grokscope.store import Store  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


RAY_CLI = Path(sys.executable).with_name("ray")
# Ray replaces the node address 127.0.0.1 by the machine's routable address (it assumes other
# machines must reach the node); 127.0.0.2 is loopback too and is kept as given.
LOOPBACK = "127.0.0.2"
# A dead node is noticed after period x threshold; Ray's defaults (3 s x 5) would make the test wait 15 s.
FAST_HEALTH = {"RAY_health_check_initial_delay_ms": "0", "RAY_health_check_period_ms": "500",
               "RAY_health_check_timeout_ms": "500", "RAY_health_check_failure_threshold": "3"}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
OBJECT_STORE = str(100 * 2**20)   # bytes; Ray's minimum is 75 MiB


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def cluster_env(tmp_path: Path) -> dict[str, str]:
    """Every process of the test cluster (nodes, driver) authenticates with one token of its own."""
    token = tmp_path / "ray-token"
    if not token.exists():
        token.write_text(os.urandom(32).hex())
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN")}
    return {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), **ONE_THREAD}


class Node:
    """One ``ray start --block`` process in a session of its own, so that killing its group kills the node."""

    def __init__(self, args: list[str], tmp_path: Path, name: str):
        self.tmpdir = tmp_path / f"{name}-tmp"        # the node's workers' $TMPDIR (their private stores)
        self.tmpdir.mkdir()
        # Ray's session files; its socket paths must stay under 107 bytes, so a long tmp_path gets a short twin
        self.temp = tmp_path / name if len(str(tmp_path / name)) <= 40 else Path(
            tempfile.mkdtemp(prefix=f"gs-{name}-", dir="/tmp"))
        self.log = open(tmp_path / f"{name}.log", "wb")
        env = {**cluster_env(tmp_path), "TMPDIR": str(self.tmpdir), **FAST_HEALTH}
        self.proc = subprocess.Popen(
            [str(RAY_CLI), "start", *args, f"--node-ip-address={LOOPBACK}", f"--object-store-memory={OBJECT_STORE}",
             f"--temp-dir={self.temp}", "--disable-usage-stats", "--block"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the node: ``ray start``, its raylet, agents and every worker process.

        The raylet puts each worker process in a process group of its own, so the node's process
        group alone would leave the workers running: every descendant is killed by its pid too.
        """
        if self.proc.poll() is not None:          # already killed and reaped: its pid may be another's now
            return
        pids = descendants(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=WAIT)
        self.log.close()

    def cleanup(self, tmp_path: Path) -> None:
        self.kill()
        if tmp_path not in self.temp.parents:
            shutil.rmtree(self.temp, ignore_errors=True)


def descendants(root: int) -> list[int]:
    """The pids of every process below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def wait_for_nodes(address: str, n: int, tmp_path: Path) -> None:
    """Wait (bounded) until ``n`` nodes are alive, asked from a short driver of its own."""
    code = ("import sys, time, ray; ray.init(address=sys.argv[1], log_to_driver=False); t0 = time.time()\n"
            "alive = lambda: sum(x['Alive'] for x in ray.nodes())\n"
            "while alive() != int(sys.argv[2]) and time.time() - t0 < float(sys.argv[3]):\n"
            "    time.sleep(0.2)\n"
            "sys.exit(alive() != int(sys.argv[2]))")
    out = subprocess.run([sys.executable, "-c", code, address, str(n), str(WAIT)], env=cluster_env(tmp_path),
                         capture_output=True, text=True, timeout=2 * WAIT)
    assert out.returncode == 0, f"the cluster at {address} never had {n} live nodes: {out.stderr[-2000:]}"


def wait_until(predicate, what: str, timeout: float = WAIT, every: float = 0.2):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = predicate()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sweep_cli(spec: Path, db: Path, address: str, tmp_path: Path) -> subprocess.Popen:
    """``grokscope sweep SPEC --backend ray --address ADDRESS``: the driver, the only writer of the store."""
    code = "from grokscope.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "sweep", str(spec), "--store", str(db), "--backend", "ray",
                             "--address", address, "--no-progress"], env={**cluster_env(tmp_path), "COLUMNS": "200"},
                            stdout=open(tmp_path / "driver.log", "wb"), stderr=subprocess.STDOUT)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((LOOPBACK, port)) == 0


def test_worker_nodes_killed_mid_sweep_it_finishes_on_what_remains_then_waits_for_a_new_one(tmp_path, reference):
    """Head (no CPUs, as on a real cluster) + workers A and B. A dies mid-training: the sweep goes on on B.
    Then B dies mid-training too: no worker is left and the sweep waits until worker C joins, then finishes."""
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    nodes = {"h": Node(["--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false"], tmp_path, "h")}
    driver = chaos = None
    events: list[str] = []
    stop = threading.Event()

    def scenario():
        t0 = time.monotonic()
        for name in ("a", "b"):
            while training_worker(nodes[name].tmpdir) is None:
                if stop.is_set() or time.monotonic() - t0 > WAIT:
                    return
                time.sleep(0.005)
            nodes[name].kill()
            events.append(f"killed {name}")
        if not stop.wait(0.5):                           # the driver has no worker at all for a while
            nodes["c"] = Node([f"--address={address}", "--num-cpus=1"], tmp_path, "c")
            events.append("started c")

    try:
        wait_until(lambda: _accepts(port), "the head's GCS port")
        for name in ("a", "b"):
            nodes[name] = Node([f"--address={address}", "--num-cpus=1"], tmp_path, name)
        wait_for_nodes(address, 3, tmp_path)
        chaos = threading.Thread(target=scenario, daemon=True)
        chaos.start()
        t0 = time.monotonic()
        driver = sweep_cli(write_spec(tmp_path, "lost"), tmp_path / "cluster.db", address, tmp_path)
        rc = driver.wait(timeout=3 * WAIT)
        sweep_seconds = time.monotonic() - t0
        chaos.join(timeout=WAIT)
        out = (tmp_path / "driver.log").read_text()
        assert rc == 0, out[-3000:]
    finally:
        stop.set()
        if chaos is not None:
            chaos.join(timeout=WAIT)                     # it starts no node after this
        if driver is not None and driver.poll() is None:
            driver.kill()
        for node in list(nodes.values())[::-1]:
            node.cleanup(tmp_path)
    assert events == ["killed a", "killed b", "started c"], f"{events}: make the ensembles longer"
    assert "lost Ray workers: 2 ensemble attempt(s) retried" in out, out[-3000:]
    assert sweep_seconds < 3 * WAIT
    check_every_member_once(Store(tmp_path / "cluster.db"), "lost", reference)
