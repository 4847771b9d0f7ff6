"""Dyna's entry points refuse out-of-range hyperparameters and oversized runs; the agent's
stateful functions compile once from `init_state` on."""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.core import ConfigError
from mbrl_jax.driver import run_chunked
from mbrl_jax.dyna import DynaConfig, DynaHParams, agent, make_train, make_trainer

MAZE = envs.make("DynaMaze")
TINY = DynaConfig(planning_steps=2, total_steps=20)


@pytest.mark.parametrize("field, value", [("alpha", np.nan), ("alpha", 5.0), ("alpha", 0.0),
                                          ("gamma", 1.5), ("epsilon", -0.1), ("kappa", np.inf)])
def test_bad_hparams_are_refused_by_train_and_run_chunked(field, value):
    hp = TINY.hparams().replace(**{field: np.float32(value)})
    with pytest.raises(ConfigError) as info:
        make_train(TINY, *MAZE)(jax.random.key(0), hp)
    assert info.value.field == field
    sweep = jax.tree.map(lambda x: np.stack([x, x]), TINY.hparams()).replace(
        **{field: np.array([getattr(TINY, field), value], np.float32)})
    with pytest.raises(ConfigError, match=field):
        run_chunked(make_trainer(TINY, *MAZE), jax.random.split(jax.random.key(0), 2), sweep)


def test_traced_hparams_are_not_checked_but_concrete_good_ones_run():
    # documented: under the user's own vmap values are tracers and cannot be read
    train = make_train(TINY, *MAZE)
    hp = jax.tree.map(lambda x: np.stack([x, x]), TINY.hparams())
    state, _, _ = jax.vmap(train)(jax.random.split(jax.random.key(0), 2), hp)
    assert np.isfinite(np.asarray(state.q)).all()
    assert isinstance(DynaHParams.validate(TINY.hparams()), DynaHParams)


@pytest.mark.parametrize("steps", [2**31, 10**12])
def test_step_counts_beyond_int32_are_refused(steps):
    with pytest.raises(ConfigError, match="int32") as info:
        make_trainer(DynaConfig(total_steps=steps), *MAZE)
    assert info.value.field == "total_steps"


def test_init_update_update_compiles_once():
    cfg = DynaConfig(variant="dyna-q+", planning_steps=3)
    traces = []

    @jax.jit
    def update(state, s, key):
        traces.append(1)
        return agent.update(state, s, 1, 0.5, s + 1, False, key, cfg.hparams(), cfg)

    state = agent.init_state(6, 2)
    state = update(update(state, 0, jax.random.key(0)), 1, jax.random.key(1))
    assert len(traces) == 1 and int(state.step) == 2
