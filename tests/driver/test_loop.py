"""The run driver's iterations: F env steps per `step`, periodic work once per iteration."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ScaleHParams

from mbrl_jax.driver.loop import MetricsShapeError, Trainer, make_train_fn, run_chunked

F = 3  # env steps per iteration


def _counting_trainer(num_iterations: int, F: int = F) -> Trainer:  # noqa: N803
    """Carry: (env steps taken, refits done, key). Each iteration takes F env steps with a random
    reward each, then one 'refit'. Metrics per env step: the env step index, its reward and the
    refit count (a per-iteration quantity broadcast over the iteration's F steps)."""

    def init(key, hp):
        del hp
        return (jnp.int32(0), jnp.int32(0), key)

    def step(carry, hp):
        t, refits, key = carry
        key, r_key = jax.random.split(key)
        rewards = jax.random.uniform(r_key, (F, 1)) * hp.scale
        index = t + jnp.arange(F, dtype=jnp.int32)
        refits = refits + 1
        metrics = {"t": index, "reward": rewards, "refits": jnp.full((F,), refits)}
        return (t + F, refits, key), metrics

    return Trainer(init=init, step=step, result=lambda c: c[:2], num_iterations=num_iterations,
                   default_hparams=ScaleHParams(jnp.float32(1.0)), env_steps_per_iteration=F)


@pytest.mark.parametrize("f", [1, F])
def test_metrics_are_per_env_step_and_periodic_work_runs_once_per_iteration(f):
    trainer = _counting_trainer(num_iterations=5, F=f)
    n = 5 * f
    assert trainer.num_env_steps == n
    (t, refits), metrics, _ = jax.jit(make_train_fn(trainer))(jax.random.key(0))
    assert int(t) == n and int(refits) == 5
    np.testing.assert_array_equal(metrics["t"], np.arange(n))
    # refit count seen at env step i is the number of iterations begun: i // F + 1
    np.testing.assert_array_equal(metrics["refits"], np.arange(n) // f + 1)
    assert metrics["reward"].shape == (n, 1)  # [F, num_envs] flattened to [env steps, envs]


@pytest.mark.parametrize("f, shape", [(1, ()), (3, ()), (3, (2,)), (1, (4,))])
def test_a_step_metric_without_its_f_axis_is_refused(f, shape):
    def step(carry, hp):
        return carry, {"reward": jnp.zeros((f, 1)), "loss": jnp.zeros(shape)}

    trainer = Trainer(init=lambda key, hp: jnp.int32(0), step=step, result=lambda c: c,
                      num_iterations=2, default_hparams=ScaleHParams(jnp.float32(1.0)),
                      env_steps_per_iteration=f)
    with pytest.raises(MetricsShapeError, match=r"\['loss'\].*env_steps_per_iteration = " + str(f)):
        make_train_fn(trainer)(jax.random.key(0))


@pytest.mark.parametrize("key", ["reward", "done", "terminated"])
@pytest.mark.parametrize("shape", [(2,), (2, 1, 1)])
def test_an_env_metric_without_its_num_envs_axis_is_refused(key, shape):
    def step(carry, hp):
        metrics = {"reward": jnp.zeros((2, 1)), "done": jnp.zeros((2, 1), bool)}
        return carry, {**metrics, key: jnp.zeros(shape)}

    trainer = Trainer(init=lambda key, hp: jnp.int32(0), step=step, result=lambda c: c,
                      num_iterations=2, default_hparams=ScaleHParams(jnp.float32(1.0)),
                      env_steps_per_iteration=2)
    with pytest.raises(MetricsShapeError, match=rf"env metric '{key}'.*\[2, N\]"):
        make_train_fn(trainer)(jax.random.key(0))


@pytest.mark.parametrize("chunk_steps", [1, 4, 6, 100])
def test_chunked_run_equals_single_program(chunk_steps):
    trainer = _counting_trainer(num_iterations=5)
    keys = jax.random.split(jax.random.key(1), 2)
    whole_state, whole, _ = jax.vmap(make_train_fn(trainer))(keys)
    seen = []
    result = run_chunked(trainer, keys, chunk_steps=chunk_steps,
                         on_chunk=lambda c: seen.append((c.env_steps, c.metrics["t"].shape)))
    for name in whole:
        np.testing.assert_array_equal(result.metrics[name], whole[name])
    np.testing.assert_array_equal(result.state[1], whole_state[1])
    # progress is reported in env steps, chunks hold whole iterations
    per_chunk = max(1, chunk_steps // F) * F
    expected = list(range(per_chunk, 15, per_chunk)) + [15]
    assert [d for d, _ in seen] == expected
    assert all(shape[0] == 2 and shape[1] % F == 0 for _, shape in seen)
