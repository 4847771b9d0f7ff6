"""The run driver: a training run as `init` + a per-iteration `step`, compiled as one `lax.scan`
(`train(key)`), or run in compiled chunks over the same carry with host-side progress between them.

An algorithm provides a `Trainer`; `make_train_fn` turns it into `train(key, hparams=None)`, and
`run_chunked` runs many seeds of it (`jit(vmap(...))`) chunk by chunk. Both consume the same
per-step randomness from the carry, so they give identical results.

Iterations. One `step` is one *iteration* of the algorithm, made of `env_steps_per_iteration` (F)
env steps and whatever periodic work is due once per iteration (a model refit, a batch of
gradient updates). Periodic work therefore runs exactly when due: under `vmap`, a `lax.cond` on a
step counter becomes a `select` that would run both branches every step. Metrics stay per env step:
with F > 1 every metric leaf a `step` returns has a leading `[F]` axis and the driver flattens
iterations x F into env steps (a per-iteration quantity such as a loss is broadcast over its F
env steps by the algorithm); with F = 1 leaves carry no such axis.
"""

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core import validation

Carry = Any
HParams = Any
Metrics = dict[str, jax.Array]


class Trainer(NamedTuple):
    """A training run as pure functions.

    init: (key, hparams) -> carry.
    step: (carry, hparams) -> (carry, metrics), one iteration (for Dyna: one env step). Metric
      leaves are `[F, ...]` per env step of the iteration when F = env_steps_per_iteration > 1.
    result: carry -> the final state handed back to users.
    num_iterations: iterations in a whole run.
    default_hparams: the sweepable-hyperparameter pytree used when none is given.
    env_steps_per_iteration: F, env steps (per seed, per parallel env) taken by one `step`.
    evaluate: optional `(carry, hparams, key) -> metrics`: the current policy acting greedily or
      deterministically on fresh eval envs (see `core.evaluation.evaluate_policy`), e.g.
      `{"return": [num_episodes]}`; pure, called by the driver between iterations.
    check_hparams: optional `hparams -> None` raising `ConfigError` on values out of range (every
      value of a sweep). `run_chunked` always calls it; `train` calls it when the hparams it gets
      are concrete (not traced by a user's `jit`/`vmap`, where values cannot be read).
    """

    init: Callable[[jax.Array, HParams], Carry]
    step: Callable[[Carry, HParams], tuple[Carry, Metrics]]
    result: Callable[[Carry], Any]
    num_iterations: int
    default_hparams: HParams
    env_steps_per_iteration: int = 1
    evaluate: Callable[[Carry, HParams, jax.Array], Metrics] | None = None
    check_hparams: Callable[[HParams], Any] | None = None

    @property
    def num_env_steps(self) -> int:
        """Env steps of a whole run: `num_iterations * env_steps_per_iteration`."""
        return self.num_iterations * self.env_steps_per_iteration


def scan_steps(trainer: Trainer, carry: Carry, hparams: HParams, length: int):
    """Run `length` iterations of `trainer.step` as one `lax.scan`.

    Returns `(carry, metrics)` with metric leaves `[length * F, ...]`, one row per env step.
    """
    carry, metrics = jax.lax.scan(lambda c, _: trainer.step(c, hparams), carry, None,
                                  length=length)
    if trainer.env_steps_per_iteration > 1:
        metrics = jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), metrics)
    return carry, metrics


def make_train_fn(trainer: Trainer) -> Callable[..., tuple[Any, Metrics]]:
    """`train(key, hparams=None) -> (final_state, metrics)`; the whole run is one `lax.scan`.

    Pure and jit/vmap-able: `jax.jit(jax.vmap(train))(jax.random.split(key, 64))`. Hyperparameters
    passed concretely are checked (`trainer.check_hparams`); traced ones are not (check a sweep
    before vmapping over it, e.g. `DynaHParams.validate()`).
    """

    def train(key: jax.Array, hparams: HParams = None):
        if hparams is None:
            hparams = trainer.default_hparams
        else:
            _check_concrete_hparams(trainer, hparams)
        carry = trainer.init(key, hparams)
        carry, metrics = scan_steps(trainer, carry, hparams, trainer.num_iterations)
        return trainer.result(carry), metrics

    return train


def _check_concrete_hparams(trainer: Trainer, hparams: HParams) -> None:
    if trainer.check_hparams is not None and validation.is_concrete(hparams):
        trainer.check_hparams(hparams)


def _hparam_axes(hparams: HParams, num_seeds: int):
    """vmap axes for hparams: None for shared scalars, 0 for leaves batched over seeds."""
    leaves = jax.tree.leaves(hparams)
    if all(jnp.ndim(x) == 0 for x in leaves):
        return None
    for x in leaves:
        if jnp.ndim(x) == 0 or jnp.shape(x)[0] != num_seeds:
            raise ValueError(
                f"swept hyperparameters must all have a leading axis of {num_seeds} (one value per "
                f"seed); got a leaf of shape {jnp.shape(x)}"
            )
    return 0


class ChunkedResult(NamedTuple):
    state: Any             # final state, leading axis = seeds
    metrics: dict[str, np.ndarray]  # each [num_seeds, num_env_steps, ...]
    compile_seconds: float  # first chunk's compile (and, if needed, the last chunk's)
    run_seconds: float      # wall time of the compiled chunks


def run_chunked(
    trainer: Trainer,
    keys: jax.Array,
    hparams: HParams = None,
    chunk_steps: int = 1000,
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
) -> ChunkedResult:
    """Run `trainer` for all `keys` at once (vmapped), in compiled chunks of `chunk_steps`.

    Args:
      trainer: the run.
      keys: [num_seeds] PRNG keys.
      hparams: None (defaults), one shared pytree of scalars, or a pytree whose leaves are
        [num_seeds] (a sweep, one value per seed).
      chunk_steps: env steps per compiled chunk, rounded down to whole iterations (at least one);
        the last chunk may be shorter.
      on_chunk: host callback after each chunk with (env_steps_done, that chunk's metrics as
        numpy, each [num_seeds, chunk env steps, ...]): progress bars, logging, checkpoints.

    Returns:
      ChunkedResult; identical state and metrics to `jax.vmap(make_train_fn(trainer))(keys, hp)`.
    """
    if chunk_steps <= 0:
        raise ValueError(f"chunk_steps must be positive, got {chunk_steps}")
    per_iter = trainer.env_steps_per_iteration
    chunk_iterations = max(1, chunk_steps // per_iter)
    num_seeds = keys.shape[0]
    hparams = trainer.default_hparams if hparams is None else hparams
    _check_concrete_hparams(trainer, hparams)
    hp_axes = _hparam_axes(hparams, num_seeds)

    init = jax.jit(jax.vmap(trainer.init, in_axes=(0, hp_axes)))

    def chunk(carry, hp, length):
        return jax.vmap(lambda c, h: scan_steps(trainer, c, h, length), in_axes=(0, hp_axes))(
            carry, hp)

    chunk = jax.jit(chunk, static_argnames="length", donate_argnums=0)

    compile_s, run_s = 0.0, 0.0
    t0 = time.perf_counter()
    carry = jax.block_until_ready(init(keys, hparams))
    compile_s += time.perf_counter() - t0
    collected: dict[str, list[np.ndarray]] = {}
    done, compiled = 0, {}
    while done < trainer.num_iterations:
        length = min(chunk_iterations, trainer.num_iterations - done)
        if length not in compiled:  # at most two programs: full chunks and a shorter last one
            t0 = time.perf_counter()
            compiled[length] = chunk.lower(carry, hparams, length=length).compile()
            compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        carry, metrics = compiled[length](carry, hparams)
        metrics = jax.tree.map(np.asarray, metrics)  # blocks until the chunk is done
        run_s += time.perf_counter() - t0
        done += length
        for name, value in metrics.items():
            collected.setdefault(name, []).append(value)
        if on_chunk is not None:
            on_chunk(done * per_iter, metrics)
    stacked = {k: np.concatenate(v, axis=1) for k, v in collected.items()}
    return ChunkedResult(jax.vmap(trainer.result)(carry), stacked, compile_s, run_s)
