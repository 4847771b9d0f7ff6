"""Tutorial exercise 1: Dyna-Q on FrozenLake 4x4 (is_slippery=False) with n = 0, 5, 50 planning
steps, 32 seeds each; smoothed reward per episode in one plot. The README's main job.

    python scripts/tutorial_frozenlake.py [--seeds 32] [--steps 3000] [--write-results]

Writes tutorial_frozenlake.{png,json} into scripts/runs/ (git-ignored), or into the committed
scripts/results/ with --write-results, and prints the plot's path.
"""

import argparse

import numpy as np
from common import add_results_option, results_dir, run_seeds, save_json

from mbrl_jax import envs
from mbrl_jax.dyna import DynaConfig
from mbrl_jax.stats.episodes import episode_returns, moving_average, pad_episodes
from mbrl_jax.stats.plotting import save_curves

PLANNING = (0, 5, 50)
SMOOTH = 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000, help="real env steps per seed")
    parser.add_argument("--episodes", type=int, default=200, help="episodes shown in the plot")
    add_results_option(parser)
    args = parser.parse_args()
    out = results_dir(args)

    env, params = envs.make("FrozenLake-misc", is_slippery=False)
    curves, summary = {}, {}
    for n in PLANNING:
        config = DynaConfig(planning_steps=n, total_steps=args.steps)
        _, metrics, seconds = run_seeds(config, env, params, args.seeds)
        returns = episode_returns(metrics["reward"], metrics["done"])
        if min(len(r) for r in returns) < args.episodes:
            raise SystemExit(f"n={n}: a seed finished only {min(len(r) for r in returns)} "
                             f"episodes in {args.steps} steps; raise --steps")
        per_episode = pad_episodes(returns, args.episodes)  # [seeds, episodes]
        curves[f"n = {n}"] = moving_average(per_episode, SMOOTH)
        success = per_episode.mean(axis=0)
        summary[f"n={n}"] = {
            "mean_reward_episodes_1_50": float(per_episode[:, :50].mean()),
            "mean_reward_last_50_episodes": float(per_episode[:, -50:].mean()),
            "std_over_seeds_last_50": float(per_episode[:, -50:].mean(axis=1).std(ddof=1)),
            "first_episode_seed_mean_reward_at_least_0.8": next(
                (int(i) + 1 for i in np.flatnonzero(moving_average(success, SMOOTH) >= 0.8)),
                None),
            "seconds_incl_compile": seconds,
        }
        s = summary[f"n={n}"]
        print(f"n = {n:2d}: reward/episode, episodes 1-50 {s['mean_reward_episodes_1_50']:.2f}"
              f", last 50 {s['mean_reward_last_50_episodes']:.2f} "
              f"({args.seeds} seeds, {seconds:.1f} s)")
    png = save_curves(out / "tutorial_frozenlake.png", curves,
                      xlabel="episode", ylabel=f"reward per episode (moving average of {SMOOTH})",
                      title=f"Dyna-Q on FrozenLake 4x4, not slippery ({args.seeds} seeds, 95% CI)")
    save_json("tutorial_frozenlake", {"seeds": args.seeds, "steps": args.steps,
                                      "episodes": args.episodes, "results": summary}, out)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
