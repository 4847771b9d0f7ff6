"""F = 1 (one env step per driver iteration) for every registered algorithm: the driver owns the
`[F]` axis of step metrics, so each metric comes back `[seeds, env steps, ...]` and the episode
statistics fold over the right axes (a leaf left `[seeds, iterations, 1, envs]` would make
`report.per_stream` treat a length-1 axis as the env streams)."""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.algorithms import registry
from mbrl_jax.cli import build_parser
from mbrl_jax.core import episodes, report
from mbrl_jax.core.loop import make_train_fn

ONE_STEP_ARGS = {  # what sets F = 1 for each algorithm's CLI (dyna and sac have F = 1 always)
    "mbpo": ("--retrain-every", "1"),
    "muzero": ("--rollout-length", "1"),
    "dreamer": ("--iteration-steps", "1", "--train-ratio", "16"),  # 16 * 1 / (2 * 8) = 1 update
}


@pytest.mark.parametrize("name", list(registry()))
def test_one_env_step_per_iteration_gives_metrics_per_env_step(name):
    spec = registry()[name]
    args = build_parser().parse_args(["train", name, *spec.test_args,
                                      *ONE_STEP_ARGS.get(name, ())])
    env, env_params = envs.make(args.env)
    trainer, _ = spec.build(args, env, env_params)
    assert trainer.env_steps_per_iteration == 1
    seeds, steps = 2, trainer.num_env_steps
    _, metrics = jax.jit(jax.vmap(make_train_fn(trainer)))(jax.random.split(jax.random.key(0),
                                                                            seeds))
    metrics = jax.tree.map(np.asarray, metrics)
    for key, value in metrics.items():
        assert value.shape[:2] == (seeds, steps), (key, value.shape)
    reward, done = metrics["reward"], metrics["done"]
    assert reward.shape == done.shape and reward.ndim in (2, 3)
    streams = report.per_stream(metrics)
    num_envs = 1 if reward.ndim == 2 else reward.shape[2]
    assert streams["reward"].shape == (seeds * num_envs, steps)
    # oracle: every stream's episodes, counted on the raw [seed, step, env] arrays
    raw = done.reshape(seeds, steps, num_envs)
    expected = [int(raw[s, :, e].sum()) for s in range(seeds) for e in range(num_envs)]
    assert [len(r) for r in episodes.episode_returns(streams["reward"], streams["done"])] \
        == expected
