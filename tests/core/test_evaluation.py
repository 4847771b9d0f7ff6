import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax import envs
from mbrl_jax.core.evaluation import evaluate_policy


def test_returns_sum_rewards_of_the_first_episode_only():
    # CartPole gives +1 per step until the pole falls: the return equals the episode length, and
    # steps after the first end (auto-reset episodes) are not counted.
    env, params = envs.make("CartPole-v1")
    result = jax.jit(lambda k: evaluate_policy(env, params, lambda o, k: jnp.int32(0), k,
                                               num_episodes=4, max_steps=60))(jax.random.key(0))
    assert result.ended.all()
    np.testing.assert_allclose(result.return_, result.length.astype(np.float32))
    assert (result.length < 60).all() and (result.length >= 8).all()


def test_episodes_cut_at_max_steps_are_flagged():
    env, params = envs.make("Pendulum-v1")  # 200-step time limit, never terminates
    result = evaluate_policy(env, params, lambda o, k: jnp.zeros((1,)), jax.random.key(1),
                             num_episodes=3, max_steps=50)
    assert not result.ended.any() and (result.length == 50).all()
    assert (result.return_ < 0).all()


def test_an_episode_ends_at_its_time_limit():
    # Pendulum never terminates: only its time limit (truncation) can end an episode. With the
    # limit at 30 and 50 evaluation steps every episode ends after exactly 30 steps; ignoring
    # truncation would count 50 steps (and the next episode's rewards).
    env, params = envs.make("Pendulum-v1")
    params = params.replace(max_steps_in_episode=30)
    result = jax.jit(lambda k: evaluate_policy(env, params, lambda o, k: jnp.zeros((1,)), k,
                                               num_episodes=3, max_steps=50))(jax.random.key(1))
    assert result.ended.all()
    np.testing.assert_array_equal(result.length, 30)


def test_a_recurrent_policy_threads_its_carry_and_starts_each_episode_afresh():
    # The policy's carry counts the steps since its episode began (reset where is_first); its
    # action is +2 for the first 5 steps, -2 after. Oracle: the same episodes stepped by hand with
    # a_t = +2 if t < 5 else -2 from the same reset keys. A carry not reset at the first step
    # (it starts at 100) or not threaded through the steps would act differently.
    env, params = envs.make("Pendulum-v1")
    params = params.replace(max_steps_in_episode=30)

    def policy(count, obs, is_first, key):
        count = jnp.where(is_first, 0, count + 1)
        return count, jnp.where(count < 5, 2.0, -2.0)[None]

    key = jax.random.key(3)
    result = jax.jit(lambda k: evaluate_policy(env, params, policy, k, num_episodes=2,
                                               max_steps=40, initial_carry=jnp.int32(100)))(key)
    reset_keys = jax.random.split(jax.random.split(key)[0], 2)
    for i in range(2):
        obs, state = env.reset(reset_keys[i], params)
        total = 0.0
        for t in range(30):
            action = jnp.array([2.0 if t < 5 else -2.0])
            obs, state, reward, _, _, _ = env.step(jax.random.key(0), state, action, params)
            total += float(reward)
        np.testing.assert_allclose(result.return_[i], total, rtol=1e-5)
    np.testing.assert_array_equal(result.length, 30)
