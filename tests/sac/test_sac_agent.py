"""SAC's pieces against numpy oracles on a tiny network: the squashed-Gaussian log-density, the
critic, actor and temperature losses, the temperature's direction, Polyak arithmetic, action
bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import tree_equal

from mbrl_jax.core.distributions import squashed_gaussian
from mbrl_jax.core.types import Transition
from mbrl_jax.sac import SACConfig, losses, make_agent

TINY = SACConfig(hidden_sizes=(3,), batch_size=4)
OBS_DIM, LOW, HIGH = 2, np.array([-2.0, 0.0]), np.array([2.0, 1.0])
B = 4


def np_mlp(variables, x):
    """Numpy forward pass of core.networks.MLP with relu hidden layers."""
    p = jax.tree.map(np.asarray, variables["params"])
    h = x
    for i in range(len([k for k in p if k.startswith("hidden_")])):
        h = np.maximum(h @ p[f"hidden_{i}"]["kernel"] + p[f"hidden_{i}"]["bias"], 0.0)
    return h @ p["output"]["kernel"] + p["output"]["bias"]


def np_actor(params, obs):
    out = np_mlp(params, obs)
    mean, log_std = np.split(out, 2, axis=-1)
    return mean, np.clip(log_std, TINY.log_std_min, TINY.log_std_max)


def np_critics(params, obs, unit_action):
    x = np.concatenate([obs, unit_action], -1)
    return np.stack([np_mlp(jax.tree.map(lambda v, j=j: np.asarray(v)[j], params), x)[..., 0]
                     for j in range(2)])                                     # [2, B]


def np_squashed_sample(mean, log_std, eps):
    """Reparameterised sample and log-density: u = tanh(m + s eps),
    log p(u) = sum_i [log N(x_i; m_i, s_i) - log(1 - tanh(x_i)^2)]."""
    std = np.exp(log_std)
    x = mean + std * eps
    log_normal = -0.5 * eps ** 2 - log_std - 0.5 * np.log(2 * np.pi)
    return np.tanh(x), np.sum(log_normal - np.log(1 - np.tanh(x) ** 2), axis=-1)


def gaussian_noise(key, shape):
    # distrax's MultivariateNormalDiag draws loc + scale * normal(key); checked below by comparing
    # its samples with this noise, so the oracle does not trust it blindly.
    return np.asarray(jax.random.normal(key, shape), np.float64)


@pytest.fixture(scope="module")
def setup():
    agent = make_agent(TINY, OBS_DIM, LOW, HIGH)
    state = jax.jit(agent.init)(jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = Transition(
        obs=rng.normal(size=(B, OBS_DIM)).astype(np.float32),
        action=rng.uniform(LOW, HIGH, size=(B, 2)).astype(np.float32),
        reward=rng.normal(size=B).astype(np.float32),
        next_obs=rng.normal(size=(B, OBS_DIM)).astype(np.float32),
        done=np.array([False, True, False, False]))
    return agent, state, batch, jax.jit(agent.update)


def test_squashed_gaussian_log_prob_matches_formula():
    mean = np.array([[0.3, -1.2], [2.0, 0.1]])
    log_std = np.array([[-0.5, 0.4], [0.0, -2.0]])
    u = np.array([[0.5, -0.9], [0.99, 0.2]])
    x = np.arctanh(u)
    std = np.exp(log_std)
    # change of variables: log N(atanh u) - log |d tanh/dx| = ... - log(1 - u^2)
    expected = np.sum(-0.5 * ((x - mean) / std) ** 2 - log_std - 0.5 * np.log(2 * np.pi)
                      - np.log(1 - u ** 2), axis=-1)
    dist = squashed_gaussian(jnp.asarray(mean, jnp.float32), jnp.asarray(log_std, jnp.float32))
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(u, jnp.float32)), expected, rtol=2e-4)
    key = jax.random.key(5)
    sample, logp = dist.sample_and_log_prob(seed=key)
    oracle_u, oracle_logp = np_squashed_sample(mean, log_std, gaussian_noise(key, mean.shape))
    np.testing.assert_allclose(sample, oracle_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logp, oracle_logp, rtol=1e-4)


def test_critic_loss_matches_numpy(setup):
    agent, state, batch, update = setup
    nets, key, alpha, gamma = agent.networks, jax.random.key(1), 0.7, 0.9
    # perturb targets so online and target critics differ
    target = jax.tree.map(lambda p: p * 1.1 + 0.05, state.critic_params)
    unit_a = (batch.action - (HIGH + LOW) / 2) / ((HIGH - LOW) / 2)
    loss, q = losses.critic_loss(state.critic_params, target, state.actor_params, nets,
                                 batch.obs, jnp.asarray(unit_a, jnp.float32), batch.reward,
                                 batch.next_obs, batch.done, key, alpha, gamma)
    mean, log_std = np_actor(state.actor_params, batch.next_obs)
    u_next, logp_next = np_squashed_sample(mean, log_std, gaussian_noise(key, mean.shape))
    q_next = np_critics(target, batch.next_obs, u_next).min(0)
    y = batch.reward + gamma * (1 - batch.done) * (q_next - alpha * logp_next)
    q_np = np_critics(state.critic_params, batch.obs, unit_a)
    expected = 0.5 * ((q_np - y) ** 2).mean(axis=1).sum()
    np.testing.assert_allclose(q, q_np, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, expected, rtol=1e-4)


def test_actor_and_temperature_losses_match_numpy(setup):
    agent, state, batch, update = setup
    key, alpha = jax.random.key(2), 0.3
    loss, logp = losses.actor_loss(state.actor_params, state.critic_params, agent.networks,
                                   batch.obs, key, alpha)
    mean, log_std = np_actor(state.actor_params, batch.obs)
    u, logp_np = np_squashed_sample(mean, log_std, gaussian_noise(key, mean.shape))
    q = np_critics(state.critic_params, batch.obs, u).min(0)
    np.testing.assert_allclose(logp, logp_np, rtol=1e-4)
    np.testing.assert_allclose(loss, np.mean(alpha * logp_np - q), rtol=1e-4)
    # temperature: -log_alpha * (mean log pi + target); log_alpha = log 0.5, target -2
    t_loss = losses.temperature_loss(jnp.log(0.5), logp, -2.0)
    np.testing.assert_allclose(t_loss, -np.log(0.5) * (logp_np.mean() - 2.0), rtol=1e-4)


@pytest.mark.parametrize("log_std_bias, rises", [(-10.0, True), (0.0, False)])
def test_temperature_rises_when_entropy_is_below_target(setup, log_std_bias, rises):
    # Target entropy -|A| = -2 nats. With log-std about -10 the 2-d policy's entropy is about
    # 2 * (-10 + 1.42) = -17 nats (below target); with log-std about 0 it is above -2 nats.
    agent, state, batch, update = setup
    p = state.actor_params["params"]
    bias = p["output"]["bias"].at[2:].set(log_std_bias)        # output = [mean (2), log_std (2)]
    kernel = p["output"]["kernel"].at[:, 2:].set(0.0)
    params = {"params": {**p, "output": {"bias": bias, "kernel": kernel}}}
    state = state.replace(actor_params=params)
    new, metrics = update(state, batch, jax.random.key(3), TINY.hparams())
    assert (float(metrics["entropy"]) < agent.target_entropy) == rises
    # Adam's first step moves log_alpha by (almost exactly) alpha_lr against the gradient sign
    step = float(new.log_alpha - state.log_alpha)
    np.testing.assert_allclose(abs(step), TINY.alpha_lr, rtol=1e-3)
    assert (step > 0) == rises


@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_polyak_update_arithmetic(setup, tau):
    agent, state, batch, update = setup
    old_target = jax.tree.map(lambda p: p + 1.0, state.critic_params)
    state = state.replace(target_critic_params=old_target)
    hp = TINY.hparams().replace(tau=jnp.float32(tau))
    new, _ = update(state, batch, jax.random.key(4), hp)
    expected = jax.tree.map(lambda c, t: tau * np.asarray(c) + (1 - tau) * np.asarray(t),
                            new.critic_params, old_target)
    for got, want in zip(jax.tree.leaves(new.target_critic_params), jax.tree.leaves(expected),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not tree_equal(new.critic_params, state.critic_params)
    assert int(new.num_updates) == 1


def test_update_is_one_adam_step_per_network(setup):
    # Adam's first step is -lr * g / (|g| + eps): every parameter moves by at most lr, and the
    # parameters with a gradient above 1e-6 in size move by about exactly lr.
    agent, state, batch, update = setup
    hp = TINY.hparams().replace(critic_lr=jnp.float32(1e-2), actor_lr=jnp.float32(2e-3))
    new, _ = update(state, batch, jax.random.key(6), hp)
    for name, lr in (("critic_params", 1e-2), ("actor_params", 2e-3)):
        moved = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel() for a, b in zip(
            jax.tree.leaves(getattr(new, name)), jax.tree.leaves(getattr(state, name)),
            strict=True)])
        assert moved.max() <= lr * 1.001
        assert np.median(moved[moved > 0]) == pytest.approx(lr, rel=1e-2)


def test_act_respects_bounds_and_deterministic_mode(setup):
    agent, state, *_ = setup
    obs = jnp.asarray(np.random.default_rng(1).normal(size=(64, OBS_DIM)) * 5, jnp.float32)
    action = agent.act(state, obs, jax.random.key(0))
    assert action.shape == (64, 2)
    assert np.all(action >= LOW) and np.all(action <= HIGH)
    det = agent.act(state, obs, jax.random.key(0), deterministic=True)
    mean, _ = np_actor(state.actor_params, np.asarray(obs))
    np.testing.assert_allclose(det, (HIGH + LOW) / 2 + (HIGH - LOW) / 2 * np.tanh(mean),
                               rtol=1e-5, atol=1e-6)
    assert agent.act(state, obs[0], jax.random.key(0)).shape == (2,)


def test_update_wires_the_losses_as_sac_prescribes(setup):
    """One update against an oracle assembled from the losses (each pinned to numpy above) and
    optax.adam: critics on env actions mapped to (-1, 1) with alpha = exp(log_alpha) and the
    target critics; then the actor against the *updated* critics; then log-alpha on that
    actor loss's log-probabilities with target entropy -|A|; then Polyak on the targets."""
    agent, state, batch, update = setup
    nets = agent.networks
    target0 = jax.tree.map(lambda p: p * 1.1 + 0.05, state.critic_params)
    state = state.replace(target_critic_params=target0, log_alpha=jnp.float32(np.log(0.3)))
    hp = TINY.hparams().replace(critic_lr=jnp.float32(1e-2), actor_lr=jnp.float32(2e-2),
                                alpha_lr=jnp.float32(5e-2), tau=jnp.float32(0.2))
    key = jax.random.key(7)
    new, metrics = update(state, batch, key, hp)

    critic_key, actor_key = jax.random.split(key)
    unit_a = jnp.asarray((batch.action - (HIGH + LOW) / 2) / ((HIGH - LOW) / 2), jnp.float32)
    alpha = 0.3

    def adam(params, grads, lr):
        tx = optax.adam(lr)
        updates, _ = tx.update(grads, tx.init(params), params)
        return optax.apply_updates(params, updates)

    @jax.jit
    def oracle():
        c_loss, c_grads = jax.value_and_grad(lambda p: losses.critic_loss(
            p, target0, state.actor_params, nets, batch.obs, unit_a, batch.reward,
            batch.next_obs, batch.done, critic_key, alpha, hp.gamma)[0])(state.critic_params)
        critic = adam(state.critic_params, c_grads, hp.critic_lr)
        (a_loss, logp), a_grads = jax.value_and_grad(lambda p: losses.actor_loss(
            p, critic, nets, batch.obs, actor_key, alpha), has_aux=True)(state.actor_params)
        actor = adam(state.actor_params, a_grads, hp.actor_lr)
        t_loss, t_grad = jax.value_and_grad(losses.temperature_loss)(state.log_alpha, logp, -2.0)
        log_alpha = adam(state.log_alpha, t_grad, hp.alpha_lr)
        target = jax.tree.map(lambda c, t: 0.2 * c + 0.8 * t, critic, target0)
        return critic, actor, log_alpha, target, (c_loss, a_loss, t_loss)

    critic, actor, log_alpha, target, (c_loss, a_loss, t_loss) = oracle()
    # Adam's first step is about -lr * sign(g), blind to most wiring slips: the losses are not
    np.testing.assert_allclose(metrics["critic_loss"], c_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["actor_loss"], a_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["alpha_loss"], t_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["alpha"], alpha, rtol=1e-6)
    for got, want in ((new.critic_params, critic), (new.actor_params, actor),
                      (new.log_alpha, log_alpha), (new.target_critic_params, target)):
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert agent.target_entropy == -2.0


def test_actor_log_std_is_clipped_to_the_config_range(setup):
    agent, state, *_ = setup
    p = state.actor_params["params"]
    for bias, want in ((100.0, TINY.log_std_max), (-100.0, TINY.log_std_min)):
        out = {"bias": p["output"]["bias"].at[2:].set(bias),
               "kernel": p["output"]["kernel"].at[:, 2:].set(0.0)}
        _, log_std = agent.networks.actor.apply({"params": {**p, "output": out}},
                                                jnp.zeros((3, OBS_DIM)))
        np.testing.assert_array_equal(log_std, want)
