"""Action distributions. The one module that imports distrax (see REFERENCES.md: a bad
tfp-nightly has broken `import distrax` before; keeping it here makes that a one-line fix)."""

import distrax
import jax


def epsilon_greedy(preferences: jax.Array, epsilon: jax.Array) -> distrax.EpsilonGreedy:
    """Epsilon-greedy over the last axis of `preferences` [..., A].

    With probability 1 - epsilon the greedy action, ties broken uniformly at random; otherwise a
    uniformly random action.
    """
    return distrax.EpsilonGreedy(preferences, epsilon)


def categorical(logits: jax.Array) -> distrax.Categorical:
    """Categorical over the last axis of `logits` [..., A]."""
    return distrax.Categorical(logits=logits)


def normal(loc: jax.Array, scale: jax.Array) -> distrax.Normal:
    """Independent normals of the same shape as `loc` and `scale`."""
    return distrax.Normal(loc, scale)
