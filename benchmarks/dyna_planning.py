"""Planning updates per second: mbrl-jax Dyna-Q (n = 50) at 1, 16, 256, 1024 vmapped seeds against
a plain textbook Dyna-Q (Python loop, dict model, numpy Q, gymnasium FrozenLake), same run.

    python benchmarks/dyna_planning.py [--quick]

Counts planning updates only (n per real step), but both sides' wall time includes their env steps,
acting and direct updates. Compile time is reported apart from run time; each number is the median
of `--repeats` timed runs. Writes benchmarks/results/dyna_planning.{json,md}.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402
from textbook_dyna import run_textbook_dyna_q  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.dyna import DynaConfig, make_train  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PLANNING = 50


def bench_baseline(steps, repeats):
    rates = []
    for r in range(repeats):
        _, updates, seconds = run_textbook_dyna_q(steps, PLANNING, seed=r)
        rates.append(updates / seconds)
    return statistics.median(rates), rates


def bench_jax(num_seeds, steps, repeats):
    env, params = envs.make("FrozenLake-misc", is_slippery=False)
    train = make_train(DynaConfig(planning_steps=PLANNING, total_steps=steps), env, params)
    fn = jax.jit(jax.vmap(train))
    keys = jax.random.split(jax.random.key(0), num_seeds)
    t0 = time.perf_counter()
    compiled = fn.lower(keys).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        keys = jax.random.split(jax.random.key(r), num_seeds)
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(keys))
        times.append(time.perf_counter() - t0)
    updates = num_seeds * steps * PLANNING
    rates = [updates / t for t in times]
    return statistics.median(rates), rates, compile_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    baseline_steps = 4000 // scale
    # Real steps per run at each seed count, sized for roughly 1-10 s each on 2 CPU cores.
    sizes = {1: 20000, 16: 20000, 256: 4000, 1024: 2000}

    base_rate, base_rates = bench_baseline(baseline_steps, args.repeats)
    print(f"textbook baseline: {base_rate:,.0f} planning updates/s "
          f"({baseline_steps} steps x n={PLANNING}, median of {args.repeats})")
    rows = []
    for seeds, steps in sizes.items():
        steps //= scale
        rate, rates, compile_s = bench_jax(seeds, steps, args.repeats)
        rows.append({"seeds": seeds, "steps": steps, "updates_per_s": rate,
                     "updates_per_s_all": rates, "compile_s": compile_s,
                     "ratio_vs_baseline": rate / base_rate})
        print(f"mbrl-jax {seeds:5d} seeds: {rate:,.0f} updates/s  ratio {rate / base_rate:7.1f}x"
              f"  (compile {compile_s:.2f} s, {steps} steps)")

    result = {
        "benchmark": "dyna_planning",
        "env": "FrozenLake 4x4, is_slippery=False "
               "(gymnax FrozenLake-misc / gymnasium FrozenLake-v1)",
        "planning_steps": PLANNING,
        "machine": describe_machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "baseline": {"name": "textbook Dyna-Q (Python loop, dict model, numpy Q, gymnasium)",
                     "steps": baseline_steps, "updates_per_s": base_rate,
                     "updates_per_s_all": base_rates},
        "mbrl_jax": rows,
        "repeats": args.repeats,
        "quick": args.quick,
    }
    if args.quick:
        print("quick run: results not written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dyna_planning.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    lines = [
        "# Dyna-Q planning throughput (n = 50, FrozenLake 4x4)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; jax {m.get('jax')} "
        f"on {m.get('jax_backend')}; {result['date']}. Median of {args.repeats} runs.",
        "",
        f"Baseline (textbook Python/numpy/gymnasium): **{base_rate:,.0f}** planning updates/s.",
        "",
        "| seeds | real steps | planning updates/s | x baseline | compile (s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['seeds']} | {r['steps']} | {r['updates_per_s']:,.0f} | "
              f"{r['ratio_vs_baseline']:.1f} | {r['compile_s']:.2f} |" for r in rows]
    lines += ["", "![throughput](dyna_planning.png)"]
    (RESULTS / "dyna_planning.md").write_text("\n".join(lines) + "\n")
    plot(result, RESULTS / "dyna_planning.png")
    print(f"wrote {RESULTS / 'dyna_planning.md'} and dyna_planning.png")


def plot(result: dict, path: Path) -> None:
    from mbrl_jax.core.plotting import figure

    fig, (ax,) = figure(width=6.0, height=4.0)
    rows = result["mbrl_jax"]
    seeds = [r["seeds"] for r in rows]
    ax.plot(seeds, [r["updates_per_s"] for r in rows], "o-", label="mbrl-jax (jit + vmap)")
    for r in rows:
        ax.annotate(f"{r['ratio_vs_baseline']:.0f}x", (r["seeds"], r["updates_per_s"]),
                    textcoords="offset points", xytext=(0, 6), ha="center")
    ax.axhline(result["baseline"]["updates_per_s"], color="gray", ls="--",
               label="textbook Python/numpy baseline (1 seed)")
    ax.set(xscale="log", yscale="log", xlabel="vmapped seeds",
           ylabel="planning updates / s (all seeds)",
           title=f"Dyna-Q planning throughput, n = {result['planning_steps']}, "
                 f"{result['machine']['cores']} CPU cores")
    ax.set_ylim(result["baseline"]["updates_per_s"] / 2, max(r["updates_per_s"] for r in rows) * 3)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
