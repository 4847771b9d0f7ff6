"""The compiled run driver: the `Trainer` contract, chunked/vmapped/sharded runs (`loop`), runs in
a folder with checkpoints and exact resume (`run`, `checkpoint`), memory planning, finiteness
checks and hyperparameter grids (`sweep`). No printing or signal handling: the CLI does that."""

from mbrl_jax.driver.loop import (
    ENV_METRICS,
    Chunk,
    ChunkedResult,
    RunState,
    Trainer,
    TrainOutput,
    init_run_state,
    make_train_fn,
    run_chunked,
    scan_steps,
    scoped,
)

__all__ = ["ENV_METRICS", "Chunk", "ChunkedResult", "RunState", "TrainOutput", "Trainer",
           "init_run_state", "make_train_fn", "run_chunked", "scan_steps", "scoped"]
