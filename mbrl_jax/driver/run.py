"""A training run in a folder: streamed logs, checkpoints, exact resume, Ctrl-C, loud failures.

    outcome = run_in_folder(trainer, keys, RunSettings(out=Path("runs/x"), meta={...}))

Writes to `out`: `metrics.jsonl` (one line per chunk, appended as each chunk finishes),
`eval.jsonl` (one line per evaluation, per-seed means), `checkpoints/<env step>/` (orbax, the last
`keep_checkpoints`), `run.json` (status: running, complete, interrupted or failed; env steps;
timings) and, at the end, `metrics.npz` / `eval.npz` with per-step / per-evaluation arrays of every
seed. Used by the CLI; no algorithm logic. It prints nothing and installs no signal handler: what
to show and when to stop come in through `RunHooks` (the CLI's show a progress bar and turn Ctrl-C
into a checkpointed stop).
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from mbrl_jax.core.errors import MbrlJaxError
from mbrl_jax.driver import memory
from mbrl_jax.driver.checkpoint import Checkpointer
from mbrl_jax.driver.finite import NonFiniteError
from mbrl_jax.driver.loop import Chunk, Trainer, chunk_iterations_for, init_run_state, run_chunked
from mbrl_jax.driver.sharding import SeedSharding
from mbrl_jax.stats import report

CHUNK_METRICS_BUDGET = 256 * 2**20  # bytes of per-step metrics per device per chunk


class RunError(MbrlJaxError, RuntimeError):
    """A run that cannot start (memory, a bad resume) or stopped on a non-finite value."""


class RunSetupError(RunError):
    """A run refused before it starts (it cannot fit in memory, a bad resume, seeds the devices
    do not divide): a usage error, which the CLI reports in one line with exit status 2."""


class RunSettings(NamedTuple):
    """out: the run folder. meta: JSON identity saved with checkpoints (algorithm, env, config,
    seeds...). expect: what a resumed checkpoint's meta must match (default: meta).
    chunk_steps: env steps per chunk (None: total/50, at least 100, capped by memory).
    eval_every: env steps between evaluations, a multiple of F (None: none).
    checkpoint_every: env steps between checkpoints (0: every chunk; the last chunk and Ctrl-C
    always save; None: no checkpoints).
    stop_at: end this session at the first chunk end at or past this env step (saving a
    checkpoint there, status "stopped"); `resume` continues it."""

    out: Path
    meta: dict
    expect: dict | None = None
    hparams: Any = None
    chunk_steps: int | None = None
    eval_every: int | None = None
    devices: list | None = None
    checkpoint_every: int | None = 0
    keep_checkpoints: int = 3
    resume: bool = False
    check_finite: bool = True
    host_metrics_budget: int | None = None
    stop_at: int | None = None


def _ignore(*args, **kwargs) -> None:
    return None


def _never() -> bool:
    return False


class RunHooks(NamedTuple):
    """How a run talks to its caller. log: one line of news (the memory plan, a resume).
    on_progress: `(env_steps, record)` after each chunk, `record` its metrics.jsonl line.
    interrupted: polled after each chunk; True saves a checkpoint there and ends the run with
    status "interrupted". The defaults are silent and never interrupt."""

    log: Callable[[str], None] = _ignore
    on_progress: Callable[[int, dict], None] = _ignore
    interrupted: Callable[[], bool] = _never


class RunOutcome(NamedTuple):
    status: str                      # "complete", "interrupted" or "stopped" (stop_at)
    state: Any                       # final result of every seed (trainer.result)
    metrics: dict | None             # [S, T, ...] per-step metrics, None if not kept
    eval_metrics: dict               # [S, E, ...]
    eval_steps: np.ndarray           # [E]
    env_steps: int
    compile_seconds: float
    run_seconds: float               # compiled chunks of this session
    env_steps_per_s: float           # all seeds, this session's compiled chunks
    estimate: memory.MemoryEstimate


def _primary() -> bool:
    """Only process 0 of a multi-host run writes logs (checkpoints are written by all)."""
    return jax.process_index() == 0


def _truncate_jsonl(path: Path, step: int) -> list[dict]:
    if not path.exists() or not _primary():
        return []
    records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    records = [r for r in records if r["step"] <= step]
    report.write_jsonl(path, records)
    return records


def _append_jsonl(path: Path, records: list[dict]) -> None:
    if not _primary():
        return
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def eval_records(chunk: Chunk) -> list[dict]:
    """One line per evaluation: each eval metric's mean over its episodes, per seed."""
    out = []
    for e, step in enumerate(chunk.eval_steps):
        line = {"step": int(step)}
        for name, value in chunk.eval_metrics.items():
            per_seed = value[:, e].reshape(value.shape[0], -1).mean(axis=1).astype(float)
            line[name] = [round(float(v), 6) for v in per_seed]
        out.append(line)
    return out


def chunk_return_per_seed(reward: np.ndarray, done: np.ndarray) -> list:
    from mbrl_jax.stats import episodes

    return [None if len(r) == 0 else float(np.mean(r))
            for r in episodes.episode_returns(reward, done)]


def plan_memory(trainer: Trainer, num_seeds: int, settings: RunSettings):
    """(chunk_steps, keep per-step metrics?, estimate); raises RunError if the run cannot fit."""
    total = trainer.num_env_steps
    chunk = settings.chunk_steps or max(100, total // 50)
    probe = memory.estimate(trainer, num_seeds, 1)
    devices = settings.devices or [jax.devices()[0]]
    per_device_seeds = -(-num_seeds // len(devices))
    if settings.chunk_steps is None and probe.step_metrics_per_seed:
        cap = CHUNK_METRICS_BUDGET // (probe.step_metrics_per_seed * per_device_seeds)
        chunk = max(trainer.env_steps_per_iteration, min(chunk, cap))
    chunk = min(chunk, total)
    eval_iterations = (settings.eval_every // trainer.env_steps_per_iteration
                       if settings.eval_every else None)
    est = probe._replace(chunk_steps=chunk_iterations_for(trainer, chunk, eval_iterations)
                         * trainer.env_steps_per_iteration)
    capacity = memory.device_capacity(devices[0])
    need = est.device_bytes(len(devices))
    if capacity is not None and need > capacity:
        interval = ("" if not settings.eval_every else
                    f"; a chunk holds whole evaluation intervals "
                    f"({settings.eval_every} env steps), so "
                    "also evaluate more often (--eval-every) or not at all (--eval-every 0)")
        raise RunSetupError(f"the run cannot fit: {est.describe(len(devices))}; the device has "
                            f"{memory.fmt_bytes(capacity)} free. Use fewer seeds, more devices "
                            f"(--devices all) or a smaller --chunk-steps{interval}")
    budget = settings.host_metrics_budget
    if budget is None:
        available = memory.host_available() or 0
        budget = min(2 * 2**30, available // 4)
    keep = est.run_metrics_per_seed * num_seeds <= budget
    return chunk, keep, est


def run_in_folder(trainer: Trainer, keys: jax.Array, settings: RunSettings,
                  hooks: RunHooks | None = None) -> RunOutcome:
    """Run (or resume) `trainer` for `keys` into `settings.out`. See the module docstring.

    Raises RunError (memory, resume, non-finite value: the message names step, seed and quantity
    and the last good checkpoint); CheckpointMismatchError for a checkpoint of another run.
    """
    hooks = hooks or RunHooks()
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    num_seeds = keys.shape[0]
    try:
        SeedSharding(settings.devices, num_seeds)
    except ValueError as err:  # a seed count the devices do not divide
        raise RunSetupError(str(err)) from None
    chunk_steps, keep, est = plan_memory(trainer, num_seeds, settings)
    hooks.log(est.describe(len(settings.devices or [None]))
              + ("" if keep else "; per-step metrics are not kept on the host (too large): "
                 "metrics.jsonl and eval.jsonl hold the run's record"))

    ckpt = Checkpointer(out / "checkpoints", settings.keep_checkpoints) \
        if settings.checkpoint_every is not None else None
    start, host, session_base = None, {}, 0.0
    if settings.resume:
        if ckpt is None or ckpt.latest_step() is None:
            raise RunSetupError(f"--resume: no checkpoint in {out / 'checkpoints'}")
        abstract = jax.eval_shape(jax.vmap(
            lambda k: init_run_state(trainer, k, trainer.default_hparams)), keys)
        start, host, saved = ckpt.restore(abstract, settings.expect or settings.meta)
        session_base = saved.get("wall_seconds", 0.0)
        step = saved["step"]
        if step > trainer.num_env_steps:
            raise RunSetupError(f"--resume: the checkpoint is at env step {step}, beyond this "
                                f"run's "
                           f"{trainer.num_env_steps} steps")
        _truncate_jsonl(out / "metrics.jsonl", step)
        _truncate_jsonl(out / "eval.jsonl", step)
        hooks.log(f"resuming from {ckpt.directory / str(step)} (env step {step})")
    else:
        for name in ("metrics.jsonl", "eval.jsonl"):
            (out / name).unlink(missing_ok=True)
    kept = {k[8:]: [v] for k, v in host.items() if k.startswith("metrics/")}
    evals = {k[5:]: [v] for k, v in host.items() if k.startswith("eval/")}
    eval_steps = [host["eval_steps"]] if "eval_steps" in host else []
    if settings.resume and keep and not kept:
        keep = False  # the checkpoint holds no per-step metrics to continue
    first_step = int(host.get("env_steps", 0))

    wall0 = time.perf_counter()
    last_saved, reached = [first_step], [first_step]
    last_good = [ckpt.latest_step() if ckpt and settings.resume else None]

    def status(value: str, env_steps: int, **extra):
        if not _primary():
            return
        (out / "run.json").write_text(json.dumps({
            "status": value, "env_steps": env_steps, "total_env_steps": trainer.num_env_steps,
            "num_seeds": num_seeds, "wall_seconds": round(session_base + time.perf_counter()
                                                         - wall0, 3), **extra}, indent=2) + "\n")

    def on_chunk(chunk: Chunk):
        streams = report.per_stream(chunk.metrics)
        record = report.chunk_record(chunk.env_steps, streams,
                                     session_base + time.perf_counter() - wall0)
        record["return_per_seed"] = chunk_return_per_seed(streams["reward"], streams["done"])
        _append_jsonl(out / "metrics.jsonl", [record])
        if chunk.eval_steps.size:
            _append_jsonl(out / "eval.jsonl", eval_records(chunk))
        if keep:
            for name, value in chunk.metrics.items():
                kept.setdefault(name, []).append(value)
        for name, value in chunk.eval_metrics.items():
            evals.setdefault(name, []).append(value)
        eval_steps.append(chunk.eval_steps)
        reached[0] = chunk.env_steps
        hooks.on_progress(chunk.env_steps, record)
        interrupted[0] = interrupted[0] or hooks.interrupted()
        stopping = settings.stop_at is not None and chunk.env_steps >= settings.stop_at
        due = (settings.checkpoint_every is not None and (
            chunk.env_steps - last_saved[0] >= settings.checkpoint_every
            or chunk.env_steps == trainer.num_env_steps or interrupted[0] or stopping))
        if ckpt is not None and due:
            saved_host = {"env_steps": np.int64(chunk.env_steps)}
            if evals:  # orbax stores no zero-size arrays
                saved_host["eval_steps"] = np.concatenate(eval_steps).astype(np.int64)
                saved_host.update({f"eval/{k}": np.concatenate(v, axis=1)
                                   for k, v in evals.items()})
            saved_host.update({f"metrics/{k}": np.concatenate(v, axis=1)
                               for k, v in kept.items()})
            ckpt.save(chunk.env_steps, chunk.state, saved_host, {
                **settings.meta,
                "wall_seconds": round(session_base + time.perf_counter() - wall0, 3)})
            last_saved[0] = chunk.env_steps
            last_good[0] = chunk.env_steps
        status("running", chunk.env_steps)

    interrupted = [False]
    try:
        result = run_chunked(trainer, keys, settings.hparams, chunk_steps,
                             on_chunk, eval_every=settings.eval_every, devices=settings.devices,
                             start=start, keep_metrics=keep,
                             check_finite_values=settings.check_finite,
                             stop=lambda: interrupted[0] or (
                                 settings.stop_at is not None
                                 and reached[0] >= settings.stop_at))
    except NonFiniteError as err:
        where = (f"last good checkpoint: {ckpt.directory / str(last_good[0])}"
                 if last_good[0] is not None else "no checkpoint was saved before it")
        status("failed", last_saved[0], error=str(err))
        raise RunError(f"{err}; {where}") from None
    finally:
        if ckpt is not None:
            ckpt.close()
    env_steps = reached[0]
    state_status = ("interrupted" if interrupted[0] else
                    "complete" if env_steps >= trainer.num_env_steps else "stopped")
    steps_per_s = num_seeds * (env_steps - first_step) / max(result.run_seconds, 1e-9)
    status(state_status, env_steps, compile_seconds=round(result.compile_seconds, 3),
           run_seconds=round(result.run_seconds, 3), env_steps_per_s=round(steps_per_s, 1))
    metrics = {k: np.concatenate(v, axis=1) for k, v in kept.items()} if keep else None
    eval_metrics = {k: np.concatenate(v, axis=1) for k, v in evals.items()}
    steps = np.concatenate(eval_steps) if eval_steps else np.zeros(0, np.int64)
    if metrics is not None and _primary():
        np.savez_compressed(out / "metrics.npz", **metrics)
    if eval_metrics and _primary():
        np.savez_compressed(out / "eval.npz", steps=steps, **eval_metrics)
    return RunOutcome(state_status, result.state, metrics, eval_metrics, steps, env_steps,
                      result.compile_seconds, result.run_seconds, steps_per_s, est)


__all__ = ["RunError", "RunHooks", "RunOutcome", "RunSettings", "RunSetupError", "plan_memory",
           "run_in_folder"]
