"""Whole-run MBPO throughput: env steps per second of the compiled run at 1, 4 and 16 vmapped
seeds, on Pendulum-v1 (each env step includes its G SAC updates and its share of the refit and
the rollouts).

Presets: "cpu" (the exercise's reduced sizes: SAC 2 x 64, model 3 x 64, G = 10, 1000 rollouts
per refit) and "gpu" (the paper's sizes: SAC 2 x 256 batch 256, model 7 x 4 x 200, G = 20,
100k rollouts per refit). Both run 4 iterations of F = 250 env steps (1000 env steps per seed);
compile time is reported apart and the timed run is a second call of the compiled program.

Run:  python benchmarks/mbpo_throughput.py [--out DIR | --write-results] [--preset cpu|gpu]
      [--seeds 1,4,16]
Writes mbpo_throughput_PRESET.json and .md into benchmarks/runs/ (ignored by git), the committed
benchmarks/results/ with --write-results, or --out DIR.
"""

import argparse
import json
import pathlib
import sys
import time

import jax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "scripts"))
from exercise3_mbpo import pendulum_config  # noqa: E402
from output import add_results_option, describe, results_dir, write_json  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.mbpo import make_train  # noqa: E402

STEPS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_option(parser)
    parser.add_argument("--preset", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--seeds", default="1,4,16")
    args = parser.parse_args()
    env, params = envs.make("Pendulum-v1")
    config = pendulum_config(STEPS, args.preset)
    rows = []
    for seeds in (int(s) for s in args.seeds.split(",")):
        train = jax.jit(jax.vmap(make_train(config, env, params)))
        keys = jax.random.split(jax.random.key(0), seeds)
        t0 = time.perf_counter()
        compiled = train.lower(keys).compile()
        compile_s = time.perf_counter() - t0
        jax.block_until_ready(compiled(keys))  # first run (allocations)
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.split(jax.random.key(1), seeds)))
        run_s = time.perf_counter() - t0
        rows.append({"seeds": seeds, "compile_seconds": compile_s, "run_seconds": run_s,
                     "env_steps_per_second_per_seed": STEPS / run_s,
                     "env_steps_per_second_total": STEPS * seeds / run_s})
        print(json.dumps(rows[-1]), flush=True)
        write(args, config, rows)  # after every row, so a cut-short run keeps what it measured


def write(args, config, rows) -> None:
    result = {"preset": args.preset, "config": repr(config), "env_steps_per_seed": STEPS,
              "rows": rows}
    out = results_dir(args)
    stem = f"mbpo_throughput_{args.preset}"
    written = write_json(out / f"{stem}.json", result)  # its load average: after the last row
    lines = [f"# MBPO whole-run throughput on Pendulum-v1 ({args.preset} preset)", "",
             describe(written["provenance"]), "",
             f"{STEPS} env steps per seed.", "",
             "| seeds | env steps/s per seed | env steps/s total | compile (s) |",
             "|---|---|---|---|"]
    lines += [f"| {r['seeds']} | {r['env_steps_per_second_per_seed']:.1f} | "
              f"{r['env_steps_per_second_total']:.1f} | {r['compile_seconds']:.0f} |"
              for r in rows]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
