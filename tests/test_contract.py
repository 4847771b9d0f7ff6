"""The driver contract, checked once for every registered algorithm on one shared build each:

- one env step per driver iteration (F = 1) works, and every step metric comes back
  `[seeds, env steps, ...]` (the driver owns the `[F]` axis; a leaf left `[seeds, iterations, 1,
  envs]` would make `report.per_stream` treat a length-1 axis as the env streams);
- the same key gives the same run, another key another run, and the second call does not retrace;
- `vmap` over seeds equals the single runs.

Each algorithm's trainer is built from its registry `test_args` plus what sets F = 1, and compiled
twice in all (the single and the batched program); the tests of one algorithm share those runs and
run on one xdist worker (`xdist_group`, `--dist loadgroup`). Algorithm-specific behaviour (update
counts, warm-up, buffers) is tested in each algorithm's own test folder.
"""

import functools

import jax
import numpy as np
import pytest
from conftest import tree_equal

from mbrl_jax import envs
from mbrl_jax.cli import build_parser
from mbrl_jax.cli.registry import registry
from mbrl_jax.driver.loop import make_train_fn
from mbrl_jax.stats import episodes, report

ONE_STEP_ARGS = {  # what sets F = 1 for each algorithm's CLI (dyna and sac have F = 1 always)
    "mbpo": ("--retrain-every", "1"),
    "muzero": ("--rollout-length", "1"),
    "dreamer": ("--iteration-steps", "1", "--train-ratio", "16"),  # 16 * 1 / (2 * 8) = 1 update
}
# The batched program may fuse and round matmuls differently from the single one; training
# amplifies that (MBPO: 1e-8 after one iteration, about 1e-3 after 20 steps of model refits and
# SAC updates). A mixed-up seed or stream differs by O(1).
TOLERANCE = {"mbpo": dict(rtol=1e-2, atol=1e-3)}
SEEDS = 2

NAMES = [pytest.param(n, marks=pytest.mark.xdist_group(f"contract-{n}")) for n in registry()]


@functools.cache
def _runs(name):
    spec = registry()[name]
    args = build_parser().parse_args(["train", name, *spec.test_args,
                                      *ONE_STEP_ARGS.get(name, ())])
    trainer, _ = spec.build(args, *envs.make(args.env))
    train = make_train_fn(trainer)
    traces = []
    single = jax.jit(lambda key: traces.append(1) or train(key))
    keys = jax.random.split(jax.random.key(0), SEEDS)
    first, again, other = single(keys[0]), single(keys[0]), single(keys[1])
    batched = jax.tree.map(np.asarray, jax.jit(jax.vmap(train))(keys))
    return dict(trainer=trainer, traces=len(traces), runs=(first, other), again=again,
                batched=batched)


@pytest.mark.parametrize("name", NAMES)
def test_one_env_step_per_iteration_gives_metrics_per_env_step(name):
    got = _runs(name)
    trainer, (_, metrics) = got["trainer"], got["batched"]
    assert trainer.env_steps_per_iteration == 1
    steps = trainer.num_env_steps
    for key, value in metrics.items():
        assert value.shape[:2] == (SEEDS, steps), (key, value.shape)
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), key
    reward, done = metrics["reward"], metrics["done"]
    assert reward.shape == done.shape and reward.ndim in (2, 3)
    streams = report.per_stream(metrics)
    num_envs = 1 if reward.ndim == 2 else reward.shape[2]
    assert streams["reward"].shape == (SEEDS * num_envs, steps)
    # oracle: every stream's episodes, counted on the raw [seed, step, env] arrays
    raw = done.reshape(SEEDS, steps, num_envs)
    expected = [int(raw[s, :, e].sum()) for s in range(SEEDS) for e in range(num_envs)]
    assert [len(r) for r in episodes.episode_returns(streams["reward"], streams["done"])] \
        == expected


@pytest.mark.parametrize("name", NAMES)
def test_same_key_same_run_other_key_other_run_and_no_retrace(name):
    got = _runs(name)
    (first, other), again = got["runs"], got["again"]
    assert got["traces"] == 1, "the second call retraced"
    assert tree_equal(first, again)
    assert not tree_equal(first, other), "the key does not reach the run"


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_seeds_equals_the_single_runs(name):
    got = _runs(name)
    tol = TOLERANCE.get(name, dict(rtol=1e-4, atol=1e-5))
    for i, single in enumerate(got["runs"]):
        row = jax.tree.map(lambda x, i=i: x[i], got["batched"])
        assert jax.tree.structure(row) == jax.tree.structure(single)
        for (path, want), have in zip(jax.tree_util.tree_leaves_with_path(single),
                                      jax.tree.leaves(row), strict=True):
            np.testing.assert_allclose(np.asarray(have, float), np.asarray(want, float),
                                       err_msg=f"seed {i}, {jax.tree_util.keystr(path)}",
                                       equal_nan=True, **tol)
