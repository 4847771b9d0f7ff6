"""Action distributions. The one module that imports distrax (see REFERENCES.md: a bad
tfp-nightly has broken `import distrax` before; keeping it here makes that a one-line fix)."""

import distrax
import jax
import jax.numpy as jnp


def epsilon_greedy(preferences: jax.Array, epsilon: jax.Array) -> distrax.EpsilonGreedy:
    """Epsilon-greedy over the last axis of `preferences` [..., A].

    With probability 1 - epsilon the greedy action, ties broken uniformly at random; otherwise a
    uniformly random action.
    """
    return distrax.EpsilonGreedy(preferences, epsilon)


def squashed_gaussian(mean: jax.Array, log_std: jax.Array) -> distrax.Distribution:
    """tanh-squashed diagonal Gaussian on (-1, 1)^A: `tanh(x)`, `x ~ N(mean, exp(log_std)^2)`.

    mean, log_std: [..., A]; the event is the last axis, so `log_prob` and
    `sample_and_log_prob` return `[...]`. The log-density includes the change of variables,
    `log N(x) - sum_i log(1 - tanh(x_i)^2)` (Haarnoja et al. 2018, appendix C), through distrax's
    numerically stable `Tanh` bijector. Sampling is reparameterised (differentiable in mean and
    log_std).
    """
    base = distrax.MultivariateNormalDiag(mean, jnp.exp(log_std))
    return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))
