"""The book's learning claims for chapter 8, at the reproduction scripts' sizes (30 seeds).

Slow: run with `python3 -m pytest -m slow`.
"""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.dyna import DynaConfig, make_train
from mbrl_jax.stats.episodes import episode_lengths, pad_episodes

pytestmark = pytest.mark.slow
SEEDS = 30


def _run(config, env_id, **env_kwargs):
    env, params = envs.make(env_id, **env_kwargs)
    keys = jax.random.split(jax.random.key(0), SEEDS)
    state, metrics, _ = jax.jit(jax.vmap(make_train(config, env, params)))(keys)
    return state, {k: np.asarray(v) for k, v in metrics.items()}


def test_figure_8_2_planning_reaches_the_plateau_in_a_few_episodes():
    curves = {}
    for n in (0, 5, 50):
        _, metrics = _run(DynaConfig(planning_steps=n, total_steps=8000), "DynaMaze")
        curves[n] = pad_episodes(episode_lengths(metrics["done"]), 50).mean(axis=0)
    plateau = curves[50][40:].mean()
    assert 14 <= plateau < 18  # epsilon-greedy around the 14-step path

    def sustained(curve):
        above = np.flatnonzero(curve > 1.2 * plateau)
        return int(above[-1]) + 2 if len(above) else 1

    # the book: about 25 / 5 / 3 episodes
    assert 15 <= sustained(curves[0]) <= 45
    assert 3 <= sustained(curves[5]) <= 10
    assert sustained(curves[50]) <= 5


def _greedy_takes_shortcut(q, env):
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    walls = env.changed_layout.wall_grid()
    (r, c), steps = env.layout.start, 0
    while (r, c) != env.layout.goal and steps < 50:
        dr, dc = moves[int(np.argmax(q[r * env.cols + c]))]
        if 0 <= r + dr < env.rows and 0 <= c + dc < env.cols and not walls[r + dr, c + dc]:
            r, c = r + dr, c + dc
        steps += 1
    return steps == 10


def test_figures_8_4_and_8_5_dyna_q_plus_adapts_and_finds_the_shortcut():
    common = {"alpha": 1.0, "gamma": 0.95, "epsilon": 0.1}
    blocking = {v: _run(DynaConfig(variant=v, total_steps=3000, planning_steps=10, kappa=1e-4,
                                   **common), "BlockingMaze")[1]["reward"][:, 1000:].sum(1)
                for v in ("dyna-q", "dyna-q+")}
    # Dyna-Q+ collects more reward after the block than Dyna-Q (means separated by > 3 SE).
    diff = blocking["dyna-q+"].mean() - blocking["dyna-q"].mean()
    se = np.sqrt(blocking["dyna-q+"].var(ddof=1) / SEEDS + blocking["dyna-q"].var(ddof=1) / SEEDS)
    assert diff > 3 * se

    env, _ = envs.make("ShortcutMaze")
    shortcut = {}
    for v in ("dyna-q", "dyna-q+"):
        state, _ = _run(DynaConfig(variant=v, total_steps=6000, planning_steps=50, kappa=1e-3,
                                   **common), "ShortcutMaze")
        q = np.asarray(state.q)
        shortcut[v] = np.mean([_greedy_takes_shortcut(q[i], env) for i in range(SEEDS)])
    assert shortcut["dyna-q"] == 0.0       # regular Dyna-Q never takes the shortcut
    assert shortcut["dyna-q+"] >= 0.6      # most Dyna-Q+ seeds do (87% in the reproduction)
