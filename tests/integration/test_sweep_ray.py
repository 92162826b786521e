"""The Ray backend gives the same results as the in-process one, member for member.

Workers train into private stores and the driver imports their runs, so besides the
member results this also checks that the imported runs carry the same metrics.
"""

import numpy as np
import pytest

from grokscope.store import Store
from grokscope.sweep import load_spec, run_sweep, sweep_members
from grokscope.sweep._ray import LOCAL_NODE_IP

ray = pytest.importorskip("ray", reason="the optional ray extra is not installed (pip install 'grokscope[ray]')")
pytestmark = pytest.mark.ray

SPEC = """
seeds = 2
steps = 100
max_ensemble = 4
[set]
"task.p" = 7
"task.train_frac" = 0.6
"log.dense_until" = 5
"log.n_log" = 10
"log.n_checkpoints" = 2
[grid]
"dtype" = ["float32", "float64"]
"optim.lr" = [1e-3, 3e-2]
"""


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address=LOCAL_NODE_IP)
    yield
    ray.shutdown()


def test_ray_equals_inprocess_member_for_member(tmp_path, ray_local):
    path = tmp_path / "r.toml"
    path.write_text(SPEC)
    a, b = Store(tmp_path / "inproc.db"), Store(tmp_path / "ray.db")
    ra = run_sweep(load_spec(path), a, progress=False, tune_memory=False)
    rb = run_sweep(load_spec(path), b, backend="ray", progress=False, tune_memory=False)
    assert ra.complete and rb.complete and len(rb.trained) == ra.n_ensembles == 2
    ma, mb = sweep_members(a, "r"), sweep_members(b, "r")
    assert len(ma) == len(mb) == 8
    keys = ("point", "seed", "values", "ensemble", "member", "phase", "mem_step", "gen_step", "diverged", "member_seed")
    for x, y in zip(ma, mb):
        assert {k: x.get(k) for k in keys} == {k: y.get(k) for k in keys}
    # the imported runs hold the workers' metrics: same steps, same values per member
    for x, y in zip(ma[::4], mb[::4]):
        sa, va = a.metrics(x["run_id"])
        sb, vb = b.metrics(y["run_id"])
        np.testing.assert_array_equal(sa, sb)
        assert set(va) == set(vb)
        for k in va:
            np.testing.assert_allclose(va[k], vb[k], rtol=1e-5, atol=1e-6)
        assert b.get_run(y["run_id"]).status == "finished"
