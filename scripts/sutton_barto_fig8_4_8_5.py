"""Sutton & Barto (2nd ed.) Figures 8.4 (Blocking Maze) and 8.5 (Shortcut Maze): cumulative
reward of Dyna-Q, Dyna-Q+ (the book's footnote: untried actions planned as self-loops with reward
0) and Dyna-Q+ on observed pairs only (the tutorial's variant).

    python scripts/sutton_barto_fig8_4_8_5.py [--seeds 30]

The book gives no alpha, n or kappa for these figures; we use the values of S. Zhang's widely
used reimplementation of the book's figures (github.com/ShangtongZhang/reinforcement-learning-an-
introduction, chapter08/maze.py): alpha 1.0 with n = 10, kappa 1e-4 (blocking) and n = 50,
kappa 1e-3 (shortcut); gamma 0.95, epsilon 0.1. Writes fig8_4_8_5.{png,json} into scripts/runs/
(git-ignored), or the committed scripts/results/ with --write-results.
"""

import argparse

import numpy as np
from common import add_results_option, results_dir, run_seeds, save_json

from mbrl_jax import envs
from mbrl_jax.dyna import DynaConfig
from mbrl_jax.stats.episodes import mean_and_ci
from mbrl_jax.stats.plotting import figure, plot_curves

MAZES = {
    # name: (env id, change step, total steps, n, kappa)
    "blocking": ("BlockingMaze", 1000, 3000, 10, 1e-4),
    "shortcut": ("ShortcutMaze", 3000, 6000, 50, 1e-3),
}
VARIANTS = {
    "Dyna-Q": {"variant": "dyna-q"},
    "Dyna-Q+ (book: untried actions)": {"variant": "dyna-q+", "untried_actions": True},
    "Dyna-Q+ (observed pairs only)": {"variant": "dyna-q+", "untried_actions": False},
}


def greedy_path_length(q: np.ndarray, env, global_step: int, limit: int = 100) -> int:
    """Steps the greedy policy of q [S, A] takes from start to goal in the maze in force at
    `global_step` (ties: lowest action); `limit` if it never arrives."""
    layout = env.layout if global_step < env.change_step else env.changed_layout
    walls = layout.wall_grid()
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    (r, c), steps = layout.start, 0
    while (r, c) != layout.goal and steps < limit:
        dr, dc = moves[int(np.argmax(q[r * env.cols + c]))]
        nr, nc = r + dr, c + dc
        if 0 <= nr < env.rows and 0 <= nc < env.cols and not walls[nr, nc]:
            r, c = nr, nc
        steps += 1
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    add_results_option(parser)
    args = parser.parse_args()
    out = results_dir(args)

    fig, axes = figure(ncols=2, width=6.5)
    summary = {}
    for ax, (maze, (env_id, change, steps, n, kappa)) in zip(axes, MAZES.items(), strict=True):
        env, params = envs.make(env_id, change_step=change)
        curves = {}
        summary[maze] = {"env": env_id, "change_step": change, "steps": steps, "planning": n,
                         "kappa": kappa, "alpha": 1.0}
        for label, kwargs in VARIANTS.items():
            config = DynaConfig(total_steps=steps, planning_steps=n, alpha=1.0, gamma=0.95,
                                epsilon=0.1, kappa=kappa, **kwargs)
            state, metrics, seconds = run_seeds(config, env, params, args.seeds)
            cumulative = np.cumsum(metrics["reward"], axis=1)  # [seeds, steps]
            curves[label] = cumulative
            q = np.asarray(state.q)
            path = np.array([greedy_path_length(q[i], env, steps) for i in range(args.seeds)])
            before = cumulative[:, change - 1]
            after = cumulative[:, -1] - before
            summary[maze][label] = {
                "cumulative_reward_final": mean_and_ci(cumulative[:, -1]),
                "reward_before_change": mean_and_ci(before),
                "reward_after_change": mean_and_ci(after),
                "greedy_path_at_end_mean": float(path.mean()),
                "fraction_greedy_path_optimal_at_end": float(np.mean(
                    path == envs.shortest_path_length(env.changed_layout))),
                "seconds_incl_compile": seconds,
            }
            s = summary[maze][label]
            print(f"{maze:8s} {label:34s} final {s['cumulative_reward_final'][0]:6.1f} "
                  f"+/- {s['cumulative_reward_final'][1]:.1f}, after change "
                  f"{s['reward_after_change'][0]:6.1f}, greedy path optimal in "
                  f"{s['fraction_greedy_path_optimal_at_end']:.0%} of seeds")
        plot_curves(ax, {k: v[:, ::10] for k, v in curves.items()},
                    x=np.arange(1, steps + 1)[::10], xlabel="time steps",
                    ylabel="cumulative reward",
                    title=f"{env_id} (Figure 8.{4 if maze == 'blocking' else 5}), "
                          f"n={n}, kappa={kappa:g}")
        ax.axvline(change, color="gray", ls=":", lw=1)
    fig.tight_layout()
    fig.savefig(out / "fig8_4_8_5.png", dpi=120)
    save_json("fig8_4_8_5", {"seeds": args.seeds, "results": summary}, out)
    print(f"plot: {out / 'fig8_4_8_5.png'}")


if __name__ == "__main__":
    main()
