"""Planning updates per second: mbrl-jax Dyna-Q (n = 50) at 1, 16, 256, 1024 vmapped seeds against
three baselines of the same algorithm, all in the same run, interleaved:

  * textbook: Python loop, dict model rebuilt into key lists on every planning draw, numpy Q,
    gymnasium FrozenLake (`textbook_dyna.py`; one seed);
  * python: plain Python lists and floats, O(1) planning draws, the env as a transition table
    (`fast_dyna.run_python_dyna_q`; one seed; N seeds run one after another at the same rate);
  * numpy: all N seeds in one numpy program, O(1) draws, each array op stepping every seed
    (`fast_dyna.run_numpy_dyna_q`), at the same N as the JAX row.

    python benchmarks/dyna_planning.py [--quick] [--repeats 5] [--write-results | --out DIR]

Counts planning updates only (n per real step), but every side's wall time includes its env steps,
acting and direct updates. Each round runs every case once in turn (the machine may be shared);
rates are medians over rounds, ratios medians of per-round ratios; compile time is apart. The
strongest baseline of a row is the faster (median) of python and numpy at that seed count.
Writes dyna_planning.{json,md,png} into benchmarks/runs/ (ignored by git), the committed
benchmarks/results/ with --write-results (never for --quick), or --out DIR.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_dyna import run_numpy_dyna_q, run_python_dyna_q  # noqa: E402
from output import add_results_option, describe, results_dir, write_json  # noqa: E402
from textbook_dyna import run_textbook_dyna_q  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.dyna import DynaConfig, make_train  # noqa: E402

PLANNING = 50


def prepare_jax(num_seeds, steps):
    """Compile the vmapped run; returns (run(round) -> updates/s, compile seconds)."""
    env, params = envs.make("FrozenLake-misc", is_slippery=False)
    train = make_train(DynaConfig(planning_steps=PLANNING, total_steps=steps), env, params)
    keys = jax.random.split(jax.random.key(0), num_seeds)
    t0 = time.perf_counter()
    compiled = jax.jit(jax.vmap(train)).lower(keys).compile()
    compile_s = time.perf_counter() - t0

    def run(r):
        keys = jax.random.split(jax.random.key(r), num_seeds)
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(keys))
        return num_seeds * steps * PLANNING / (time.perf_counter() - t0)

    run(0)  # warm-up
    return run, compile_s


def rate(result):
    _, updates, seconds = result
    return updates / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    add_results_option(parser)
    args = parser.parse_args()
    if args.quick and args.write_results:
        parser.error("a --quick run is not written into the committed results")
    scale = 10 if args.quick else 1
    textbook_steps, python_steps = 4000 // scale, 10000 // scale
    # Real steps per run (JAX, numpy) at each seed count, for roughly 0.5-3 s each on 2 CPU cores.
    sizes = {1: (20000, 400), 16: (20000, 1000), 256: (4000, 400), 1024: (2000, 100)}
    sizes = {n: (j // scale, max(np_ // scale, 10)) for n, (j, np_) in sizes.items()}
    jax_runs = {n: prepare_jax(n, j) for n, (j, _) in sizes.items()}
    rates = {"textbook": [], "python": []}
    rates.update({f"jax_{n}": [] for n in sizes} | {f"numpy_{n}": [] for n in sizes})
    for r in range(args.repeats):
        rates["textbook"].append(rate(run_textbook_dyna_q(textbook_steps, PLANNING, seed=r)))
        rates["python"].append(rate(run_python_dyna_q(python_steps, PLANNING, seed=r)))
        for n, (_, np_steps) in sizes.items():
            rates[f"jax_{n}"].append(jax_runs[n][0](r))
            rates[f"numpy_{n}"].append(rate(run_numpy_dyna_q(n, np_steps, PLANNING, seed=r)))
        print(f"round {r + 1}/{args.repeats}: "
              + ", ".join(f"{k} {v[-1] / 1e6:.2f}M" for k, v in rates.items()), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    per_round = {k: np.array(v) for k, v in rates.items()}

    def ratio(a, b):  # median of per-round ratios: both sides ran under the same load
        return float(np.median(per_round[a] / per_round[b]))

    rows = []
    for n, (steps, np_steps) in sizes.items():
        strongest = "python" if med["python"] >= med[f"numpy_{n}"] else f"numpy_{n}"
        rows.append({
            "seeds": n, "steps": steps, "numpy_steps": np_steps,
            "updates_per_s": med[f"jax_{n}"], "updates_per_s_all": rates[f"jax_{n}"],
            "compile_s": jax_runs[n][1],
            "numpy_updates_per_s": med[f"numpy_{n}"],
            "numpy_updates_per_s_all": rates[f"numpy_{n}"],
            "strongest_baseline": strongest.split("_")[0],
            "ratio_vs_strongest": ratio(f"jax_{n}", strongest),
            "ratio_vs_python": ratio(f"jax_{n}", "python"),
            "ratio_vs_numpy": ratio(f"jax_{n}", f"numpy_{n}"),
            "ratio_vs_textbook": ratio(f"jax_{n}", "textbook"),
        })  # fmt: skip
        print(f"mbrl-jax {n:5d} seeds: {med[f'jax_{n}']:,.0f} updates/s; numpy "
              f"{med[f'numpy_{n}']:,.0f}; x strongest ({strongest}) "
              f"{rows[-1]['ratio_vs_strongest']:.1f}")

    result = {
        "benchmark": "dyna_planning",
        "env": "FrozenLake 4x4, is_slippery=False "
               "(gymnax FrozenLake-misc / gymnasium FrozenLake-v1)",
        "planning_steps": PLANNING,
        "baselines": {
            "textbook": {"name": "textbook Dyna-Q (Python loop, dict model, key lists rebuilt per "
                                 "draw, numpy Q, gymnasium)", "steps": textbook_steps,
                         "updates_per_s": med["textbook"], "updates_per_s_all": rates["textbook"]},
            "python": {"name": "plain Python lists, O(1) draws, env as a transition table "
                               "(1 seed)", "steps": python_steps,
                       "updates_per_s": med["python"], "updates_per_s_all": rates["python"]},
            "numpy": {"name": "numpy vectorised over the row's seeds, O(1) draws "
                              "(see mbrl_jax rows)"},
        },
        "mbrl_jax": rows,
        "repeats": args.repeats,
        "quick": args.quick,
    }
    out = results_dir(args)
    written = write_json(out / "dyna_planning.json", result)
    lines = [
        "# Dyna-Q planning throughput (n = 50, FrozenLake 4x4)",
        "",
        describe(written["provenance"]),
        "",
        f"{args.repeats} interleaved rounds (the machine was shared with other jobs): rates "
        "are medians over rounds, ratios medians of per-round ratios.",
        "",
        f"Baselines, one seed: textbook (dict model, key lists rebuilt per draw, gymnasium) "
        f"**{med['textbook']:,.0f}**, plain Python lists with O(1) draws **{med['python']:,.0f}** "
        "planning updates/s. numpy: all the row's seeds in one vectorised program.",
        "",
        "| seeds | real steps (JAX / numpy) | mbrl-jax updates/s | numpy updates/s "
        "| x strongest (which) | x python | x numpy | x textbook | compile (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['seeds']} | {r['steps']} / {r['numpy_steps']} | {r['updates_per_s']:,.0f} | "
              f"{r['numpy_updates_per_s']:,.0f} | **{r['ratio_vs_strongest']:.1f}** "
              f"({r['strongest_baseline']}) | {r['ratio_vs_python']:.1f} | "
              f"{r['ratio_vs_numpy']:.1f} | {r['ratio_vs_textbook']:.1f} | "
              f"{r['compile_s']:.2f} |" for r in rows]
    lines += ["", "![throughput](dyna_planning.png)"]
    (out / "dyna_planning.md").write_text("\n".join(lines) + "\n")
    plot(written, out / "dyna_planning.png")
    print(f"wrote {out / 'dyna_planning.md'} and dyna_planning.png")


def plot(result: dict, path: Path) -> None:
    from mbrl_jax.stats.plotting import figure

    fig, (ax,) = figure(width=6.0, height=4.0)
    rows = result["mbrl_jax"]
    seeds = [r["seeds"] for r in rows]
    ax.plot(seeds, [r["updates_per_s"] for r in rows], "o-", label="mbrl-jax (jit + vmap)")
    ax.plot(seeds, [r["numpy_updates_per_s"] for r in rows], "s-", color="tab:orange",
            label="numpy, vectorised over the seeds")
    for r in rows:
        ax.annotate(f"{r['ratio_vs_strongest']:.1f}x", (r["seeds"], r["updates_per_s"]),
                    textcoords="offset points", xytext=(0, 6), ha="center")
    base = result["baselines"]
    ax.axhline(base["python"]["updates_per_s"], color="tab:green", ls="--",
               label="plain Python, O(1) draws (1 seed)")
    ax.axhline(base["textbook"]["updates_per_s"], color="gray", ls=":",
               label="textbook Python/numpy (1 seed)")
    ax.set(xscale="log", yscale="log", xlabel="vmapped seeds",
           ylabel="planning updates / s (all seeds)",
           title=f"Dyna-Q planning, n = {result['planning_steps']}, "
                 f"{result['provenance']['machine']['cores']} CPU cores\n"
                 "(labels: x strongest baseline)")
    low = min(base["textbook"]["updates_per_s"], *(r["numpy_updates_per_s"] for r in rows))
    ax.set_ylim(low / 2, max(r["updates_per_s"] for r in rows) * 3)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
