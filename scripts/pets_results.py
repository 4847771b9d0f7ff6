"""PETS learning curves: greedy evaluation return against env steps, several seeds at once.

    python scripts/pets_results.py --preset pendulum          # Pendulum-v1, 3k env steps
    python scripts/pets_results.py --preset mountaincar       # MountainCarContinuous-v0
    [--seeds 5] [--out DIR] [--write-results] [--set FIELD=VALUE ...]

`--set` overrides a field of the preset's `PETSConfig` (a Python literal, e.g.
`--set total_steps=1000 --set num_particles=10`), for shortened or exploratory runs.

All seeds train as one vmapped program (`driver.run_chunked`), one chunk per evaluation; after
every `eval_every` env steps each seed's current ensemble and planner play `eval_episodes`
episodes (no warm-up, no random actions) inside the compiled program. Writes JSON and a PNG into
scripts/runs/ (ignored by git), the committed scripts/results/ with --write-results, or --out DIR.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import add_results_option, add_set_option, results_dir, set_overrides  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.driver.loop import run_chunked  # noqa: E402
from mbrl_jax.pets import PETSConfig, default_model, make_trainer  # noqa: E402
from mbrl_jax.planning import CEMConfig  # noqa: E402
from mbrl_jax.stats.plotting import plot_curves  # noqa: E402
from mbrl_jax.stats.provenance import write_json  # noqa: E402

# MountainCarContinuous: a sparse goal 100 steps or more away, episodes of 999 steps. A longer
# horizon and more random warm-up (which rarely reaches the goal) than Pendulum.
MOUNTAIN_CAR = PETSConfig(
    total_steps=6_000, env_steps_per_iteration=500, warmup_steps=1_000,
    cem=CEMConfig(horizon=50, population_size=100, num_elites=10, num_iterations=3),
    model=default_model(1, 1, max_epochs=20))
PRESETS = {  # name: (env id, config, eval every (env steps), target mean return, within steps)
    "pendulum": ("Pendulum-v1", PETSConfig.pendulum(), 500, -200.0, 3_000),
    "mountaincar": ("MountainCarContinuous-v0", MOUNTAIN_CAR, 1_000, 90.0, 6_000),
}


def run(preset: str, num_seeds: int, seed: int = 0, overrides: dict | None = None):
    env_id, config, eval_every, target, budget = PRESETS[preset]
    config = dataclasses.replace(config, **(overrides or {}))
    eval_every = min(eval_every, config.total_steps)
    env, env_params = envs.make(env_id)
    trainer = make_trainer(config, env, env_params)
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    t0 = time.perf_counter()
    steps, returns, wall = [], [], []

    def on_chunk(chunk):
        for i, step in enumerate(chunk.eval_steps):
            ret = chunk.eval_metrics["return"][:, i].mean(axis=1)  # [seeds]
            steps.append(int(step))
            returns.append(ret.tolist())
            wall.append(time.perf_counter() - t0)
            mse = chunk.metrics["model/holdout_mse"][:, -1]
            print(f"pets {preset}: {step:>6d} env steps  greedy return {ret.mean():8.1f} "
                  f"(min {ret.min():.1f}, max {ret.max():.1f})  model holdout mse "
                  f"{mse.mean():.4f}  {wall[-1]:.0f}s", flush=True)

    result = run_chunked(trainer, keys, chunk_steps=eval_every, on_chunk=on_chunk,
                         eval_every=eval_every, keep_metrics=False)
    returns_arr = np.array(returns).T  # [seeds, evaluations]
    mean = returns_arr.mean(axis=0)
    hits = np.flatnonzero(mean >= target)
    reached = int(steps[hits[0]]) if len(hits) else None
    return {
        "preset": preset, "env": env_id, "config": dataclasses.asdict(config),
        "seeds": num_seeds, "eval_episodes": config.eval_episodes, "env_steps": steps,
        "greedy_return": returns_arr.tolist(), "greedy_return_mean": mean.tolist(),
        "greedy_return_std": returns_arr.std(0).tolist(),
        "greedy_return_min": returns_arr.min(0).tolist(), "wall_seconds": wall,
        "compile_seconds": result.compile_seconds, "target": target,
        "target_within_env_steps": budget, "first_env_steps_mean_at_target": reached,
        "met_target": reached is not None and reached <= budget,
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), action="append",
                        help="repeatable; default: pendulum")
    parser.add_argument("--seeds", type=int, default=5)
    add_results_option(parser)
    add_set_option(parser, "PETSConfig")
    args = parser.parse_args()
    overrides = set_overrides(args.set)
    out = results_dir(args)
    for preset in args.preset or ["pendulum"]:
        result = run(preset, args.seeds, overrides=overrides)
        write_json(out / f"pets_{preset}.json", result)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        plot_curves(ax, {f"PETS {preset}": np.array(result["greedy_return"])},
                    x=np.array(result["env_steps"]), xlabel="env steps",
                    ylabel="greedy return", title=f"{result['env']} ({result['seeds']} seeds, "
                    f"{result['wall_seconds'][-1]:.0f} s on {result['backend']})")
        ax.axhline(result["target"], color="gray", ls="--", lw=1)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / f"pets_{preset}.png", dpi=120)
        plt.close(fig)
        print(f"wrote {out / f'pets_{preset}'}.json/.png; met target: {result['met_target']}")


if __name__ == "__main__":
    main()
