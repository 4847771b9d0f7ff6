"""The driver contract, checked once for every registered algorithm on one shared build each:

- one env step per driver iteration (F = 1) works, and every step metric comes back
  `[seeds, env steps, ...]` (the driver owns the `[F]` axis; a leaf left `[seeds, iterations, 1,
  envs]` would make `report.per_stream` treat a length-1 axis as the env streams);
- the same key gives the same run, another key another run, and the second call does not retrace;
- `vmap` over seeds and hyperparameters (seed 1 runs every HParams leaf at half its default, so
  every algorithm is sweepable in one program) equals the single runs;
- out-of-range hyperparameters are refused, naming the field, before anything is traced;
- the CLI's defaults are the config class's, and the registry's test arguments are
  `Config.tiny()`.

Each algorithm's trainer is built from its registry `test_args` plus what sets F = 1, and compiled
twice in all (the single and the batched program); the tests of one algorithm share those runs and
run on one xdist worker (`xdist_group`, `--dist loadgroup`). Algorithm-specific behaviour (update
counts, warm-up, buffers) is tested in each algorithm's own test folder.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_equal

from mbrl_jax import envs
from mbrl_jax.cli import build_parser
from mbrl_jax.cli.registry import registry
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.driver.loop import ENV_METRICS, make_train_fn, run_chunked
from mbrl_jax.stats import episodes, report

ONE_STEP_ARGS = {  # what sets F = 1 for each algorithm's CLI (dyna and sac have F = 1 always)
    "mbpo": ("--env-steps-per-iteration", "1"),
    "muzero": ("--env-steps-per-iteration", "1"),
    "pets": ("--env-steps-per-iteration", "1"),
    # Dreamer: train_ratio * F / (batch * sequence) = 16 * 1 / (2 * 8) = 1 update
    "dreamer": ("--env-steps-per-iteration", "1", "--train-ratio", "16"),
}
# The batched program may fuse and round matmuls differently from the single one; training
# amplifies that (MBPO: 1e-8 after one iteration, about 1e-3 after 20 steps of model refits and
# SAC updates). A mixed-up seed or stream differs by O(1).
TOLERANCE = {"mbpo": dict(rtol=1e-2, atol=1e-3)}
SEEDS = 2

NAMES = [pytest.param(n, marks=pytest.mark.xdist_group(f"contract-{n}")) for n in registry()]


def _halved(hparams):
    return jax.tree.map(lambda x: x * 0.5, hparams)


@functools.cache
def _runs(name):
    spec = registry()[name]
    args = build_parser().parse_args(["train", name, *spec.test_args,
                                      *ONE_STEP_ARGS.get(name, ())])
    trainer, _ = spec.build(args, *envs.make(args.env))
    train = make_train_fn(trainer)
    traces = []
    single = jax.jit(lambda key, hp: traces.append(1) or train(key, hp))
    keys = jax.random.split(jax.random.key(0), SEEDS)
    hps = [trainer.default_hparams, _halved(trainer.default_hparams)]
    first, again, other = single(keys[0], hps[0]), single(keys[0], hps[0]), single(keys[1], hps[1])
    halved = single(keys[0], hps[1])
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *hps)
    batched = jax.tree.map(np.asarray, jax.jit(jax.vmap(train))(keys, stacked))
    return dict(trainer=trainer, traces=len(traces), runs=(first, other), again=again,
                halved=halved, batched=batched)


@pytest.mark.parametrize("name", NAMES)
def test_one_env_step_per_iteration_gives_metrics_per_env_step(name):
    got = _runs(name)
    trainer, metrics = got["trainer"], got["batched"].metrics
    assert trainer.env_steps_per_iteration == 1
    steps = trainer.num_env_steps
    for key, value in metrics.items():
        assert value.shape[:2] == (SEEDS, steps), (key, value.shape)
        # the driver's keys are unscoped; an algorithm's own carry its scope ("sac/q")
        assert key in ENV_METRICS or key.count("/") == 1, key
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), key
    reward, done = metrics["reward"], metrics["done"]
    # the env leaves are [seeds, env steps, envs] for every algorithm, Dyna's one env included
    assert reward.shape == done.shape and reward.ndim == 3
    streams = report.per_stream(metrics)
    num_envs = reward.shape[2]
    assert streams["reward"].shape == (SEEDS * num_envs, steps)
    # oracle: every stream's episodes, counted on the raw [seed, step, env] arrays
    raw = done.reshape(SEEDS, steps, num_envs)
    expected = [int(raw[s, :, e].sum()) for s in range(SEEDS) for e in range(num_envs)]
    assert [len(r) for r in episodes.episode_returns(streams["reward"], streams["done"])] \
        == expected


@pytest.mark.parametrize("name", NAMES)
def test_same_key_same_run_other_key_other_run_and_no_retrace(name):
    """Also: halved hyperparameters on the same key give another run (they reach it)."""
    got = _runs(name)
    (first, other), again = got["runs"], got["again"]
    assert got["traces"] == 1, "the second call retraced"
    assert tree_equal(first, again)
    assert not tree_equal(first, other), "the key does not reach the run"
    assert not tree_equal(first, got["halved"]), "the hyperparameters do not reach the run"


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


# The command line and the config classes: one source of truth. These build configs only
# (nothing is traced), so they run on any worker.

def _config(name, *argv):
    spec = registry()[name]
    return spec.make_config(build_parser().parse_args(["train", name, *argv]))


@pytest.mark.parametrize("name", list(registry()))
def test_cli_defaults_are_the_config_defaults(name):
    """`mbrl-jax train NAME` with no options trains the config class's defaults."""
    spec = registry()[name]
    cls = type(spec.config)
    expected = cls(variant=name) if name.startswith("dyna") else cls()
    assert spec.config == expected
    assert _config(name) == expected
    assert spec.default_steps == expected.total_steps


@pytest.mark.parametrize("name", list(registry()))
def test_test_args_describe_config_tiny(name):
    """The registry's test arguments are generated from `Config.tiny()` and parse back to it."""
    spec = registry()[name]
    cls = type(spec.config)
    tiny = cls.tiny(variant=name) if name.startswith("dyna") else cls.tiny()
    assert _config(name, *spec.test_args) == tiny


@pytest.mark.parametrize("name", list(registry()))
def test_out_of_range_hyperparameters_are_refused_before_tracing(name):
    spec = registry()[name]
    trainer, _ = spec.build(build_parser().parse_args(["train", name, *spec.test_args]),
                            *envs.make(spec.test_args[1]))
    leaves, treedef = jax.tree.flatten(trainer.default_hparams)
    names = [f.name for f in dataclasses.fields(trainer.default_hparams)]
    for i, field in enumerate(names):
        bad = jax.tree.unflatten(treedef, [jnp.float32(-1.0) if j == i else x
                                           for j, x in enumerate(leaves)])
        with pytest.raises(ConfigError, match=field):
            make_train_fn(trainer)(jax.random.key(0), bad)
        with pytest.raises(ConfigError, match=field):
            run_chunked(trainer, jax.random.split(jax.random.key(0), 2), bad, chunk_steps=1)
