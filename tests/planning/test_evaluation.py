"""evaluate_action_sequences against plain Python loops: a hand-written simulator, and a
hand-set ensemble whose members are known in closed form, under TS-1 and TS-inf, with the
learned and known termination and reward; determinism, jit and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_equal

from mbrl_jax.core.errors import ConfigError, InputError
from mbrl_jax.models import EnsembleConfig, make_ensemble
from mbrl_jax.planning import (
    ensemble_rollout_fn,
    evaluate_action_sequences,
    step_rollout_fn,
    trajectory_returns,
)


def _line_step(key, obs, action):
    """next = obs + action, reward = next[0], never terminates by itself; NaN once past 2.5
    (a model that diverges after the states that count)."""
    del key
    next_obs = obs + action
    reward = jnp.where(obs[0] > 2.5, jnp.nan, next_obs[0])
    return next_obs, reward, jnp.zeros((), bool)


def _stop_at_two(obs, action, next_obs):
    del obs, action
    return next_obs[0] >= 2.0


def test_hand_example_discount_and_termination():
    # obs 0, actions 1, 1, 1, 1: next obs 1, 2, 3, 4, rewards 1, 2, 3, NaN. The step that reaches
    # 2 terminates and still counts: with discount 0.5 the return is 1 + 0.5 * 2 = 2.0; without
    # termination 1 + 0.5 * 2 + 0.25 * 3 + NaN -> NaN (the diverged step is summed).
    rollout_fn = step_rollout_fn(_line_step)
    seqs = np.ones((1, 4, 1), np.float32)
    key = jax.random.key(0)
    got = evaluate_action_sequences(rollout_fn, np.zeros(1), seqs, key, 1, discount=0.5,
                                    termination=_stop_at_two)
    np.testing.assert_allclose(got, [2.0])
    assert np.isnan(evaluate_action_sequences(rollout_fn, np.zeros(1), seqs, key, 1, 0.5,
                                              termination="none"))
    # "model": the simulator's own flag, here never; the first three steps with discount 1: 6
    got = evaluate_action_sequences(rollout_fn, np.zeros(1), seqs[:, :3], key, 1)
    np.testing.assert_allclose(got, [6.0])
    # a known reward replaces the model's: r = -action^2 on 3 steps -> -3
    got = evaluate_action_sequences(rollout_fn, np.zeros(1), seqs[:, :3], key, 1,
                                    reward_fn=lambda o, a, n: -a[0] ** 2)
    np.testing.assert_allclose(got, [-3.0])


def _python_returns(obs0, seqs, step, discount, terminates):
    out = []
    for seq in seqs:
        obs, total = np.asarray(obs0, np.float64), 0.0
        for t, action in enumerate(seq):
            next_obs, reward = step(obs, action)
            total += discount**t * reward
            if terminates(next_obs):
                break
            obs = next_obs
        out.append(total)
    return np.array(out)


def test_simulator_against_a_python_loop():
    rng = np.random.default_rng(0)
    seqs = rng.uniform(-1, 1, (6, 5, 2)).astype(np.float32)
    obs0 = np.array([0.5, -0.2], np.float32)
    got = evaluate_action_sequences(step_rollout_fn(_line_step), obs0, seqs, jax.random.key(1),
                                    2, discount=0.9, termination=_stop_at_two)
    want = _python_returns(obs0, seqs, lambda o, a: (o + a, (o + a)[0]), 0.9,
                           lambda n: n[0] >= 2.0)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_simulator_particles_draw_their_own_noise():
    # reward = a standard normal draw per particle and step: the mean over 4 steps x 10_000
    # particles of each candidate's return is 0 within 4 * 0.02 (its std is 2 / 100), and the
    # candidates, drawn apart, differ
    def noisy_step(key, obs, action):
        return obs, jax.random.normal(key), jnp.zeros((), bool)

    got = evaluate_action_sequences(step_rollout_fn(noisy_step), np.zeros(1),
                                    np.zeros((3, 4, 1), np.float32), jax.random.key(9), 10_000)
    assert np.all(np.abs(got) < 0.08) and len(set(np.asarray(got).tolist())) == 3


# A hand-set ensemble, three deterministic members: member e moves next = obs + action + C[e] and
# predicts reward R[e]; with the learned termination head member 2 always terminates (logit +20)
# and the others never (-20). Built from a relu layer of one unit, h = relu(action + 10) (> 0
# for actions in [-1, 1]), and an output layer [delta, reward, logit] = [h + C[e] - 10, R[e],
# L[e]] under the identity normaliser.
C = np.array([0.0, 0.5, -1.0], np.float32)
R = np.array([1.0, 2.0, 3.0], np.float32)
L = np.array([-20.0, -20.0, 20.0], np.float32)


def _hand_set_ensemble(learn_termination, termination_fn=None):
    config = EnsembleConfig(obs_dim=1, action_dim=1, ensemble_size=3, num_elites=3,
                            hidden_sizes=(1,), activation="relu", probabilistic=False,
                            learn_termination=learn_termination)
    model = make_ensemble(config, termination_fn)
    state = model.init(jax.random.key(0))
    out = config.output_dim
    hidden = {"kernel": jnp.array([[[0.0], [1.0]]] * 3), "bias": jnp.full((3, 1), 10.0)}
    kernel = np.zeros((3, 1, out), np.float32)
    kernel[:, 0, 0] = 1.0
    bias = np.stack([C - 10.0, R, L][:out], axis=-1)
    params = {**state.params, "net": {"params": {
        "hidden_0": hidden, "output": {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}}}}
    return model, state.replace(params=params)


class Recorder:
    """Wraps a RolloutFn and keeps the trajectory it returned (eager calls only)."""

    def __init__(self, rollout_fn):
        self.rollout_fn, self.traj = rollout_fn, None

    def __call__(self, key, init_obs, actions):
        self.traj = self.rollout_fn(key, init_obs, actions)
        return self.traj


def _ensemble_python_returns(obs0, seqs, members, n, discount, reward_of, terminates):
    """Plain loops: row i * n + j is particle j of candidate i and uses member members[t, row]
    at step t. reward_of(obs, action, next_obs, member), terminates(next_obs, member)."""
    p, h = seqs.shape[:2]
    returns = np.zeros((p, n))
    for i in range(p):
        for j in range(n):
            obs, total = float(obs0[0]), 0.0
            for t in range(h):
                e, a = members[t, i * n + j], float(seqs[i, t, 0])
                next_obs = obs + a + C[e]
                total += discount**t * reward_of(obs, a, next_obs, e)
                if terminates(next_obs, e):
                    break
                obs = next_obs
            returns[i, j] = total
    return returns.mean(1)


SEQS = np.random.default_rng(1).uniform(-1, 1, (5, 6, 1)).astype(np.float32)
OBS0 = np.array([0.2], np.float32)
N = 8


@pytest.mark.parametrize("propagation", ["random_member", "fixed_member"])
@pytest.mark.parametrize("case", ["learned", "known", "override"])
def test_ensemble_against_python_loops(propagation, case):
    if case == "learned":  # learned reward and termination heads
        model, state = _hand_set_ensemble(learn_termination=True)
        kwargs = {}
        reward_of = lambda o, a, n, e: R[e]  # noqa: E731
        terminates = lambda n, e: e == 2  # noqa: E731
    elif case == "known":  # a known termination function given to the ensemble
        model, state = _hand_set_ensemble(False, termination_fn=lambda o, a, n: n[0] > 0.8)
        kwargs = {}
        reward_of = lambda o, a, n, e: R[e]  # noqa: E731
        terminates = lambda n, e: n > 0.8  # noqa: E731
    else:  # reward and termination functions passed to the evaluator override the model's
        model, state = _hand_set_ensemble(learn_termination=True)
        kwargs = dict(reward_fn=lambda o, a, n: n[0] - 0.1 * a[0] ** 2,
                      termination=lambda o, a, n: n[0] < -1.0)
        reward_of = lambda o, a, n, e: n - 0.1 * a**2  # noqa: E731
        terminates = lambda n, e: n < -1.0  # noqa: E731
    record = Recorder(ensemble_rollout_fn(model, state, propagation))
    got = evaluate_action_sequences(record, OBS0, SEQS, jax.random.key(2), N, discount=0.95,
                                    **kwargs)
    members = np.asarray(record.traj.member)  # [H, P * N]
    assert members.shape == (6, 5 * N) and set(np.unique(members)) == {0, 1, 2}
    per_particle_constant = np.all(members == members[:1], axis=0)
    if propagation == "fixed_member":  # TS-inf: one member for the whole horizon
        assert per_particle_constant.all()
    else:  # TS-1: redrawn each step (all 6 equal by chance: 3**-5 per particle)
        assert per_particle_constant.mean() < 0.2
    want = _ensemble_python_returns(OBS0, SEQS, members, N, 0.95, reward_of, terminates)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert len(set(np.round(np.asarray(got), 4))) > 1  # the candidates were told apart


def test_mean_propagation_and_no_termination():
    # "mean": every particle follows the members' average, next = obs + a + mean(C), reward
    # mean(R) = 2 each step; termination "none" ignores the learned head
    model, state = _hand_set_ensemble(learn_termination=True)
    got = evaluate_action_sequences(ensemble_rollout_fn(model, state, "mean"), OBS0, SEQS,
                                    jax.random.key(3), 1, termination="none",
                                    reward_fn=lambda o, a, n: n[0])
    want = [sum(OBS0[0] + np.cumsum(seq[:, 0] + C.mean())) for seq in SEQS]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_trajectory_returns_counts_the_terminal_step_once():
    model, state = _hand_set_ensemble(learn_termination=True)
    traj = ensemble_rollout_fn(model, state, "fixed_member")(
        jax.random.key(4), np.zeros((30, 1)), np.zeros((4, 30, 1)))
    returns = trajectory_returns(traj)  # [B]: R[e] for the four steps, only one for member 2
    member = np.asarray(traj.member[0])
    np.testing.assert_allclose(returns, np.where(member == 2, 3.0, 4 * R[member]))


def _sampled_ensemble():
    config = EnsembleConfig(obs_dim=3, action_dim=1, ensemble_size=4, num_elites=2,
                            hidden_sizes=(8,))
    model = make_ensemble(config)
    return model, model.init(jax.random.key(5))


@pytest.mark.parametrize("propagation", ["random_member", "fixed_member"])
def test_deterministic_jit_and_vmap(propagation):
    model, state = _sampled_ensemble()
    rollout_fn = ensemble_rollout_fn(model, state, propagation)
    seqs = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (6, 4, 1)), jnp.float32)
    obs0 = jnp.array([0.1, -0.3, 0.5])

    def evaluate(key):
        return evaluate_action_sequences(rollout_fn, obs0, seqs, key, 5, discount=0.99)

    keys = jax.random.split(jax.random.key(6), 3)
    single = [evaluate(k) for k in keys]
    assert single[0].shape == (6,) and np.all(np.isfinite(single[0]))
    assert tree_equal(evaluate(keys[0]), single[0])
    assert not tree_equal(single[0], single[1])  # particles are sampled from the key
    batched = jax.jit(jax.vmap(evaluate))(keys)
    jitted = jax.jit(evaluate)
    for i, k in enumerate(keys):
        np.testing.assert_allclose(jitted(k), single[i], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(batched[i], single[i], rtol=1e-5, atol=1e-5)


def test_argument_errors():
    rollout_fn = step_rollout_fn(_line_step)
    seqs, key = np.ones((2, 3, 1), np.float32), jax.random.key(0)
    with pytest.raises(ConfigError) as err:
        evaluate_action_sequences(rollout_fn, np.zeros(1), seqs, key, 0)
    assert err.value.field == "num_particles"
    with pytest.raises(ConfigError) as err:
        evaluate_action_sequences(rollout_fn, np.zeros(1), seqs, key, 1, discount=1.5)
    assert err.value.field == "discount"
    with pytest.raises(InputError, match="termination"):
        evaluate_action_sequences(rollout_fn, np.zeros(1), seqs, key, 1, termination="env")
    with pytest.raises(InputError, match="action_sequences"):
        evaluate_action_sequences(rollout_fn, np.zeros(1), seqs[0], key, 1)
