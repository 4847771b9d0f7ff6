"""The run driver: a training run as `init` + a per-iteration `step`, compiled as one `lax.scan`
(`train(key)`), or run in compiled chunks over the same carry with host-side progress between them.

An algorithm provides a `Trainer`; `make_train_fn` turns it into `train(key, hparams=None)`, and
`run_chunked` runs many seeds of it (`jit(vmap(...))`) chunk by chunk. Both consume the same
per-step randomness from the carry, so they give identical results.

Iterations. One `step` is one *iteration* of the algorithm, made of `env_steps_per_iteration` (F)
env steps and whatever periodic work is due once per iteration (a model refit, a batch of
gradient updates). Periodic work therefore runs exactly when due: under `vmap`, a `lax.cond` on a
step counter becomes a `select` that would run both branches every step. Metrics stay per env step:
every metric leaf a `step` returns has a leading `[F]` axis, for every F including 1, and the
driver flattens iterations x F into env steps (a per-iteration quantity such as a loss is
broadcast over its F env steps by the algorithm). The env leaves (`ENV_METRICS`: "reward",
"done", "terminated") are `[F, num_envs]`, also for one env (Dyna's num_envs is 1), so every
run's episodes are read the same way. A leaf without those axes is refused when the run is
traced (`MetricsShapeError`), so no algorithm can fold its statistics over the wrong axes.

Evaluation. With `eval_every=N` env steps (a multiple of F, so K = N / F iterations; every
count in the driver's API is in env steps) the driver runs `trainer.evaluate` after every K
iterations inside the compiled program, as a nested loop (K iterations, then one evaluation),
never a per-step `cond`. Its metrics are their own stream, one row per evaluation. The
evaluation keys come from a stream of their own (`RunState.eval_key`), so training is identical
with and without evaluation.

The driver's state. `RunState(carry, eval_key, iteration)` is everything a run needs to continue:
`run_chunked` hands it to `on_chunk` after every chunk (for checkpoints) and accepts it back as
`start` to resume, with results identical to an uninterrupted run.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core import validation
from mbrl_jax.core.errors import ConfigError, MbrlJaxError
from mbrl_jax.core.evaluation import EvalResult
from mbrl_jax.driver.finite import check_finite
from mbrl_jax.driver.sharding import SeedSharding, to_host

Carry = Any
HParams = Any
Metrics = dict[str, jax.Array]
# The driver's own metric keys: per env step of every parallel env, `[F, num_envs]` in one step's
# metrics (so `[T, num_envs]` per seed after the driver flattens); "reward" and "done" are
# required, "terminated" optional. Every other key carries its algorithm's scope (`scoped`).
ENV_METRICS = ("reward", "done", "terminated")


def scoped(scope: str, metrics: Metrics) -> Metrics:
    """`{"critic_loss": x}` -> `{"sac/critic_loss": x}`: an algorithm's own metric keys carry its
    scope (`sac/`, `model/`, `dreamer/`, ...) so two sources in one run cannot collide; the
    driver's keys (`ENV_METRICS`) stay unscoped."""
    return {f"{scope}/{k}": v for k, v in metrics.items()}


class Trainer(NamedTuple):
    """A training run as pure functions.

    init: (key, hparams) -> carry.
    step: (carry, hparams) -> (carry, metrics), one iteration (for Dyna: one env step). Every
      metric leaf is `[F, ...]`, one row per env step of the iteration (F =
      env_steps_per_iteration, also when F = 1).
    result: carry -> the final state handed back to users.
    num_iterations: iterations in a whole run.
    default_hparams: the sweepable hyperparameters used when none are given: a pytree of arrays
      with a `validate()` method raising `ConfigError` on a value out of range (every
      algorithm's `...HParams`; `core.types.EmptyHParams()` for an algorithm without any).
    env_steps_per_iteration: F, env steps (per seed, per parallel env) taken by one `step`.
    evaluate: optional `(carry, hparams, key) -> core.evaluation.EvalResult`: the current policy
      acting greedily or deterministically on fresh eval envs (`core.evaluation.evaluate_policy`
      returns one); pure, called by the driver between iterations, which records
      `EvalResult.metrics()` ("return", "length", "ended", extra).
    check_hparams: optional `hparams -> None`, checks beyond `hparams.validate()` that need the
      env or the config (e.g. MuZero's value support). The driver runs `validate()` then this on
      every value of a sweep: `run_chunked` always, `train` when the hparams it gets are concrete
      (not traced by a user's `jit`/`vmap`, where values cannot be read).
    """

    init: Callable[[jax.Array, HParams], Carry]
    step: Callable[[Carry, HParams], tuple[Carry, Metrics]]
    result: Callable[[Carry], Any]
    num_iterations: int
    default_hparams: HParams
    env_steps_per_iteration: int = 1
    evaluate: Callable[[Carry, HParams, jax.Array], EvalResult] | None = None
    check_hparams: Callable[[HParams], Any] | None = None

    @property
    def num_env_steps(self) -> int:
        """Env steps of a whole run: `num_iterations * env_steps_per_iteration`."""
        return self.num_iterations * self.env_steps_per_iteration


class MetricsShapeError(MbrlJaxError, ValueError):
    """A trainer's `step` returned a metric leaf without its leading `[F]` axis, or an env
    metric (`ENV_METRICS`) that is not `[F, num_envs]`."""


def check_step_metrics(trainer: Trainer, metrics: Metrics) -> None:
    """Raise `MetricsShapeError` unless every leaf of one `step`'s metrics is `[F, ...]` and the
    env metrics ("reward", "done", "terminated") are `[F, num_envs]`."""
    f = trainer.env_steps_per_iteration
    for path, leaf in jax.tree_util.tree_leaves_with_path(metrics):
        shape = jnp.shape(leaf)
        if not shape or shape[0] != f:
            raise MetricsShapeError(
                f"metric {jax.tree_util.keystr(path)} of one step has shape {shape}; every "
                f"metric leaf must have a leading axis of env_steps_per_iteration = {f} (one row "
                "per env step, also when it is 1)")
    for key in ENV_METRICS:
        if key in metrics and jnp.ndim(metrics[key]) != 2:
            raise MetricsShapeError(
                f"env metric {key!r} of one step has shape {jnp.shape(metrics[key])}; it must be "
                f"[env_steps_per_iteration, num_envs] = [{f}, N] (N = 1 for a single env)")


def scan_steps(trainer: Trainer, carry: Carry, hparams: HParams, length: int):
    """Run `length` iterations of `trainer.step` as one `lax.scan`.

    Returns `(carry, metrics)` with metric leaves `[length * F, ...]`, one row per env step.
    Raises `MetricsShapeError` (when traced) if a step's metric leaf lacks its `[F]` axis.
    """
    def one(c, _):
        c, metrics = trainer.step(c, hparams)
        check_step_metrics(trainer, metrics)
        return c, metrics

    carry, metrics = jax.lax.scan(one, carry, None, length=length)
    return carry, jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), metrics)


class RunState(NamedTuple):
    """What the driver carries for one seed (leading seed axis when batched).

    carry: the trainer's carry; eval_key: the key stream of evaluations; iteration: int32
    iterations done.
    """

    carry: Carry
    eval_key: jax.Array
    iteration: jax.Array


_EVAL_STREAM = 0x65766C  # fold_in constant separating evaluation keys from the trainer's


def init_run_state(trainer: Trainer, key: jax.Array, hparams: HParams) -> RunState:
    """One seed's starting `RunState`; `trainer.init` receives `key` itself."""
    return RunState(trainer.init(key, hparams), jax.random.fold_in(key, _EVAL_STREAM),
                    jnp.int32(0))


def run_iterations(trainer: Trainer, state: RunState, hparams: HParams, length: int,
                   eval_every: int | None):
    """`length` iterations of one seed, evaluating after every `eval_every` of them.

    Returns `(state, metrics, eval_metrics)`: metric leaves `[length * F, ...]`, eval leaves
    `[length // eval_every, ...]` (an empty dict without evaluation). Evaluations fall on
    multiples of `eval_every` counted from `state.iteration`, so callers keep chunk starts on them.
    """
    if not eval_every:
        carry, metrics = scan_steps(trainer, state.carry, hparams, length)
        return RunState(carry, state.eval_key, state.iteration + length), metrics, {}
    blocks, tail = divmod(length, eval_every)

    def block(state, _):
        carry, metrics = scan_steps(trainer, state.carry, hparams, eval_every)
        eval_key, key = jax.random.split(state.eval_key)
        evaluation = _eval_record(trainer.evaluate(carry, hparams, key))
        return RunState(carry, eval_key, state.iteration + eval_every), (metrics, evaluation)

    state, (metrics, evaluation) = jax.lax.scan(block, state, None, length=blocks)
    metrics = jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), metrics)
    if tail:
        carry, rest = scan_steps(trainer, state.carry, hparams, tail)
        state = RunState(carry, state.eval_key, state.iteration + tail)
        metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), metrics, rest)
    return state, metrics, evaluation


def _eval_record(result: EvalResult) -> Metrics:
    """The stored form of one evaluation; a TypeError for anything but an `EvalResult`."""
    if not isinstance(result, EvalResult):
        raise TypeError(f"Trainer.evaluate must return a core.evaluation.EvalResult (return_, "
                        f"length, ended, extra), got {type(result).__name__}")
    return result.metrics()


def _eval_iterations(trainer: Trainer, eval_every: int | None) -> int | None:
    """`eval_every` (env steps, a positive multiple of F) as iterations; ConfigError otherwise."""
    if eval_every is None:
        return None
    if trainer.evaluate is None:
        raise ConfigError("eval_every", "is set but this trainer has no `evaluate`")
    per_iter = trainer.env_steps_per_iteration
    if isinstance(eval_every, bool) or not isinstance(eval_every, int | np.integer) \
            or eval_every <= 0 or eval_every % per_iter:
        raise ConfigError("eval_every", f"must be a positive multiple of "
                                        f"env_steps_per_iteration={per_iter} env steps, got "
                                        f"{eval_every!r}")
    return int(eval_every) // per_iter


class TrainOutput(NamedTuple):
    """What a whole run returns (leading seed axis under `vmap`).

    state: `trainer.result` of the final carry (the trained agent).
    metrics: per env step, leaves `[T, ...]` with T = `trainer.num_env_steps`.
    eval_metrics: per evaluation, leaves `[T // eval_every, ...]` (e.g. "return"
      `[evaluations, episodes]`); `{}` when the run does not evaluate.
    """

    state: Any
    metrics: Metrics
    eval_metrics: Metrics


def make_train_fn(trainer: Trainer, eval_every: int | None = None
                  ) -> Callable[..., TrainOutput]:
    """`train(key, hparams=None) -> TrainOutput(state, metrics, eval_metrics)`; the whole run
    is one `lax.scan`.

    Pure and jit/vmap-able: `state, metrics, _ = jax.jit(jax.vmap(train))(keys)`. With
    `eval_every=N` (env steps, a multiple of `trainer.env_steps_per_iteration`) it evaluates
    after every N env steps into `eval_metrics` (else `{}`): one return type either way.
    Hyperparameters passed concretely are checked (`hparams.validate()`, then
    `trainer.check_hparams`); traced ones are not (check a sweep before vmapping over it:
    `hparams.validate()`).
    """
    eval_every = _eval_iterations(trainer, eval_every)

    def train(key: jax.Array, hparams: HParams = None):
        if hparams is None:
            hparams = trainer.default_hparams
        else:
            _check_concrete_hparams(trainer, hparams)
        state = init_run_state(trainer, key, hparams)
        state, metrics, evaluation = run_iterations(trainer, state, hparams,
                                                    trainer.num_iterations, eval_every)
        return TrainOutput(trainer.result(state.carry), metrics, evaluation)

    return train


def _check_concrete_hparams(trainer: Trainer, hparams: HParams) -> None:
    if not callable(getattr(hparams, "validate", None)):
        raise TypeError(f"hparams must have a validate() method (an algorithm's HParams, or "
                        f"core.types.EmptyHParams()), got {type(hparams).__name__}")
    if validation.is_concrete(hparams):
        hparams.validate()
        if trainer.check_hparams is not None:
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


class Chunk(NamedTuple):
    """What `on_chunk` receives after each compiled chunk.

    env_steps: env steps per seed done so far. metrics: this chunk's metrics as numpy, each
    `[num_seeds, chunk env steps, ...]`. eval_metrics: this chunk's evaluations, each
    `[num_seeds, evaluations, ...]` (empty without evaluation). eval_steps: the env step of each
    of those evaluations. state: the `RunState` of all seeds (device arrays). It is donated to
    the next chunk: save or copy it inside the callback, never keep a reference.
    """

    env_steps: int
    metrics: dict[str, np.ndarray]
    eval_metrics: dict[str, np.ndarray]
    eval_steps: np.ndarray
    state: RunState


class ChunkedResult(NamedTuple):
    state: Any             # final state, leading axis = seeds
    metrics: dict[str, np.ndarray]  # each [num_seeds, env steps run, ...]; {} if not kept
    compile_seconds: float  # first chunk's compile (and, if needed, the last chunk's)
    run_seconds: float      # wall time of the compiled chunks
    eval_metrics: dict[str, np.ndarray] = {}  # each [num_seeds, evaluations, ...]
    eval_steps: np.ndarray = np.zeros(0, np.int64)  # env step of each evaluation


def chunk_iterations_for(trainer: Trainer, chunk_steps: int, eval_every: int | None) -> int:
    """Iterations per chunk: `chunk_steps` rounded down to whole iterations (at least one), and
    to a multiple of `eval_every` so evaluations fall on the same iterations in every chunking."""
    if chunk_steps <= 0:
        raise ValueError(f"chunk_steps must be positive, got {chunk_steps}")
    iterations = max(1, chunk_steps // trainer.env_steps_per_iteration)
    if eval_every:
        iterations = max(eval_every, iterations - iterations % eval_every)
    return iterations


def run_chunked(
    trainer: Trainer,
    keys: jax.Array,
    hparams: HParams = None,
    chunk_steps: int = 1000,
    on_chunk: Callable[[Chunk], None] | None = None,
    *,
    eval_every: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    start: RunState | None = None,
    keep_metrics: bool = True,
    check_finite_values: bool = False,
    stop: Callable[[], bool] | None = None,
) -> ChunkedResult:
    """Run `trainer` for all `keys` at once (vmapped), in compiled chunks of `chunk_steps`.

    Args:
      trainer: the run.
      keys: [num_seeds] PRNG keys.
      hparams: None (defaults), one shared pytree of scalars, or a pytree whose leaves are
        [num_seeds] (a sweep, one value per seed).
      chunk_steps: env steps per compiled chunk, rounded down to whole iterations (at least one,
        and to a multiple of `eval_every`); the last chunk may be shorter.
      on_chunk: host callback after each chunk with a `Chunk` (progress, logging, checkpoints).
      eval_every: run `trainer.evaluate` after every this many env steps, a multiple of
        `trainer.env_steps_per_iteration` (None: never).
      devices: split the seed axis over these devices (see `core.sharding`); None: default device.
      start: a `RunState` of all seeds to continue from (e.g. a restored checkpoint); the run
        goes on from its iteration to `trainer.num_iterations`.
      keep_metrics: keep every chunk's per-step metrics for the result (False for runs whose
        per-step metrics do not fit in host memory: `on_chunk` sees each chunk, once).
      check_finite_values: after each chunk (before `on_chunk`), raise `NonFiniteError` naming the
        step, seed and quantity if a float metric or carry leaf is NaN or infinite.
      stop: polled after each chunk (after `on_chunk`); True ends the run there (e.g. Ctrl-C).

    Returns:
      ChunkedResult; identical state and metrics to `jax.vmap(make_train_fn(trainer))(keys, hp)`.
      `metrics` and `eval_metrics` cover the env steps run by this call (from `start`).
    """
    eval_every = _eval_iterations(trainer, eval_every)  # iterations from here on
    per_iter = trainer.env_steps_per_iteration
    chunk_iterations = chunk_iterations_for(trainer, chunk_steps, eval_every)
    num_seeds = keys.shape[0]
    hparams = trainer.default_hparams if hparams is None else hparams
    _check_concrete_hparams(trainer, hparams)
    hp_axes = _hparam_axes(hparams, num_seeds)
    place = SeedSharding(devices, num_seeds)
    hparams = place.put(hparams, batched=hp_axes == 0)

    def chunk(state, hp, length):
        return jax.vmap(lambda s, h: run_iterations(trainer, s, h, length, eval_every),
                        in_axes=(0, hp_axes))(state, hp)

    chunk = jax.jit(chunk, static_argnames="length", donate_argnums=0, **place.jit_kwargs())

    compile_s, run_s = 0.0, 0.0
    t0 = time.perf_counter()
    if start is None:
        init = jax.jit(jax.vmap(lambda k, h: init_run_state(trainer, k, h), in_axes=(0, hp_axes)),
                       **place.jit_kwargs())
        state = jax.block_until_ready(init(place.put(keys), hparams))
    else:
        state = place.put(start)
    compile_s += time.perf_counter() - t0
    done = int(np.asarray(to_host(state.iteration))[0])
    if eval_every and done % eval_every:
        raise ValueError(f"cannot resume at iteration {done}: not a multiple of eval_every "
                         f"({eval_every})")
    collected: dict[str, list[np.ndarray]] = {}
    collected_eval: dict[str, list[np.ndarray]] = {}
    eval_steps: list[np.ndarray] = []
    compiled = {}
    while done < trainer.num_iterations:
        length = min(chunk_iterations, trainer.num_iterations - done)
        if length not in compiled:  # at most two programs: full chunks and a shorter last one
            t0 = time.perf_counter()
            compiled[length] = chunk.lower(state, hparams, length=length).compile()
            compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        state, metrics, evaluation = compiled[length](state, hparams)
        metrics, evaluation = to_host((metrics, evaluation))  # blocks until the chunk is done
        run_s += time.perf_counter() - t0
        steps = (done + eval_every * np.arange(1, length // eval_every + 1)) * per_iter \
            if eval_every else np.zeros(0, np.int64)
        if check_finite_values:
            check_finite(done * per_iter, metrics, evaluation, steps, state.carry)
        done += length
        if keep_metrics:
            for name, value in metrics.items():
                collected.setdefault(name, []).append(value)
        for name, value in evaluation.items():
            collected_eval.setdefault(name, []).append(value)
        eval_steps.append(steps)
        if on_chunk is not None:
            on_chunk(Chunk(done * per_iter, metrics, evaluation, steps, state))
        if stop is not None and stop():
            break
    stacked = {k: np.concatenate(v, axis=1) for k, v in collected.items()}
    stacked_eval = {k: np.concatenate(v, axis=1) for k, v in collected_eval.items()}
    steps = np.concatenate(eval_steps) if eval_steps else np.zeros(0, np.int64)
    return ChunkedResult(jax.vmap(trainer.result)(state.carry), stacked, compile_s, run_s,
                         stacked_eval, steps)
