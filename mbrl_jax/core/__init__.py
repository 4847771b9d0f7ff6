"""Shared pieces: the run driver (`loop`), replay buffer (`buffer`), networks (`networks`),
episode statistics (`episodes`), plots, distributions and named errors."""

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.loop import (
    Chunk,
    ChunkedResult,
    RunState,
    Trainer,
    init_run_state,
    make_train_fn,
    run_chunked,
    scan_steps,
)

__all__ = ["Chunk", "ChunkedResult", "ConfigError", "RunState", "Trainer", "init_run_state",
           "make_train_fn", "run_chunked", "scan_steps"]
