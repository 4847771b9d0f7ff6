"""The planning benchmark (benchmarks/planning_vs_mbrl_lib.py): both sides score with the same
Pendulum reward, our side plans in the box, and a tiny end-to-end run writes its results (with
mbrl-lib when its venv exists, else our side alone)."""

import json
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
VENV_PYTHON = Path("/work/venv-mbrl/bin/python")

from planning_vs_mbrl_lib import HIGH, LOW, make_planner, pendulum_reward  # noqa: E402


def test_pendulum_reward_by_hand():
    # next obs at theta = pi/2, theta_dot = 2, u = 3 (clipped to 2):
    # -((pi/2)^2 + 0.1 * 4 + 0.001 * 4) = -(2.4674011 + 0.4 + 0.004) = -2.8714011
    r = pendulum_reward(None, jnp.array([3.0]), jnp.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(r, -2.8714011, rtol=1e-6)
    # theta = -3pi/4 reads as -3pi/4, not 5pi/4 (normalised): -(9 pi^2 / 16) = -5.5516524
    r = pendulum_reward(None, jnp.array([0.0]), jnp.array([-(0.5 ** 0.5), -(0.5 ** 0.5), 0.0]))
    np.testing.assert_allclose(r, -5.5516524, rtol=1e-6)


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason="no mbrl-lib venv at /work/venv-mbrl")
def test_mbrl_lib_side_scores_with_the_same_reward():
    rng = np.random.default_rng(0)
    act = rng.uniform(-3, 3, (16, 1)).astype(np.float32)
    next_obs = rng.normal(size=(16, 3)).astype(np.float32)
    code = ("import json, sys, torch; sys.path.insert(0, 'benchmarks'); "
            "from _mbrl_lib_runner import pendulum_reward as r; "
            "a, o = json.loads(sys.stdin.read()); "
            "print(json.dumps(r(torch.tensor(a), torch.tensor(o)).flatten().tolist()))")
    out = subprocess.run([str(VENV_PYTHON), "-c", code], cwd=ROOT, capture_output=True,
                         text=True, input=json.dumps([act.tolist(), next_obs.tolist()]),
                         check=True)
    theirs = np.array(json.loads(out.stdout))
    ours = [pendulum_reward(None, jnp.asarray(a), jnp.asarray(o))
            for a, o in zip(act, next_obs, strict=True)]
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)


def test_our_planner_acts_in_the_box_and_carries_its_plan():
    act, compile_seconds = make_planner(hidden=8, layers=1, seed=0)
    first, second = act([1.0, 0.0, 0.0]), act([1.0, 0.0, 0.0])
    assert compile_seconds > 0 and first.shape == second.shape == (1,)
    assert np.all((LOW <= first) & (first <= HIGH)) and np.isfinite(second).all()
    assert first[0] != second[0]  # a fresh key (and the shifted warm start) each call


def test_a_tiny_run_writes_results(tmp_path):
    argv = [sys.executable, "benchmarks/planning_vs_mbrl_lib.py", "--rounds", "2", "--calls",
            "1", "--threads", "1", "--sizes", "1x8", "--out", str(tmp_path)]
    if not VENV_PYTHON.exists():
        argv.append("--ours-only")
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, timeout=600)
    written = json.loads((tmp_path / "planning_vs_mbrl_lib.json").read_text())
    assert written["provenance"]["command"].startswith("benchmarks/planning_vs_mbrl_lib.py")
    case = written["cases"]["1x8_1thread"]
    assert len(case["seconds_per_action"]["median_per_round"]["ours"]) == 2
    if VENV_PYTHON.exists():
        ratios = case["speedup_per_round"]
        times = case["seconds_per_action"]["median_per_round"]
        np.testing.assert_allclose(ratios, np.divide(times["mbrl_lib"], times["ours"]))
        assert case["speedup_median"] == np.median(ratios)
    assert (tmp_path / "planning_vs_mbrl_lib.md").read_text().count("| 5 x 1 x 8 | 1 |") == 1
