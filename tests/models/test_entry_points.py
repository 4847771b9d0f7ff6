"""The ensemble's public entry points refuse what they cannot do, accept numpy, compile once."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.core.errors import InputError
from mbrl_jax.models import EnsembleConfig, Transition, make_ensemble, make_train_batch

CFG = EnsembleConfig(obs_dim=3, action_dim=2, discrete_actions=True, ensemble_size=3,
                     num_elites=2, hidden_sizes=(8,), batch_size=8, max_epochs=2, patience=2)
MODEL = make_ensemble(CFG)
FIT = jax.jit(MODEL.fit)


@functools.cache
def _state():
    """Built on first use, not at import (every xdist worker imports every test module)."""
    return MODEL.init(jax.random.key(0))


def _numpy_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    return Transition(obs, rng.integers(0, 2, n), rng.normal(size=n).astype(np.float32),
                      obs + 0.1, np.zeros(n, bool))


def test_fit_refuses_empty_data_and_names_first_nonfinite_row():
    data = _numpy_data()
    with pytest.raises(InputError, match="at least one valid row") as info:
        MODEL.fit(_state(), data, jax.random.key(1), num_valid=0)
    assert info.value.argument == "num_valid"
    empty = Transition(*(x[:0] for x in data))
    with pytest.raises(InputError, match="at least one valid row"):
        MODEL.fit(_state(), empty, jax.random.key(1))
    with pytest.raises(InputError, match="num_valid"):
        MODEL.fit(_state(), data, jax.random.key(1), num_valid=33)
    bad = data._replace(next_obs=data.next_obs.copy())
    bad.next_obs[7, 1] = np.nan
    bad.next_obs[9, 0] = np.inf
    with pytest.raises(InputError, match="row 7") as info:
        MODEL.fit(_state(), bad, jax.random.key(1))
    assert info.value.argument == "dataset.next_obs"
    # rows past num_valid are not the model's business: NaN there is accepted and, being left
    # out of the normaliser's statistics too, does not reach the loss
    _, fit_info = FIT(_state(), bad, jax.random.key(1), 7)
    assert bool(fit_info.finite)


def test_fit_under_jit_reports_nonfinite_loss():
    data = _numpy_data()
    bad = data._replace(reward=data.reward.copy())
    bad.reward[3] = np.nan
    _, info = FIT(_state(), bad, jax.random.key(1))  # traced: cannot refuse, must not hide it
    assert not bool(info.finite)
    _, info = FIT(_state(), data, jax.random.key(1))
    assert bool(info.finite)
    _, info = FIT(_state(), data, jax.random.key(1), jnp.int32(0))  # traced num_valid = 0
    assert not bool(info.finite) and int(info.num_train) == 0


@pytest.mark.parametrize("call, argument, fragment", [
    (lambda: MODEL.predict(_state(), np.zeros((5, 4)), np.zeros(5, int)), "obs", "obs_dim=3"),
    (lambda: MODEL.predict(_state(), np.zeros((5, 3)), np.full(5, 2)), "action", "action_dim=2"),
    (lambda: MODEL.predict(_state(), np.zeros((5, 3)), np.full(5, -1)), "action", "action_dim=2"),
    (lambda: MODEL.predict(_state(), np.zeros((5, 3)), np.zeros((5, 2))), "action",
     "discrete_actions=True"),
    (lambda: MODEL.rollout(_state(), jax.random.key(0), np.zeros((5, 4)), np.zeros((2, 5), int)),
     "init_obs", "obs_dim=3"),
    (lambda: MODEL.rollout(_state(), jax.random.key(0), np.zeros((5, 3)), np.full((2, 5), 5)),
     "actions", "action_dim=2"),
    (lambda: MODEL.rollout_policy(_state(), jax.random.key(0), np.zeros((5, 3)),
                                  lambda k, o: jnp.zeros((4,), int), 3), "policy", "B=5"),
    (lambda: MODEL.fit(_state(), _numpy_data()._replace(obs=np.zeros((32, 4))), jax.random.key(0)),
     "dataset.obs", "obs_dim=3"),
    (lambda: MODEL.fit(_state(), _numpy_data()._replace(action=np.full(32, 5)), jax.random.key(0)),
     "dataset.action", "action_dim=2"),
    (lambda: MODEL.update(_state(), make_train_batch(
        dataclasses.replace(CFG, obs_dim=4), Transition(
            np.zeros((9, 4), np.float32), np.zeros(9, int), np.zeros(9, np.float32),
            np.zeros((9, 4), np.float32), np.zeros(9, bool)),
        np.zeros((3, 8), int))), "batch.inputs", "input_dim=5"),
])
def test_wrong_shapes_and_actions_name_the_config_field(call, argument, fragment):
    with pytest.raises(InputError, match=fragment) as info:
        call()
    assert info.value.argument.startswith(argument)


def test_continuous_model_checks_action_width():
    model = make_ensemble(dataclasses.replace(CFG, discrete_actions=False))
    state = model.init(jax.random.key(0))
    with pytest.raises(InputError, match="action_dim=2"):
        model.predict(state, np.zeros((5, 3)), np.zeros(5))
    pred = model.predict(state, np.zeros((5, 3)), np.zeros((5, 2)))
    assert pred.next_obs.shape == (5, 3)


def test_numpy_inputs_give_the_same_result_as_jax_arrays():
    data = _numpy_data()
    from_numpy = MODEL.fit(_state(), data, jax.random.key(2))  # eager: numpy indexed by tracers
    from_jax = FIT(_state(), jax.tree.map(jnp.asarray, data), jax.random.key(2))
    for a, b in zip(jax.tree.leaves(from_numpy), jax.tree.leaves(from_jax), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    actions = np.zeros((2, 4), np.int64)
    traj = MODEL.rollout(_state(), jax.random.key(3), data.obs[:4], actions)
    again = MODEL.rollout(_state(), jax.random.key(3), jnp.asarray(data.obs[:4]),
                          jnp.asarray(actions))
    for a, b in zip(traj, again, strict=True):  # NaN disagreement (member propagation) equal too
        np.testing.assert_array_equal(a, b)


def test_init_fit_fit_compiles_once():
    traces = []

    @jax.jit
    def fit(state, data, key):
        traces.append(1)
        return MODEL.fit(state, data, key)

    @jax.jit
    def update(state, batch):
        traces.append(2)
        return MODEL.update(state, batch)

    data = jax.tree.map(jnp.asarray, _numpy_data())
    state, _ = fit(MODEL.init(jax.random.key(4)), data, jax.random.key(5))
    state, _ = fit(state, data, jax.random.key(6))
    batch = make_train_batch(CFG, data, jnp.zeros((3, 8), jnp.int32))
    state, _ = update(update(MODEL.init(jax.random.key(4)), batch)[0], batch)
    assert traces == [1, 2]
    # and the state's leaves keep dtype and weak type from init on
    fresh = MODEL.init(jax.random.key(4))
    assert [(x.dtype, x.weak_type) for x in jax.tree.leaves(fresh)] == [
        (x.dtype, x.weak_type) for x in jax.tree.leaves(state)]


def test_elites_only_defaults_agree():
    import inspect

    defaults = {name: inspect.signature(getattr(MODEL, name)).parameters["elites_only"].default
                for name in ("predict", "rollout", "rollout_policy")}
    assert set(defaults.values()) == {True}, defaults
