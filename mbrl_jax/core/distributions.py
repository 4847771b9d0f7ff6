"""Action distributions. The one module that imports distrax: distrax 0.1.x depends on an
unpinned `tfp-nightly`, and a nightly incompatible with the installed JAX has broken
`import distrax` before; keeping the import here makes that a one-line fix."""

import distrax
import jax


def epsilon_greedy(preferences: jax.Array, epsilon: jax.Array) -> distrax.EpsilonGreedy:
    """Epsilon-greedy over the last axis of `preferences` [..., A].

    With probability 1 - epsilon the greedy action, ties broken uniformly at random; otherwise a
    uniformly random action.
    """
    return distrax.EpsilonGreedy(preferences, epsilon)
