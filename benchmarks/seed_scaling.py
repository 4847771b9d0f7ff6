"""Seed scaling: wall-clock of one compiled run for 1, 4, 16, 64, 256 seeds of every registered
algorithm (its registry `test_args` run, e.g. Dyna-Q for 300 steps on the Dyna maze).

Reported per seed count: run seconds (median of --repeats, compile excluded), seeds/s and the
speedup over running the seeds one by one. The one-by-one baseline is the same compiled program
with one seed, called in a row (min(S, 16) calls timed right before the S-seed run in every
round, interleaved, scaled to S calls), the median ratio reported (the fastest sequential loop
a user could write with our code; it excludes the recompile a fresh process would need).

    python benchmarks/seed_scaling.py --out DIR [--quick]   # DIR/seed_scaling.{json,md}

DIR defaults to benchmarks/runs/ (ignored by git); --write-results writes the committed
benchmarks/results/ instead.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.output import add_results_option, describe, results_dir, write_json  # noqa: E402
from mbrl_jax import envs  # noqa: E402
from mbrl_jax.cli import build_parser  # noqa: E402
from mbrl_jax.cli.registry import registry  # noqa: E402
from mbrl_jax.driver.loop import make_train_fn  # noqa: E402

COUNTS = (1, 4, 16, 64, 256)
QUICK_COUNTS = (1, 16, 256)


def build(name: str):
    spec = registry()[name]
    args = build_parser().parse_args(["train", name, *spec.test_args])
    env, env_params = envs.make(args.env, **dict(args.env_kw))
    trainer, _ = spec.build(args, env, env_params)
    return trainer


def compile_run(fn, keys):
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(keys).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(keys))  # warm-up
    return compiled, compile_s


def timed(compiled, keys) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(keys))
    return time.perf_counter() - t0


def bench(name: str, counts, repeats: int) -> dict:
    """Rounds interleave every seed count with the 1-seed program, so a load change hits all;
    each round's speedup is S x (1-seed time of that round) / (S-seed time of that round)."""
    trainer = build(name)
    train = jax.vmap(make_train_fn(trainer))
    programs = {}
    for seeds in sorted({1, *counts}):
        keys = jax.random.split(jax.random.key(0), seeds)
        programs[seeds] = (*compile_run(train, keys), keys)
    times = {seeds: [] for seeds in programs}
    speedups = {seeds: [] for seeds in programs}
    for _ in range(repeats):
        for seeds, (compiled, _, keys) in programs.items():
            calls = min(seeds, 16)  # seeds one by one: calls of the 1-seed program, scaled to S
            t0 = time.perf_counter()
            for _ in range(calls):
                jax.block_until_ready(programs[1][0](programs[1][2]))
            single = (time.perf_counter() - t0) / calls
            t = timed(compiled, keys)
            times[seeds].append(t)
            speedups[seeds].append(seeds * single / t)
    rows = []
    for seeds in counts:
        median = statistics.median(times[seeds])
        speedup = statistics.median(speedups[seeds])
        rows.append({"seeds": seeds, "run_s": median, "run_s_all": times[seeds],
                     "compile_s": programs[seeds][1], "seeds_per_s": seeds / median,
                     "speedup_vs_one_by_one": speedup,
                     "speedup_all": speedups[seeds]})
        print(f"{name:10s} {seeds:4d} seeds: {median * 1e3:9.2f} ms  {seeds / median:10.1f} "
              f"seeds/s  x{speedup:7.1f} vs one by one  (compile {programs[seeds][1]:.1f} s)",
              flush=True)
    return {"env_steps_per_seed": trainer.num_env_steps, "rows": rows}


def markdown(result: dict) -> str:
    lines = ["# Seed scaling: one compiled run of S seeds", "",
             describe(result["provenance"]), "",
             f"Median of {result['repeats']} interleaved rounds, compile excluded. Speedup: over "
             "running the seeds one by one with the 1-seed program (median of per-round "
             "ratios).", "",
             "| algorithm | env steps/seed | seeds | run (ms) | seeds/s | speedup vs one by one |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in result["algorithms"].items():
        for row in r["rows"]:
            lines.append(f"| {name} | {r['env_steps_per_seed']} | {row['seeds']} | "
                         f"{row['run_s'] * 1e3:.2f} | {row['seeds_per_s']:,.1f} | "
                         f"{row['speedup_vs_one_by_one']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"seed counts {QUICK_COUNTS}")
    parser.add_argument("--repeats", type=int, default=None)
    add_results_option(parser)
    args = parser.parse_args(argv)
    counts = QUICK_COUNTS if args.quick else COUNTS
    repeats = args.repeats or (3 if args.quick else 7)
    result = {"benchmark": "seed_scaling", "repeats": repeats, "quick": args.quick,
              "algorithms": {}}
    out = results_dir(args)
    for name in registry():  # results are rewritten after each algorithm: a cut run keeps them
        result["algorithms"][name] = bench(name, counts, repeats)
        written = write_json(out / "seed_scaling.json", result)
        (out / "seed_scaling.md").write_text(markdown(written))
    print(markdown(written))
    return written


if __name__ == "__main__":
    main()
