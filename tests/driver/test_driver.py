"""The driver's evaluation stream, resume from a RunState, and the per-chunk finite check."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ScaleHParams, tree_equal

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.evaluation import EvalResult
from mbrl_jax.driver.finite import NonFiniteError
from mbrl_jax.driver.loop import Trainer, TrainOutput, make_train_fn, run_chunked

F, K = 2, 3  # env steps per iteration, iterations between evaluations


def _trainer(num_iterations=9, bad_step=None, bad_in="metric"):
    """Carry (env steps taken, running sum of rewards, key); rewards uniform * hp. evaluate
    reports the carry's env-step count and a random draw from its key, so the test can see when
    it ran and that its keys are fresh. `bad_step` plants a NaN at that env step of seed 1."""

    def init(key, hp):
        del hp
        return (jnp.int32(0), jnp.float32(0.0), key)

    def step(carry, hp):
        t, total, key = carry
        key, r_key = jax.random.split(key)
        reward = jax.random.uniform(r_key, (F,)) * hp.scale
        index = t + jnp.arange(F, dtype=jnp.int32)
        if bad_step is not None:
            planted = (index + 1 == bad_step) & (hp.scale > 1.5)
            if bad_in == "metric":
                reward = jnp.where(planted, jnp.nan, reward)
            else:
                total = jnp.where(planted.any(), jnp.inf, total)
        # env metrics are [F, num_envs]: one env here
        return (t + F, total + reward.sum(), key), {"reward": reward[:, None], "t": index}

    def evaluate(carry, hp, key):
        return EvalResult(jnp.zeros(1), jnp.ones(1, jnp.int32), jnp.ones(1, bool),
                          {"t": carry[0], "draw": jax.random.uniform(key, (2,)),
                           "key": jax.random.key_data(key)})

    return Trainer(init=init, step=step, result=lambda c: c[:2], num_iterations=num_iterations,
                   default_hparams=ScaleHParams(jnp.float32(1.0)), env_steps_per_iteration=F,
                   evaluate=evaluate)


def test_evaluation_every_k_iterations_matches_single_program_and_leaves_training_alone():
    trainer = _trainer()
    keys = jax.random.split(jax.random.key(0), 2)
    state, metrics, evals = jax.vmap(make_train_fn(trainer, eval_every=K * F))(keys)
    plain = jax.vmap(make_train_fn(trainer))(keys)
    assert isinstance(plain, TrainOutput) and plain.eval_metrics == {}  # one return type
    plain_state, plain = plain.state, plain.metrics
    assert tree_equal((state, metrics), (plain_state, plain))  # evaluation keys are separate
    # evaluations after iterations 3, 6, 9: env steps 6, 12, 18
    np.testing.assert_array_equal(evals["t"], [[6, 12, 18]] * 2)
    assert len(np.unique(np.asarray(evals["draw"]))) == 12  # a fresh key each time and seed
    # oracle: the evaluation stream is fold_in(seed key, constant), split once per evaluation
    stream = jax.random.fold_in(keys[1], 0x65766C)
    for i in range(3):
        stream, expected = jax.random.split(stream)
        np.testing.assert_array_equal(evals["key"][1, i], jax.random.key_data(expected))
    for chunk_steps in (2, 8, 100):  # chunks round to multiples of K iterations (8 -> 3)
        result = run_chunked(trainer, keys, chunk_steps=chunk_steps, eval_every=K * F)
        assert tree_equal(result.eval_metrics, evals) and tree_equal(result.metrics, metrics)
        np.testing.assert_array_equal(result.eval_steps, [6, 12, 18])


def test_resume_from_a_run_state_equals_the_uninterrupted_run():
    trainer = _trainer(num_iterations=12)
    keys = jax.random.split(jax.random.key(1), 3)
    whole = run_chunked(trainer, keys, chunk_steps=6, eval_every=K * F)
    saved = []

    def keep(chunk):  # the state is donated to the next chunk: copy it now
        saved.append(jax.tree.map(jnp.copy, chunk.state))

    first = run_chunked(trainer, keys, chunk_steps=6, on_chunk=keep, eval_every=K * F,
                        stop=lambda: True)
    assert first.metrics["t"].shape == (3, 6)
    rest = run_chunked(trainer, keys, chunk_steps=6, eval_every=K * F, start=saved[0])
    assert tree_equal(rest.state, whole.state)
    for name in whole.metrics:
        np.testing.assert_array_equal(
            np.concatenate([first.metrics[name], rest.metrics[name]], axis=1), whole.metrics[name])
    np.testing.assert_array_equal(np.concatenate([first.eval_steps, rest.eval_steps]),
                                  whole.eval_steps)


@pytest.mark.parametrize("bad_in, quantity, step", [
    ("metric", "metric 'reward'", 9),
    ("carry", "state leaf '[1]'", 12),  # carry checked at the end of the chunk holding step 9
])
def test_non_finite_values_stop_the_run_naming_step_seed_and_quantity(bad_in, quantity, step):
    trainer = _trainer(num_iterations=12, bad_step=9, bad_in=bad_in)
    keys = jax.random.split(jax.random.key(2), 3)
    hp = ScaleHParams(jnp.array([1.0, 2.0, 1.0]))  # only seed 1 goes bad
    seen = []
    with pytest.raises(NonFiniteError) as info:
        run_chunked(trainer, keys, hp, chunk_steps=6, check_finite_values=True,
                    on_chunk=lambda c: seen.append(c.env_steps))
    assert (info.value.step, info.value.seed, info.value.quantity) == (step, 1, quantity)
    assert f"env step {step} in seed 1" in str(info.value)
    assert seen == [6]  # the bad chunk never reaches on_chunk (no checkpoint of it)
    # off: the run completes and carries the NaN through
    result = run_chunked(trainer, keys, hp, chunk_steps=6)
    assert result.state[1].shape == (3,)


def test_seed_count_that_devices_do_not_divide_is_refused():
    trainer = _trainer()
    devices = [jax.devices()[0]] * 2
    with pytest.raises(ValueError, match="3 seeds do not split evenly over 2 devices"):
        run_chunked(trainer, jax.random.split(jax.random.key(0), 3), devices=devices)


@pytest.mark.parametrize("eval_every", [0, 3, -2, 2.0, True])
def test_eval_every_is_a_positive_multiple_of_the_iteration_in_env_steps(eval_every):
    trainer = _trainer()  # F = 2 env steps per iteration
    with pytest.raises(ConfigError, match="eval_every: must be a positive multiple of "
                                          "env_steps_per_iteration=2"):
        make_train_fn(trainer, eval_every=eval_every)
    with pytest.raises(ConfigError, match="eval_every"):
        run_chunked(trainer, jax.random.split(jax.random.key(0), 2), eval_every=eval_every)


def test_an_evaluate_returning_anything_but_an_eval_result_is_refused_when_traced():
    trainer = _trainer()
    untyped = trainer._replace(evaluate=lambda carry, hp, key: {"return": jnp.zeros(1)})
    with pytest.raises(TypeError, match="EvalResult"):
        jax.eval_shape(make_train_fn(untyped, eval_every=K * F), jax.random.key(0))


def test_an_eval_result_is_stored_as_return_length_ended_and_its_extra():
    trainer = _trainer()
    out = make_train_fn(trainer, eval_every=K * F)(jax.random.key(0))
    assert set(out.eval_metrics) == {"return", "length", "ended", "t", "draw", "key"}
    assert out.eval_metrics["length"].shape == (3, 1)  # [evaluations, episodes]
