"""Failing loudly: a host check, once per chunk, that metrics and the carry are finite.

Per-step callbacks would unroll under `vmap` and slow every step; instead the driver checks each
chunk's metrics (already on the host) and one jitted reduction of the carry (a bool per leaf and
seed). Off by default in the API (then it costs nothing), on by default in the CLI.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core.errors import MbrlJaxError
from mbrl_jax.driver.sharding import to_host


class NonFiniteError(MbrlJaxError, FloatingPointError):
    """A NaN or infinity in a run. Attributes: step (env step per seed, first one seen for
    metrics; the chunk's last step for the carry), seed (index), quantity (metric or carry path)."""

    def __init__(self, step: int, seed: int, quantity: str, detail: str):
        self.step, self.seed, self.quantity = step, seed, quantity
        super().__init__(f"non-finite {quantity} at env step {step} in seed {seed} ({detail})")


def _first_bad(x: np.ndarray):
    """(seed, time index) of the first non-finite entry of a [S, T, ...] float array, or None."""
    bad = ~np.isfinite(x.reshape(x.shape[0], x.shape[1], -1)).all(axis=2) if x.ndim > 1 else None
    if bad is None or not bad.any():
        return None
    t = int(np.argmax(bad.any(axis=0)))
    return int(np.argmax(bad[:, t])), t


@jax.jit
def _finite_leaves(carry):
    """Per float leaf of a batched carry, [S] bool: all entries of that seed finite."""
    def leaf(x):
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return jnp.ones(x.shape[:1], bool)
        return jnp.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
    return jax.tree.map(leaf, carry)


def check_finite(start_step: int, metrics: dict, eval_metrics: dict, eval_steps: np.ndarray,
                 carry) -> None:
    """Raise `NonFiniteError` for the first non-finite value of a chunk.

    start_step: env steps done before the chunk; metrics: `[S, T, ...]` numpy; eval_metrics:
    `[S, E, ...]` numpy taken at `eval_steps` `[E]`; carry: the batched carry after the chunk.
    """
    for name, value in metrics.items():
        if np.issubdtype(value.dtype, np.inexact) and (hit := _first_bad(value)):
            seed, t = hit
            raise NonFiniteError(start_step + t + 1, seed, f"metric '{name}'",
                                 f"value {value[seed, t]}")
    for name, value in eval_metrics.items():
        if np.issubdtype(value.dtype, np.inexact) and (hit := _first_bad(value)):
            seed, e = hit
            raise NonFiniteError(int(eval_steps[e]), seed, f"evaluation '{name}'",
                                 f"value {value[seed, e]}")
    flags = jax.tree_util.tree_flatten_with_path(
        to_host(_finite_leaves(carry)))[0]
    end = start_step + metrics[next(iter(metrics))].shape[1] if metrics else start_step
    for path, ok in flags:
        if not ok.all():
            seed = int(np.argmin(ok))
            raise NonFiniteError(end, seed, f"state leaf '{jax.tree_util.keystr(path)}'",
                                 "found at the end of the chunk ending here")


__all__ = ["NonFiniteError", "check_finite"]
