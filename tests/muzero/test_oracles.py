"""MuZero's formulas pinned to independent oracles: the n-step targets and loss masks against a
plain numpy loop over random windows, the self-play replay record against the env stepped by
hand, the loss weights, the temperature schedule, the explore=False path, the value-bootstrap
branch, and the config refusals."""

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.core import ConfigError
from mbrl_jax.muzero import MuZeroConfig, SupportWarning, losses, make_trainer
from mbrl_jax.muzero import agent as mz_agent
from mbrl_jax.muzero import train as mz_train

CATCH = envs.make("Catch-bsuite")


def oracle_targets(w, discount, k_unroll, n):
    """MuZero's targets for one window, written as the definitions read (a loop per unroll step).

    Returns value, value_mask, reward, reward_mask, policy_mask, each [K + 1]."""
    r, v, fv = w["reward"], w["search_value"], w["final_value"]
    term, trunc = w["terminated"], w["truncated"]
    out = {k: np.zeros(k_unroll + 1) for k in
           ("value", "value_mask", "reward", "reward_mask", "policy_mask")}

    def state_kind(k):
        """"live" when no episode ended in steps 0..k-1, else what the first end was."""
        for j in range(k):
            if term[j]:
                return "absorbing"
            if trunc[j]:
                return "cut"
        return "live"

    for k in range(k_unroll + 1):
        kind = state_kind(k)
        if kind == "live":
            z = 0.0
            for i in range(n):
                z += discount ** i * r[k + i]
                if term[k + i]:
                    break
                if trunc[k + i]:
                    z += discount ** (i + 1) * fv[k + i]
                    break
            else:
                z += discount ** n * v[k + n]
            out["value"][k], out["value_mask"][k], out["policy_mask"][k] = z, 1, 1
        elif kind == "absorbing":
            out["value_mask"][k] = 1  # value 0 with loss, no policy loss
        if k >= 1:
            before = state_kind(k - 1)
            if before == "live":
                out["reward"][k], out["reward_mask"][k] = r[k - 1], 1
            elif before == "absorbing":
                out["reward_mask"][k] = 1  # reward 0 with loss
    return out


def _random_window(rng, length, num_actions=3):
    ends = rng.random(length)
    term = ends < 0.15
    trunc = (ends >= 0.15) & (ends < 0.3)  # the replay stores truncated & ~terminated
    return {"obs": np.zeros((length, 1), np.float32),
            "action": rng.integers(0, num_actions, length).astype(np.int32),
            "reward": rng.normal(size=length).astype(np.float32),
            "terminated": term, "truncated": trunc,
            "search_value": rng.normal(size=length).astype(np.float32),
            "policy": rng.dirichlet(np.ones(num_actions), length).astype(np.float32),
            "final_value": rng.normal(size=length).astype(np.float32)}


@pytest.mark.parametrize("k_unroll,n", [(5, 2), (3, 4), (1, 1)])
def test_targets_and_masks_match_a_numpy_loop_on_random_windows(k_unroll, n):
    rng = np.random.default_rng(k_unroll * 10 + n)
    length, count, discount = k_unroll + n + 1, 400, 0.9
    windows = [_random_window(rng, length) for _ in range(count)]
    batch = losses.Step(**{f: jnp.asarray(np.stack([w[f] for w in windows]))
                           for f in losses.Step._fields})
    got = jax.jit(jax.vmap(lambda w: losses.make_targets(w, jnp.float32(discount), k_unroll, n)))(
        batch)
    ends_inside = 0
    for i, w in enumerate(windows):
        want = oracle_targets(w, discount, k_unroll, n)
        for field in ("value_mask", "reward_mask", "policy_mask"):
            np.testing.assert_array_equal(getattr(got, field)[i], want[field], err_msg=field)
        live = want["value_mask"] > 0
        np.testing.assert_allclose(np.asarray(got.value[i])[live], want["value"][live],
                                   rtol=1e-5, atol=1e-5)
        rew = want["reward_mask"] > 0
        np.testing.assert_allclose(np.asarray(got.reward[i])[rew], want["reward"][rew],
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(got.actions[i], w["action"][:k_unroll])
        np.testing.assert_array_equal(got.policy[i], w["policy"][:k_unroll + 1])
        ends_inside += (w["terminated"][:k_unroll] | w["truncated"][:k_unroll]).any()
    assert ends_inside > count // 4  # the windows do exercise episode ends


def test_a_truncation_then_a_termination_keeps_the_losses_off():
    # The probe: K = 5, n = 2, the episode is cut (time limit) at step 0 and the next
    # episode terminates at step 2: nothing after step 0 belongs to the sampled episode.
    w = _random_window(np.random.default_rng(0), 8)
    w["terminated"][:] = False
    w["truncated"][:] = False
    w["truncated"][0], w["terminated"][2] = True, True
    step = losses.Step(**{f: jnp.asarray(w[f]) for f in losses.Step._fields})
    t = losses.make_targets(step, jnp.float32(0.9), unroll_steps=5, td_steps=2)
    np.testing.assert_array_equal(t.value_mask, [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(t.reward_mask, [0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(t.policy_mask, [1, 0, 0, 0, 0, 0])


# ---- the trainer: replay record, search paths, loss weights -------------------------------

def _random_params(params, std):
    rng = np.random.default_rng(0)
    return jax.tree.map(lambda x: rng.normal(0.0, std, x.shape).astype(np.float32), params)


def _random_heads(carry, std=1.0):
    """The carry with Gaussian params: the init zeroes the heads, which makes every search
    policy alike and every value cross-entropy log(2S + 1) whatever its target."""
    return carry.replace(agent=carry.agent.replace(params=_random_params(carry.agent.params,
                                                                         std)))


RECORD = MuZeroConfig(total_steps=16, num_envs=3, env_steps_per_iteration=8,
                      updates_per_iteration=1, batch_size=4, num_simulations=7, unroll_steps=2,
                      td_steps=2,
                      buffer_size=16, support_size=10, hidden_sizes=(8,), latent_size=8,
                      dirichlet_fraction=0.0, temperatures=(0.0, 0.0, 0.0), eval_episodes=2,
                      eval_max_steps=12)


def test_the_replay_records_what_was_acted_on_at_the_same_index():
    """Index t of the replay holds the observation acted on at t, the action taken there, the
    reward and end flags of that transition, and the search's policy and root value at that
    observation (recomputed here from the same params: without root noise the search is
    deterministic). The env is stepped by hand with the recorded actions as the oracle."""
    env, env_params = CATCH
    # Catch ends by termination after 9 steps; a 5-step time limit truncates every episode
    # instead, so the record's truncation flags and final values are exercised.
    env_params = env_params.replace(max_steps_in_episode=5)
    trainer = make_trainer(RECORD, env, env_params)
    hparams = trainer.default_hparams
    carry0 = _random_heads(jax.jit(trainer.init)(jax.random.key(3), hparams))
    carry1, _ = jax.jit(trainer.step)(carry0, hparams)
    f = RECORD.env_steps_per_iteration
    assert (np.asarray(carry1.replay.size) == f).all()
    assert (np.asarray(carry1.replay.position) == f).all()
    data = jax.tree.map(lambda x: np.asarray(x)[:, :f], carry1.replay.data)  # written columns
    assert len({tuple(p) for p in data.policy.reshape(-1, 3)}) > 3  # the searches differ

    nets = mz_agent.make_networks(RECORD.hidden_sizes, RECORD.latent_size, RECORD.support_size,
                                  env.observation_space(env_params).shape,
                                  int(env.action_space(env_params).n))
    act = jax.jit(mz_agent.make_act(RECORD, nets, 3), static_argnums=5)
    params = carry0.agent.params  # the updates come after the rollout: all F searches used it
    _, policy, value = act(params, jnp.asarray(data.obs.reshape(-1, *data.obs.shape[2:])),
                           jax.random.key(9), hparams, jnp.float32(0.0), False)
    np.testing.assert_allclose(np.asarray(policy).reshape(data.policy.shape), data.policy,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(value).reshape(data.search_value.shape),
                               data.search_value, rtol=1e-5, atol=1e-6)
    # temperature 0: the action taken is a most visited one
    visits = data.policy[np.arange(3)[:, None], np.arange(f), data.action]
    np.testing.assert_array_equal(visits, data.policy.max(-1))

    step = jax.jit(env.step)
    value_of = jax.jit(lambda o: mz_agent.logits_to_scalar(
        nets.predict(params, nets.represent(params, o[None]))[1], RECORD.support_size)[0])
    checked, truncations = 0, 0
    for e in range(RECORD.num_envs):
        state = jax.tree.map(lambda x, e=e: x[e], carry0.env_state)
        np.testing.assert_array_equal(data.obs[e, 0], np.asarray(carry0.obs[e]))
        for t in range(f):
            obs, state, reward, terminated, truncated, info = step(
                jax.random.key(0), state, jnp.int32(data.action[e, t]), env_params)
            assert data.reward[e, t] == float(reward), (e, t)
            assert data.terminated[e, t] == bool(terminated)
            assert data.truncated[e, t] == bool(truncated & ~terminated)
            # the bootstrap of a truncation: the value of the true final observation
            np.testing.assert_allclose(data.final_value[e, t],
                                       value_of(info["final_observation"]), rtol=1e-5,
                                       atol=1e-6)
            checked += 1
            if terminated | truncated:  # the next start is drawn by the trainer's key
                truncations += int(truncated & ~terminated)
                break
            nxt = data.obs[e, t + 1] if t + 1 < f else np.asarray(carry1.obs[e])
            np.testing.assert_array_equal(nxt, np.asarray(obs), err_msg=(e, t))
    assert checked >= 12 and truncations == RECORD.num_envs


def test_explore_false_is_deterministic_and_noise_changes_the_search():
    env, env_params = CATCH
    config = dataclasses.replace(RECORD, dirichlet_fraction=0.5, temperatures=(1.0, 1.0, 1.0))
    nets = mz_agent.make_networks(config.hidden_sizes, config.latent_size, config.support_size,
                                  env.observation_space(env_params).shape, 3)
    act = jax.jit(mz_agent.make_act(config, nets, 3), static_argnums=5)
    params = nets.init(jax.random.key(0))
    obs = jnp.stack([env.reset(k, env_params)[0] for k in jax.random.split(jax.random.key(1), 16)])
    hp = config.hparams()
    keys = jax.random.split(jax.random.key(2), 4)
    greedy = [act(params, obs, k, hp, jnp.float32(1.0), False) for k in keys]
    noisy = [act(params, obs, k, hp, jnp.float32(1.0), True) for k in keys]
    for a, p, _ in greedy[1:]:  # no noise, no sampling: the same search and action every key
        np.testing.assert_array_equal(a, greedy[0][0])
        np.testing.assert_array_equal(p, greedy[0][1])
    a0, p0, _ = greedy[0]
    np.testing.assert_array_equal(np.asarray(p0)[np.arange(16), np.asarray(a0)],
                                  np.asarray(p0).max(-1))
    assert any(not np.array_equal(p, noisy[0][1]) for _, p, _ in noisy[1:])  # root noise
    assert any(not np.array_equal(a, noisy[0][0]) for a, _, _ in noisy[1:])  # sampled actions


def test_one_simulation_backs_up_reward_plus_discounted_value():
    """One pUCT simulation from the root: the root value becomes the mean of the root's own
    estimate and the one backed-up return, (v(h) + r + discount * v(g(h, a))) / 2, with the
    networks' reward and value and the hparams' discount (hand-worked, as in mctx)."""
    env, env_params = CATCH
    config = dataclasses.replace(RECORD, num_simulations=1)
    nets = mz_agent.make_networks(config.hidden_sizes, config.latent_size, config.support_size,
                                  env.observation_space(env_params).shape, 3)
    params = _random_params(nets.init(jax.random.key(0)), 0.5)
    act = jax.jit(mz_agent.make_act(config, nets, 3), static_argnums=5)
    obs = jnp.stack([env.reset(k, env_params)[0] for k in jax.random.split(jax.random.key(1), 4)])
    support = config.support_size

    @jax.jit
    def oracle(action, discount):
        hidden = nets.represent(params, obs)
        v0 = mz_agent.logits_to_scalar(nets.predict(params, hidden)[1], support)
        nxt, reward_logits = nets.dynamics(params, hidden, action)
        v1 = mz_agent.logits_to_scalar(nets.predict(params, nxt)[1], support)
        return (v0 + mz_agent.logits_to_scalar(reward_logits, support) + discount * v1) / 2

    for discount in (0.5, 0.9):
        hp = config.hparams().replace(gamma=jnp.float32(discount))
        _, policy, value = act(params, obs, jax.random.key(2), hp, jnp.float32(0.0), False)
        action = jnp.argmax(policy, -1)                   # the one visited child
        np.testing.assert_array_equal(np.asarray(policy).max(-1), 1.0)
        np.testing.assert_allclose(value, oracle(action, discount), rtol=1e-5, atol=1e-6)


def test_temperature_schedule_by_training_progress():
    config = dataclasses.replace(RECORD, total_steps=100, temperatures=(1.0, 0.5, 0.25))
    steps = jnp.array([0, 49, 50, 74, 75, 99])
    np.testing.assert_array_equal(mz_train._temperature(config, steps),
                                  [1.0, 1.0, 0.5, 0.5, 0.25, 0.25])


def test_self_play_samples_at_the_scheduled_temperature(monkeypatch):
    """The temperature that self-play hands the search is the schedule's at the env step."""
    seen = []
    real = mz_agent.make_act

    def spy_make_act(config, nets, num_actions, search=None):
        act = real(config, nets, num_actions, search)

        def wrapped(params, obs, key, hparams, temperature, explore):
            jax.debug.callback(lambda t, x: seen.append((float(t), bool(x))), temperature,
                               explore)
            return act(params, obs, key, hparams, temperature, explore)
        return wrapped

    monkeypatch.setattr(mz_agent, "make_act", spy_make_act)
    config = dataclasses.replace(RECORD, total_steps=8, env_steps_per_iteration=8,
                                 temperatures=(0.7, 0.3, 0.1))
    trainer = make_trainer(config, *CATCH)
    carry = trainer.init(jax.random.key(0), trainer.default_hparams)
    jax.block_until_ready(jax.jit(trainer.step)(carry, trainer.default_hparams))
    np.testing.assert_allclose([t for t, _ in seen], [0.7] * 4 + [0.3] * 2 + [0.1] * 2,
                               rtol=1e-6)
    assert all(explore for _, explore in seen)


def test_the_trainer_weights_the_value_loss_by_the_hparam():
    trainer = make_trainer(RECORD, *CATCH)
    carry = _random_heads(jax.jit(trainer.init)(jax.random.key(0), trainer.default_hparams),
                          std=0.3)
    step = jax.jit(trainer.step)
    for weight in (0.25, 3.0):
        hp = trainer.default_hparams.replace(value_loss_weight=jnp.float32(weight))
        _, m = step(carry, hp)
        np.testing.assert_allclose(m["muzero/loss"], weight * m["muzero/value_loss"]
                                   + m["muzero/reward_loss"] + m["muzero/policy_loss"], rtol=1e-5)
        assert float(m["muzero/value_loss"][0]) > 1e-3


@pytest.mark.parametrize("bootstrap,calls", [("network", 1), ("search", 0)])
def test_the_trainer_bootstraps_from_the_networks_when_asked(monkeypatch, bootstrap, calls):
    traced = []
    real = mz_agent.network_values
    monkeypatch.setattr(mz_agent, "network_values",
                        lambda *a, **k: traced.append(1) or real(*a, **k))
    trainer = make_trainer(dataclasses.replace(RECORD, value_bootstrap=bootstrap), *CATCH)
    carry = jax.eval_shape(trainer.init, jax.random.key(0), trainer.default_hparams)
    jax.eval_shape(trainer.step, carry, trainer.default_hparams)
    assert len(traced) == calls


def test_network_bootstrap_replaces_the_stored_search_values_in_the_targets():
    """Under value_bootstrap="network" the loss no longer depends on the stored search values
    (positions n..n+K are recomputed); under "search" it does."""
    for bootstrap, depends in (("network", False), ("search", True)):
        # 32 windows: some bootstrap from the first iteration's (shifted) columns
        trainer = make_trainer(dataclasses.replace(RECORD, value_bootstrap=bootstrap,
                                                   batch_size=32), *CATCH)
        hp = trainer.default_hparams
        carry = _random_heads(jax.jit(trainer.init)(jax.random.key(0), hp), std=0.3)
        carry, _ = jax.jit(trainer.step)(carry, hp)
        shifted = carry.replace(replay=carry.replay.replace(data=carry.replay.data._replace(
            search_value=carry.replay.data.search_value + 5.0)))
        _, m1 = jax.jit(trainer.step)(carry, hp)
        _, m2 = jax.jit(trainer.step)(shifted, hp)
        assert (float(m1["muzero/value_loss"][0])
                != float(m2["muzero/value_loss"][0])) == depends, bootstrap


# ---- config refusals and the support check -------------------------------------------------

def test_rollout_longer_than_the_replay_is_refused():
    config = dataclasses.replace(RECORD, env_steps_per_iteration=20, buffer_size=16, total_steps=40)
    with pytest.raises(ConfigError) as err:
        make_trainer(config, *CATCH)
    assert err.value.field == "env_steps_per_iteration"


def test_a_support_too_small_for_the_returns_warns_with_the_size_that_fits():
    cartpole = envs.make("CartPole-v1")  # 500 steps of reward 1
    # h^-1(10) is about 117: at discount 0.99 returns reach 99 (fits), at 0.997 they reach 259
    with warnings.catch_warnings():
        warnings.simplefilter("error", SupportWarning)
        make_trainer(dataclasses.replace(RECORD, gamma=0.99), *cartpole)
    with pytest.warns(SupportWarning, match=r"reach 259.*support_size 16 holds them"):
        make_trainer(dataclasses.replace(RECORD, gamma=0.997), *cartpole)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SupportWarning)
        make_trainer(dataclasses.replace(RECORD, gamma=0.997, support_size=16), *cartpole)
    # a sweep's discounts are checked too (the driver calls check_hparams on concrete values)
    trainer = make_trainer(dataclasses.replace(RECORD, gamma=0.99), *cartpole)
    with pytest.warns(SupportWarning):
        trainer.check_hparams(trainer.default_hparams.replace(
            gamma=jnp.array([0.9, 0.997], jnp.float32)))
    with pytest.raises(ConfigError, match="gamma"):  # the range: validate(), run first
        trainer.default_hparams.replace(gamma=jnp.float32(1.5)).validate()
