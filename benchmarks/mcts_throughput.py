"""Search throughput (searches per second) of mbrl_jax.muzero.mcts against mctx, same run.

    python benchmarks/mcts_throughput.py [--quick] [--out DIR | --write-results]
        [--preset cpu|gpu|target]

Both libraries search with the same small MLP model (hidden state 64, one hidden layer of 64 in
the dynamics and prediction functions, 4 actions), the same roots and the same key. For every
(batch, simulations) pair each policy is compiled first (compile time reported apart) and the
outputs are checked identical (root visit counts equal; action weights within 1e-5), then the four
searches are timed interleaved: at least `--repeats` rounds, more for fast searches (as many as
fill about 2 s, at most 101), each round running the four in turn; medians are compared. Wall
clock is the measure; process CPU time is recorded beside it, since on a shared machine a
search can wait for a core (CPU time does not count that wait). The 1-minute load average is
recorded before and after each row. A second table gives the cost per simulation as simulations
grow (16 to 128) at one batch size.
Writes mcts_throughput[_PRESET].{json,md} into benchmarks/runs/ (ignored by git), the committed
benchmarks/results/ with --write-results, or --out DIR.
"""

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import mctx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from output import add_results_option, describe, results_dir, write_json  # noqa: E402

from mbrl_jax.muzero import mcts  # noqa: E402

A, H = 4, 64
PRESETS = {  # batches, simulations, scaling batch, scaling simulations, minimum rounds
    "cpu": ((1, 64, 1024), (16, 50), 64, (16, 32, 64, 128), 7),
    "gpu": ((1, 64, 1024), (16, 50), 1024, (16, 32, 64, 128), 10),
    "quick": ((1, 64), (16,), 16, (16, 32), 2),
    "target": ((1024,), (50,), 64, (16, 128), 7),  # a recheck of the target row
}
TARGET_S, MAX_ROUNDS = 2.0, 101  # rounds: enough to fill about TARGET_S seconds


def make_params(key):
    ks = jax.random.split(key, 6)
    dense = lambda k, i, o: jax.random.normal(k, (i, o)) / np.sqrt(i)  # noqa: E731
    return {"dyn1": dense(ks[0], H + A, 64), "dyn2": dense(ks[1], 64, H),
            "rew": dense(ks[2], H, 1), "pred1": dense(ks[3], H, 64),
            "pol": dense(ks[4], 64, A), "val": dense(ks[5], 64, 1)}


def predict(p, h):
    x = jax.nn.relu(h @ p["pred1"])
    return x @ p["pol"], (x @ p["val"])[:, 0]


def dynamics(p, action, h):
    x = jnp.concatenate([h, jax.nn.one_hot(action, A)], axis=-1)
    nxt = jnp.tanh(jax.nn.relu(x @ p["dyn1"]) @ p["dyn2"])
    return nxt, (nxt @ p["rew"])[:, 0]


def ours_recurrent(p, key, action, h):
    nxt, reward = dynamics(p, action, h)
    logits, value = predict(p, nxt)
    return mcts.RecurrentFnOutput(reward, jnp.full_like(reward, 0.997), logits, value), nxt


def mctx_recurrent(p, key, action, h):
    nxt, reward = dynamics(p, action, h)
    logits, value = predict(p, nxt)
    return mctx.RecurrentFnOutput(reward=reward, discount=jnp.full_like(reward, 0.997),
                                  prior_logits=logits, value=value), nxt


def build(params, batch, sims):
    """Four compiled searches `key -> (visit counts, action weights)` on the same roots."""
    h = jax.random.uniform(jax.random.key(batch), (batch, H))
    logits, value = predict(params, h)
    ours_root = mcts.RootFnOutput(logits, value, h)
    mctx_root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=h)

    def out(po):
        return po.search_tree.children_visits[:, 0], po.action_weights

    fns = {
        "ours_muzero": lambda k: out(mcts.muzero_policy(params, k, ours_root, ours_recurrent,
                                                         sims)),
        "mctx_muzero": lambda k: out(mctx.muzero_policy(params, k, mctx_root, mctx_recurrent,
                                                         sims)),
        "ours_gumbel": lambda k: out(mcts.gumbel_muzero_policy(params, k, ours_root,
                                                                ours_recurrent, sims)),
        "mctx_gumbel": lambda k: out(mctx.gumbel_muzero_policy(params, k, mctx_root,
                                                                mctx_recurrent, sims)),
    }
    compiled, compile_s = {}, {}
    key = jax.random.key(0)
    for name, fn in fns.items():
        t0 = time.perf_counter()
        compiled[name] = jax.jit(fn).lower(key).compile()
        compile_s[name] = time.perf_counter() - t0
    return compiled, compile_s


def check_identical(compiled, key):
    same = {}
    for kind in ("muzero", "gumbel"):
        v0, w0 = compiled[f"ours_{kind}"](key)
        v1, w1 = compiled[f"mctx_{kind}"](key)
        same[kind] = bool(np.array_equal(v0, v1) and np.allclose(w0, w1, atol=1e-5))
    return same


def time_interleaved(compiled, min_rounds):
    """Median wall and process-CPU seconds per search, rounds of all `compiled` in turn."""
    t0 = time.perf_counter()
    for fn in compiled.values():
        jax.block_until_ready(fn(jax.random.key(0)))
    rounds = max(min_rounds, min(MAX_ROUNDS, math.ceil(TARGET_S / (time.perf_counter() - t0))))
    wall = {name: [] for name in compiled}
    cpu = {name: [] for name in compiled}
    for r in range(rounds):
        key = jax.random.key(r + 1)
        for name, fn in compiled.items():
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(key))
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = lambda d: {name: statistics.median(t) for name, t in d.items()}  # noqa: E731
    return med(wall), med(cpu), rounds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), default="cpu")
    parser.add_argument("--quick", action="store_true", help="same as --preset quick")
    add_results_option(parser)
    parser.add_argument("--repeats", type=int, default=None, help="minimum timed rounds")
    args = parser.parse_args()
    preset = "quick" if args.quick else args.preset
    batches, sims_list, scale_batch, scale_sims, repeats = PRESETS[preset]
    repeats = args.repeats or repeats
    params = make_params(jax.random.key(42))

    rows = []
    for batch in batches:
        for sims in sims_list:
            compiled, compile_s = build(params, batch, sims)
            same = check_identical(compiled, jax.random.key(123))
            load = [os.getloadavg()[0]]
            med, cpu, rounds = time_interleaved(compiled, repeats)
            load.append(os.getloadavg()[0])
            row = {"batch": batch, "simulations": sims, "identical": same, "rounds": rounds,
                   "searches_per_s": {n: batch / t for n, t in med.items()},
                   "median_s": med, "median_cpu_s": cpu, "compile_s": compile_s,
                   "load_1min_before_after": [round(x, 2) for x in load]}
            for kind in ("muzero", "gumbel"):
                row[f"ratio_{kind}"] = med[f"mctx_{kind}"] / med[f"ours_{kind}"]
                row[f"cpu_ratio_{kind}"] = cpu[f"mctx_{kind}"] / cpu[f"ours_{kind}"]
            rows.append(row)
            print(f"B={batch:5d} sims={sims:3d}  muzero x{row['ratio_muzero']:.2f} "
                  f"(cpu x{row['cpu_ratio_muzero']:.2f})  gumbel x{row['ratio_gumbel']:.2f} "
                  f"(cpu x{row['cpu_ratio_gumbel']:.2f})  identical={same}  "
                  f"ours {batch / med['ours_muzero']:.0f}/s "
                  f"mctx {batch / med['mctx_muzero']:.0f}/s  {rounds} rounds  load {load}",
                  flush=True)

    scaling = []
    for sims in scale_sims:
        compiled, _ = build(params, scale_batch, sims)
        compiled = {k: v for k, v in compiled.items() if k.endswith("muzero")}
        med, _, rounds = time_interleaved(compiled, repeats)
        scaling.append({"simulations": sims, "rounds": rounds,
                        "load_1min": round(os.getloadavg()[0], 2),
                        "us_per_simulation": {n: 1e6 * t / sims for n, t in med.items()}})
        print(f"scaling B={scale_batch} sims={sims}: " + ", ".join(
            f"{n} {1e6 * t / sims:.0f} us/sim" for n, t in med.items()), flush=True)

    result = {"preset": preset, "repeats": repeats,
              "model": f"MLP, hidden state {H}, {A} actions", "rows": rows,
              "scaling_batch": scale_batch, "scaling": scaling,
              "mctx_version": mctx.__version__}
    out = results_dir(args)
    stem = "mcts_throughput" if preset == "cpu" else f"mcts_throughput_{preset}"
    written = write_json(out / f"{stem}.json", result)
    lines = [f"# MCTS throughput: mbrl_jax.muzero.mcts vs mctx {mctx.__version__}", "",
             describe(written["provenance"]), "",
             f"Median of at least {repeats} interleaved rounds (more for fast searches: "
             "'rounds'); searches/s = batch / median wall seconds; 'ratio' = mctx time / ours "
             "(above 1: ours faster), wall clock, with the process-CPU-time ratio in brackets. "
             "Compile time apart. 'identical': same root visit counts, weights within 1e-5. "
             "'load': the 1-minute load average before/after the row's timing (2 cores).", "",
             "| batch | sims | ours pUCT /s | mctx pUCT /s | ratio (cpu) | ours Gumbel /s | "
             "mctx Gumbel /s | ratio (cpu) | identical | rounds | load | "
             "compile ours/mctx pUCT (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, c = r["searches_per_s"], r["compile_s"]
        lines.append(
            f"| {r['batch']} | {r['simulations']} | {s['ours_muzero']:.0f} | "
            f"{s['mctx_muzero']:.0f} | {r['ratio_muzero']:.2f} ({r['cpu_ratio_muzero']:.2f}) | "
            f"{s['ours_gumbel']:.0f} | {s['mctx_gumbel']:.0f} | "
            f"{r['ratio_gumbel']:.2f} ({r['cpu_ratio_gumbel']:.2f}) | "
            f"{r['identical']['muzero'] and r['identical']['gumbel']} | {r['rounds']} | "
            f"{r['load_1min_before_after'][0]:.1f}/{r['load_1min_before_after'][1]:.1f} | "
            f"{c['ours_muzero']:.1f}/{c['mctx_muzero']:.1f} |")
    lines += ["", f"Cost per simulation (us, batch {scale_batch}, pUCT):", "",
              "| simulations | ours | mctx | rounds | load |", "|---|---|---|---|---|"]
    for s in scaling:
        u = s["us_per_simulation"]
        lines.append(f"| {s['simulations']} | {u['ours_muzero']:.0f} | {u['mctx_muzero']:.0f} | "
                     f"{s['rounds']} | {s['load_1min']:.1f} |")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / stem}.json/.md")


if __name__ == "__main__":
    main()
