"""The agent's optimisers: DreamerV3's 2023 Adam settings (epsilon 1e-8 for the world model,
1e-5 for actor and critic), checked on the first Adam step by hand. The losses' numpy oracles are
in test_dreamer_oracles.py."""

import jax.numpy as jnp
import numpy as np

from mbrl_jax.dreamer import DreamerConfig, make_agent

CONFIG = DreamerConfig(deter_size=8, stoch_groups=2, stoch_classes=4, hidden_size=8,
                       num_layers=1, num_bins=15, horizon=3, model_lr=1.0, actor_lr=1.0,
                       critic_lr=1.0)


def _first_step(opt, g):
    params = {"w": jnp.zeros((2,), jnp.float32)}
    updates, _ = opt.update({"w": g}, opt.init(params), params)
    return np.asarray(updates["w"])


def test_first_adam_step_uses_each_parts_epsilon():
    # Adam's first step is -lr * g / (|g| + eps) (bias-corrected m = g, sqrt(v) = |g|).
    # g = 1e-6 (far below every clip): eps 1e-5 gives -1e-6 / 1.1e-5 = -0.0909...,
    # eps 1e-8 gives -1e-6 / 1.01e-6 = -0.990...; g = 1 is unaffected by either (-1).
    agent = make_agent(CONFIG, (3,), 2, True)
    g = jnp.array([1e-6, 1.0], jnp.float32)
    damped = [-1e-6 / 1.1e-5, -1.0 / (1.0 + 1e-5)]
    np.testing.assert_allclose(_first_step(agent.actor_opt, g), damped, rtol=1e-4)
    np.testing.assert_allclose(_first_step(agent.critic_opt, g), damped, rtol=1e-4)
    np.testing.assert_allclose(_first_step(agent.model_opt, g), [-1e-6 / 1.01e-6, -1.0],
                               rtol=1e-4)
