"""Seeds over devices (4 host devices in a subprocess), sweeps, and plot/compare of run folders."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mbrl_jax.cli import main
from mbrl_jax.stats import compare

ROOT = Path(__file__).resolve().parents[1]

_SHARDED = """
import jax, numpy as np
from mbrl_jax import envs
from mbrl_jax.driver.loop import run_chunked
from mbrl_jax.dyna import DynaConfig
from mbrl_jax.dyna.train import make_trainer

assert len(jax.devices()) == 4
trainer = make_trainer(DynaConfig(total_steps=120, planning_steps=3, eval_max_steps=30),
                       *envs.make("DynaMaze"))
keys = jax.random.split(jax.random.key(3), 8)
one = run_chunked(trainer, keys, chunk_steps=40, eval_every=20)
four = run_chunked(trainer, keys, chunk_steps=40, eval_every=20, devices=jax.devices())
q = four.state.q
assert len(q.sharding.device_set) == 4 and q.addressable_shards[0].data.shape[0] == 2, q.sharding
assert np.array_equal(np.asarray(one.state.q), np.asarray(q))
for name in one.metrics:
    assert np.array_equal(one.metrics[name], four.metrics[name]), name
assert np.array_equal(one.eval_metrics["return"], four.eval_metrics["return"])
print("SEEDS-MATCH")

# the CLI refuses a seed count the devices do not divide, saying how to fix it (in this process:
# one interpreter start for both checks)
import contextlib, io, sys
from mbrl_jax.cli import main
err = io.StringIO()
with contextlib.redirect_stderr(err):
    try:
        code = main(["train", "dyna-q", "--env", "DynaMaze", "--steps", "50", "--seeds", "6",
                     "--devices", "all", "--no-progress", "--out", sys.argv[1]])
    except SystemExit as exit_:
        code = exit_.code
print("EXIT", code)
print(err.getvalue())
"""


def test_seeds_sharded_over_four_devices_equal_the_single_device_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                        "--xla_force_host_platform_device_count=4".strip(),
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", _SHARDED, str(tmp_path / "r")], env=env,
                         capture_output=True, text=True)
    assert "SEEDS-MATCH" in out.stdout, out.stderr[-3000:]
    assert "EXIT 2" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    assert "6 seeds do not split evenly over 4 devices" in out.stdout
    assert "multiple of 4 (e.g. 4 or 8 seeds)" in out.stdout


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    assert main(["sweep", "dyna-q", "--env", "DynaMaze", "--steps", "200", "--seeds", "3",
                 "--set", "alpha=0.1,0.5", "--set", "planning_steps=0,5", "--eval-every", "100",
                 "--chunk-steps", "100", "--out", str(out), "--no-progress"]) == 0
    return out


def test_sweep_runs_every_point_and_ranks_them(sweep_dir):
    summary = json.loads((sweep_dir / "summary.json").read_text())
    points = {(r["point"]["planning_steps"], r["point"]["alpha"]) for r in summary}
    assert points == {(0, 0.1), (0, 0.5), (5, 0.1), (5, 0.5)}
    finals = [r["final_return"] for r in summary]
    assert finals == sorted(finals, reverse=True)
    # the summary's final return is the seed mean of the last evaluation in the point's folder
    for row in summary:
        last = json.loads(Path(row["folder"], "eval.jsonl").read_text().splitlines()[-1])
        assert last["step"] == 200
        assert row["final_return"] == pytest.approx(np.mean(last["return"]))
    assert "| rank | planning_steps | alpha |" in (sweep_dir / "summary.md").read_text()


def test_a_swept_point_equals_a_plain_run_with_its_values(sweep_dir, tmp_path):
    """alpha is vmapped inside one program with the other alpha: same seeds, same numbers."""
    run = tmp_path / "plain"
    assert main(["train", "dyna-q", "--env", "DynaMaze", "--steps", "200", "--seeds", "3",
                 "--planning-steps", "5", "--alpha", "0.5", "--eval-every", "100", "--chunk-steps",
                 "100", "--out", str(run), "--no-progress", "--no-checkpoints"]) == 0
    point = sweep_dir / "planning_steps=5-alpha=0.5"
    for name in ("metrics.npz", "eval.npz"):
        a, b = np.load(run / name), np.load(point / name)
        for key in b:
            np.testing.assert_array_equal(a[key], b[key])


def test_iqm_and_its_bootstrap_band():
    # 8 values, 25% trimmed from each end: mean of 3, 4, 100, 200 = 307 / 4 = 76.75
    x = np.array([1, 2, 3, 4, 100, 200, 300, 400.0])[:, None]
    assert compare.iqm(x)[0] == pytest.approx(76.75)
    centre, low, high = compare.iqm_band(np.tile(x, (1, 2)))
    assert (low <= centre).all() and (centre <= high).all() and (high - low > 10).all()
    same = np.ones((5, 3))
    assert compare.iqm_band(same)[1].tolist() == [1, 1, 1]


def test_plot_and_compare_read_run_folders(sweep_dir, tmp_path, capsys):
    runs = [str(sweep_dir / "planning_steps=0-alpha=0.1"),
            str(sweep_dir / "planning_steps=5-alpha=0.5")]
    png = tmp_path / "curves.png"
    assert main(["plot", *runs, "--output", str(png)]) == 0
    assert png.stat().st_size > 10_000
    capsys.readouterr()
    assert main(["compare", *runs, "--threshold", "0.01", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row, run in zip(rows, runs, strict=True):
        evals = [json.loads(x) for x in Path(run, "eval.jsonl").read_text().splitlines()]
        assert row["final_mean"] == pytest.approx(np.mean(evals[-1]["return"]))
        means = [np.mean(e["return"]) for e in evals]
        hit = [e["step"] for e, m in zip(evals, means, strict=True) if m >= 0.01]
        assert row["steps_to_threshold"] == (hit[0] if hit else None)
        assert row["env_steps_per_s"] > 0 and row["source"] == "eval"
    with pytest.raises(SystemExit) as info:
        main(["compare", str(tmp_path)])
    assert info.value.code == 2


def test_grid_hparams_lays_points_out_point_major():
    from mbrl_jax.driver.sweep import grid_hparams
    from mbrl_jax.dyna import DynaConfig

    base = DynaConfig(gamma=0.9).hparams()
    hp, points = grid_hparams(base, {"alpha": [0.1, 0.5], "epsilon": [0.0, 0.2]}, num_seeds=2)
    assert points == [{"alpha": 0.1, "epsilon": 0.0}, {"alpha": 0.1, "epsilon": 0.2},
                      {"alpha": 0.5, "epsilon": 0.0}, {"alpha": 0.5, "epsilon": 0.2}]
    np.testing.assert_allclose(hp.alpha, [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(hp.epsilon, [0, 0, 0.2, 0.2, 0, 0, 0.2, 0.2])
    np.testing.assert_allclose(hp.gamma, [0.9] * 8)
    assert hp.alpha.dtype == np.float32
    with pytest.raises(ValueError, match="planning"):
        grid_hparams(base, {"planning": [1]}, 2)
