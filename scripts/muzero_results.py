"""MuZero learning curves: greedy evaluation return against env steps, several seeds at once.

    python scripts/muzero_results.py --preset catch            # Catch-bsuite, pUCT, 16 sims
    python scripts/muzero_results.py --preset catch-gumbel4    # Catch-bsuite, Gumbel, 4 sims
    python scripts/muzero_results.py --preset cartpole         # CartPole-v1, 50k env steps
    python scripts/muzero_results.py --preset breakout         # Breakout-MinAtar (conv torso)
    python scripts/muzero_results.py --preset breakout-cpu --seeds 3   # 40k env steps, ~30 min
    python scripts/muzero_results.py --preset cartpole-gpu --preset breakout-gpu --out DIR  # GPU
    [--seeds 5] [--out DIR] [--write-results] [--set FIELD=VALUE ...]

`--set` overrides a field of the preset's `MuZeroConfig` (a Python literal, e.g.
`--set total_steps=1563 --set gamma=0.997`), for shortened or exploratory runs.

All seeds train as one vmapped program in compiled chunks; after every chunk each seed's current
networks play `eval_episodes` greedy episodes (search without noise, most-visited action) inside
the compiled program. Env steps count all parallel envs of a seed. Writes JSON and a PNG into
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
from mbrl_jax.driver import run_chunked  # noqa: E402
from mbrl_jax.muzero import MuZeroConfig, make_trainer  # noqa: E402
from mbrl_jax.stats.plotting import plot_curves  # noqa: E402
from mbrl_jax.stats.provenance import write_json  # noqa: E402

CATCH = MuZeroConfig(total_steps=2496, num_envs=8, env_steps_per_iteration=16,
                     updates_per_iteration=32, batch_size=128, num_simulations=16,
                     value_loss_weight=1.0,
                     buffer_size=1000, eval_episodes=16, eval_max_steps=20)
PRESETS = {  # name: (env id, config, target mean return, target within env steps, chunks)
    "catch": ("Catch-bsuite", CATCH, 0.9, 20_000, 12),
    "catch-gumbel4": ("Catch-bsuite", dataclasses.replace(CATCH, search="gumbel",
                                                          num_simulations=4), 0.9, 20_000, 12),
    # CartPole fails slowly (the cart drifts off the track over hundreds of steps): a long
    # horizon (discount 0.997, 50-step returns) and values bootstrapped from the current networks
    # rather than from the replay's stale search values.
    "cartpole": ("CartPole-v1", MuZeroConfig(
        total_steps=3125, num_envs=16, env_steps_per_iteration=16, updates_per_iteration=32,
        batch_size=256, num_simulations=16, value_loss_weight=1.0, support_size=20,
        buffer_size=2000, gamma=0.997, td_steps=50, value_bootstrap="network",
        eval_episodes=8, eval_max_steps=500), 475.0, 50_000, 10),
    "breakout": ("Breakout-MinAtar", MuZeroConfig(
        total_steps=6250, num_envs=16, env_steps_per_iteration=16, updates_per_iteration=16,
        batch_size=256, num_simulations=16, value_loss_weight=1.0, conv=True,
        hidden_sizes=(128,), latent_size=128, buffer_size=2000, eval_episodes=8,
        eval_max_steps=1000), None, 100_000, 10),
}
# A 2-core CPU variant, 40k env steps per seed: 29 minutes at 3 seeds on the loaded CPU.
PRESETS["breakout-cpu"] = ("Breakout-MinAtar", dataclasses.replace(
    PRESETS["breakout"][1], total_steps=2500, value_bootstrap="network"), None, 40_000, 10)
# Accelerator variants: 4x the parallel envs for the same env-step budget (fewer, wider steps).
for _name in ("cartpole", "breakout"):
    _env, _cfg, _target, _budget, _chunks = PRESETS[_name]
    PRESETS[f"{_name}-gpu"] = (_env, dataclasses.replace(
        _cfg, num_envs=4 * _cfg.num_envs, total_steps=_cfg.total_steps // 4,
        env_steps_per_iteration=8, batch_size=2 * _cfg.batch_size), _target, _budget, _chunks)


def run(preset: str, num_seeds: int, seed: int = 0, overrides: dict | None = None):
    env_id, config, target, budget, num_chunks = PRESETS[preset]
    config = dataclasses.replace(config, **(overrides or {}))
    env, env_params = envs.make(env_id)
    trainer = make_trainer(config, env, env_params)
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    every = max(1, trainer.num_iterations // num_chunks) * config.env_steps_per_iteration
    t0 = time.perf_counter()
    steps, returns, train_returns, wall = [], [], [], []

    def on_chunk(chunk):  # the driver's chunk of `every` env steps per env, then one evaluation
        if not chunk.eval_steps.size:  # a last chunk shorter than `every`: no evaluation
            return
        ret = chunk.eval_metrics["return"][:, -1].mean(axis=1)                   # [seeds]
        reward, finished = chunk.metrics["reward"], chunk.metrics["done"]        # [S, T, N]
        train_returns.append((reward.sum(axis=(1, 2)) / np.maximum(
            finished.sum(axis=(1, 2)), 1)).tolist())
        steps.append(chunk.env_steps * config.num_envs)
        returns.append(ret.tolist())
        wall.append(time.perf_counter() - t0)
        print(f"{preset}: {steps[-1]:>7d} env steps  greedy return {ret.mean():8.3f} "
              f"(min {ret.min():.3f}, max {ret.max():.3f})  {wall[-1]:.0f}s", flush=True)

    run_chunked(trainer, keys, chunk_steps=every, eval_every=every, on_chunk=on_chunk,
                keep_metrics=False)
    returns_arr = np.array(returns).T  # [seeds, points]
    mean = returns_arr.mean(axis=0)
    reached = None
    if target is not None:
        hits = np.flatnonzero(mean >= target)
        reached = int(steps[hits[0]]) if len(hits) else None
    return {
        "preset": preset, "env": env_id, "config": dataclasses.asdict(config),
        "seeds": num_seeds, "env_steps": steps, "greedy_return": returns_arr.tolist(),
        "greedy_return_mean": mean.tolist(), "greedy_return_std": returns_arr.std(0).tolist(),
        "train_return_per_episode": np.array(train_returns).T.tolist(),
        "wall_seconds": wall, "target": target, "target_within_env_steps": budget,
        "first_env_steps_mean_at_target": reached,
        "met_target": reached is not None and reached <= budget,
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), action="append",
                        help="repeatable; default: catch and catch-gumbel4")
    parser.add_argument("--seeds", type=int, default=5)
    add_results_option(parser)
    add_set_option(parser, "MuZeroConfig")
    args = parser.parse_args()
    overrides = set_overrides(args.set)
    out = results_dir(args)
    for preset in args.preset or ["catch", "catch-gumbel4"]:
        result = run(preset, args.seeds, overrides=overrides)
        write_json(out / f"muzero_{preset}.json", result)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        plot_curves(ax, {f"MuZero {preset}": np.array(result["greedy_return"])},
                    x=np.array(result["env_steps"]), xlabel="env steps",
                    ylabel="greedy return", title=f"{result['env']} ({result['seeds']} seeds, "
                    f"{result['wall_seconds'][-1]:.0f} s on {result['backend']})")
        if result["target"] is not None:
            ax.axhline(result["target"], color="gray", ls="--", lw=1)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / f"muzero_{preset}.png", dpi=120)
        plt.close(fig)
        met = result["met_target"] if result["target"] is not None else "no target"
        print(f"wrote {out / f'muzero_{preset}'}.json/.png; met target: {met}")


if __name__ == "__main__":
    main()
