"""The Dyna-Q benchmark's baselines compute the same algorithm as mbrl-jax's Dyna-Q.

Different random streams make exact Q-tables incomparable, so each implementation runs many
independent seeds of a short FrozenLake run and the per-entry mean Q-tables must agree within a
stated number of standard errors (the spread between seeds is large, so a wrong planning draw,
target or reset rule moves some entry's mean by many standard errors).
"""

import sys
from pathlib import Path

import jax
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
pytest.importorskip("gymnasium")

from fast_dyna import run_numpy_dyna_q, run_python_dyna_q  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.dyna import DynaConfig, make_train  # noqa: E402

SEEDS, STEPS, PLAN, ALPHA = 300, 150, 5, 0.5


@pytest.fixture(scope="module")
def q_tables():
    python = np.array([run_python_dyna_q(STEPS, PLAN, seed=i, alpha=ALPHA)[0]
                       for i in range(SEEDS)])
    vectorised = run_numpy_dyna_q(SEEDS, STEPS, PLAN, seed=0, alpha=ALPHA)[0]
    env, params = envs.make("FrozenLake-misc", is_slippery=False)
    train = make_train(DynaConfig(planning_steps=PLAN, total_steps=STEPS, alpha=ALPHA), env,
                       params)
    state, _, _ = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), SEEDS))
    return {"python": python, "numpy": vectorised, "jax": np.asarray(state.q, np.float64)}


def _max_z(a, b):
    se = np.sqrt((a.var(0) + b.var(0)) / SEEDS) + 1e-3
    return float(np.max(np.abs(a.mean(0) - b.mean(0)) / se))


@pytest.mark.parametrize("name", ["python", "numpy"])
def test_baseline_learns_the_same_q_as_mbrl_jax(q_tables, name):
    assert q_tables["jax"].mean() > 0.02  # the goal is reached, so the comparison is not of zeros
    # 64 entries: under the null, |z| > 4.5 anywhere has probability < 1e-3
    assert _max_z(q_tables[name], q_tables["jax"]) < 4.5


def test_python_and_numpy_baselines_agree(q_tables):
    assert _max_z(q_tables["python"], q_tables["numpy"]) < 4.5
