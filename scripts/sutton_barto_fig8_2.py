"""Sutton & Barto (2nd ed.) Figure 8.2: steps per episode of Dyna-Q on the Dyna Maze for
n = 0, 5, 50 planning steps, 30 seeds, alpha 0.1, gamma 0.95, epsilon 0.1, Q0 = 0.

    python scripts/sutton_barto_fig8_2.py [--seeds 30]

The book reports about 25 / 5 / 3 episodes to reach (epsilon-)optimal behaviour. We measure the
first episode from which the seed-mean steps per episode stays within 20% of the plateau (the
mean over episodes 41-50 for n = 50; the shortest path is 14). Writes fig8_2.* into
scripts/runs/ (git-ignored), or the committed scripts/results/ with --write-results.
"""

import argparse

import numpy as np
from common import add_results_option, first_sustained_below, results_dir, run_seeds, save_json

from mbrl_jax import envs
from mbrl_jax.dyna import DynaConfig
from mbrl_jax.stats.episodes import episode_lengths, mean_and_ci, pad_episodes
from mbrl_jax.stats.plotting import figure, plot_curves

PLANNING = (0, 5, 50)
EPISODES = 50
BOOK = {0: 25, 5: 5, 50: 3}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=8000, help="real steps per seed (enough "
                        "for 50 episodes)")
    parser.add_argument("--tolerance", type=float, default=0.2)
    add_results_option(parser)
    args = parser.parse_args()
    out = results_dir(args)

    env, params = envs.make("DynaMaze")
    lengths = {}
    for n in PLANNING:
        config = DynaConfig(planning_steps=n, total_steps=args.steps, alpha=0.1, gamma=0.95,
                            epsilon=0.1)
        _, metrics, seconds = run_seeds(config, env, params, args.seeds)
        per_seed = episode_lengths(metrics["done"])
        if min(len(x) for x in per_seed) < EPISODES:
            raise SystemExit(f"n={n}: a seed finished < {EPISODES} episodes; raise --steps")
        lengths[n] = pad_episodes(per_seed, EPISODES)  # [seeds, 50]
        print(f"n = {n:2d}: first episode {lengths[n][:, 0].mean():.0f} steps, episodes 41-50 "
              f"{lengths[n][:, 40:].mean():.1f} steps ({seconds:.1f} s)")

    plateau = float(lengths[50][:, 40:].mean())
    threshold = (1 + args.tolerance) * plateau
    summary = {}
    for n in PLANNING:
        mean, half = mean_and_ci(lengths[n])
        # spread: the same statistic on seed-mean curves of bootstrap resamples of the seeds
        rng = np.random.default_rng(0)
        boot = [first_sustained_below(lengths[n][rng.integers(0, args.seeds, args.seeds)]
                                      .mean(axis=0), threshold) for _ in range(1000)]
        boot = np.array([EPISODES + 1 if b is None else b for b in boot])
        summary[f"n={n}"] = {
            "episodes_to_near_optimal_seed_mean_curve": first_sustained_below(mean, threshold),
            "book_episodes": BOOK[n],
            "steps_episode_1": float(mean[0]),
            "steps_episode_2": float(mean[1]),
            "steps_episodes_41_50": float(lengths[n][:, 40:].mean()),
            "steps_episodes_41_50_ci95": float(mean_and_ci(lengths[n][:, 40:].mean(1))[1]),
            "steps_per_episode_mean": mean.tolist(),
            "steps_per_episode_ci95": half.tolist(),
            "episodes_to_near_optimal_bootstrap_5_95": np.percentile(boot, [5, 95]).tolist(),
        }
    for n in PLANNING:
        s = summary[f"n={n}"]
        print(f"n = {n:2d}: seed-mean steps/episode within {args.tolerance:.0%} of plateau "
              f"{plateau:.1f} from episode {s['episodes_to_near_optimal_seed_mean_curve']} "
              f"(bootstrap 5-95%: {s['episodes_to_near_optimal_bootstrap_5_95']}) "
              f"(book: about {BOOK[n]})")

    fig, (ax,) = figure()
    episodes_axis = np.arange(2, EPISODES + 1)  # the book's plot starts at episode 2
    plot_curves(ax, {f"{n} planning steps" + (" (direct RL only)" if n == 0 else ""):
                     lengths[n][:, 1:] for n in PLANNING}, x=episodes_axis,
                xlabel="episodes", ylabel="steps per episode",
                title=f"Dyna Maze (Figure 8.2), {args.seeds} seeds, 95% CI")
    ax.axhline(14, color="gray", ls=":", lw=1)
    ax.set_ylim(0, 800)
    fig.tight_layout()
    fig.savefig(out / "fig8_2.png", dpi=120)
    save_json("fig8_2", {"seeds": args.seeds, "steps": args.steps, "plateau": plateau,
                         "tolerance": args.tolerance, "threshold": threshold,
                         "results": summary}, out)
    print(f"plot: {out / 'fig8_2.png'}")


if __name__ == "__main__":
    main()
