"""Checks at the public entry points, shared by every algorithm and model.

Each public function (a `make_*`, `train`, `run_chunked`, a model's `fit`/`predict`/`rollout`)
checks what it receives before any array math, so a wrong input raises a named error that says
what to change instead of a NaN table or a broadcasting error deep inside flax:

- static properties (shapes, config integers) are checked always, also under `jax.jit`, where
  shapes are known while tracing;
- values (hyperparameters in range, action indices, finite data) are checked only when they are
  concrete, i.e. outside any `jit`/`vmap`/`scan` trace. Under a user's own `jit` the values are
  tracers and cannot be inspected without a host round trip; check them before the compiled call
  (or keep the checks that the functions return, such as `FitInfo.finite`).

Errors: `ConfigError` (a config or hyperparameter value; `.field` names it) and `InputError` (an
argument's shape or contents; `.argument` names the argument and the message names the config
field it must agree with).
"""

from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core.errors import ConfigError, InputError

INT32_MAX = 2**31 - 1
"""Step counters and loop lengths are int32 inside JAX programs: counts must stay below this."""


def is_concrete(tree: Any) -> bool:
    """True when no leaf of `tree` is a tracer (values can be read on the host)."""
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def as_arrays(tree: Any) -> Any:
    """Every leaf of `tree` as a JAX array: numpy arrays, lists and Python scalars are accepted
    wherever arrays are (indexing a numpy array with a tracer fails inside `jit`)."""
    return jax.tree.map(jnp.asarray, tree)


def check_int(field: str, value: Any, minimum: int = 0, maximum: int = INT32_MAX) -> int:
    """`value` must be a Python/numpy integer (not a bool) in `[minimum, maximum]`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(field, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(field, f"must be >= {minimum}, got {value}; use a value >= {minimum}")
    if value > maximum:
        raise ConfigError(field, f"must be <= {maximum:,} (counters are int32 inside JAX), "
                                 f"got {value:,}; use a smaller value")
    return int(value)


def check_range(field: str, value: Any, low: float, high: float,
                low_open: bool = False, high_open: bool = False) -> None:
    """Every element of `value` (a scalar or all values of a sweep) finite and within the
    interval. Tracers are skipped (see the module docstring)."""
    if not is_concrete(value):
        return
    value = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        raise ConfigError(field, f"must be a finite number, got {_show(value)}")
    bad = ((value <= low) if low_open else (value < low)) | (
        (value >= high) if high_open else (value > high))
    if np.any(bad):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(field, f"must be in {interval}, got {_show(value[bad])}; "
                                 f"set {field} in that range")


def _show(value: np.ndarray) -> str:
    flat = value.reshape(-1)
    if flat.size == 1:
        return str(flat[0])
    return f"{flat[:5].tolist()}{' ...' if flat.size > 5 else ''}"


def check_shape(argument: str, x: Any, shape: tuple, meaning: str) -> None:
    """`x` must have `shape` (None = any size on that axis). `meaning` spells the expected shape
    with the config fields it comes from, e.g. "[B, obs_dim=3]". Uses chex; raises InputError."""
    try:
        chex.assert_shape(x, shape)
    except AssertionError:
        raise InputError(argument, f"expected shape {meaning}, got {tuple(np.shape(x))}") from None


def check_rank(argument: str, x: Any, rank: int, meaning: str) -> None:
    """`x` must have `rank` axes; raises InputError naming the expected shape."""
    try:
        chex.assert_rank(x, rank)
    except AssertionError:
        raise InputError(argument, f"expected shape {meaning}, got {tuple(np.shape(x))}") from None


def check_index_range(argument: str, x: Any, size: int, field: str) -> None:
    """Concrete integer indices (discrete actions, table rows) must lie in `[0, size)`."""
    if not is_concrete(x):
        return
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise InputError(argument, f"expected integer indices for {field}={size}, "
                                       f"got non-integral values such as {_show(x[x % 1 != 0])}")
    bad = (x < 0) | (x >= size)
    if np.any(bad):
        raise InputError(argument, f"must be in [0, {field}={size}), got {_show(x[bad])}")


def first_nonfinite_row(argument_arrays: dict[str, Any], num_rows: int) -> tuple[str, int] | None:
    """For concrete arrays with a leading row axis, the (name, row) of the first non-finite value
    among the first `num_rows` rows, or None."""
    first = None
    for name, x in argument_arrays.items():
        x = np.asarray(x)[:num_rows]
        if not np.issubdtype(x.dtype, np.floating):
            continue
        bad = ~np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            if first is None or row < first[1]:
                first = (name, row)
    return first


__all__ = [
    "INT32_MAX",
    "as_arrays",
    "check_index_range",
    "check_int",
    "check_range",
    "check_rank",
    "check_shape",
    "first_nonfinite_row",
    "is_concrete",
]
