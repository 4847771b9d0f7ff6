"""Search throughput (searches per second) of mbrl_jax.muzero.mcts against mctx, same run.

    python benchmarks/mcts_throughput.py [--quick] [--out DIR] [--preset cpu|gpu]

Both libraries search with the same small MLP model (hidden state 64, one hidden layer of 64 in
the dynamics and prediction functions, 4 actions), the same roots and the same key. For every
(batch, simulations) pair each policy is compiled first (compile time reported apart) and the
outputs are checked identical (root visit counts equal; action weights within 1e-5), then the four
searches are timed interleaved, `--repeats` rounds, and the medians compared. A second table gives
the cost per simulation as simulations grow (16 to 128) at one batch size.
Writes DIR/mcts_throughput.{json,md} (default benchmarks/results/).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import mctx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from mbrl_jax.muzero import mcts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
A, H = 4, 64
PRESETS = {  # batches, simulations, scaling batch, scaling simulations, repeats
    "cpu": ((1, 64, 1024), (16, 50), 64, (16, 32, 64, 128), 5),
    "gpu": ((1, 64, 1024), (16, 50), 1024, (16, 32, 64, 128), 10),
    "quick": ((1, 64), (16,), 16, (16, 32), 2),
}


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


def time_interleaved(compiled, repeats):
    times = {name: [] for name in compiled}
    for r in range(repeats):
        key = jax.random.key(r + 1)
        for name, fn in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(key))
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), default="cpu")
    parser.add_argument("--quick", action="store_true", help="same as --preset quick")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--repeats", type=int, default=None)
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
            med = time_interleaved(compiled, repeats)
            row = {"batch": batch, "simulations": sims, "identical": same,
                   "searches_per_s": {n: batch / t for n, t in med.items()},
                   "median_s": med, "compile_s": compile_s,
                   "ratio_muzero": med["mctx_muzero"] / med["ours_muzero"],
                   "ratio_gumbel": med["mctx_gumbel"] / med["ours_gumbel"]}
            rows.append(row)
            print(f"B={batch:5d} sims={sims:3d}  muzero x{row['ratio_muzero']:.2f} "
                  f"gumbel x{row['ratio_gumbel']:.2f}  identical={same}  "
                  f"ours {batch / med['ours_muzero']:.0f}/s "
                  f"mctx {batch / med['mctx_muzero']:.0f}/s", flush=True)

    scaling = []
    for sims in scale_sims:
        compiled, _ = build(params, scale_batch, sims)
        compiled = {k: v for k, v in compiled.items() if k.endswith("muzero")}
        med = time_interleaved(compiled, repeats)
        scaling.append({"simulations": sims,
                        "us_per_simulation": {n: 1e6 * t / sims for n, t in med.items()}})
        print(f"scaling B={scale_batch} sims={sims}: " + ", ".join(
            f"{n} {1e6 * t / sims:.0f} us/sim" for n, t in med.items()), flush=True)

    result = {"preset": preset, "repeats": repeats, "machine": describe_machine(),
              "model": f"MLP, hidden state {H}, {A} actions", "rows": rows,
              "scaling_batch": scale_batch, "scaling": scaling,
              "mctx_version": mctx.__version__}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "mcts_throughput" if preset != "gpu" else "mcts_throughput_gpu"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    lines = [f"# MCTS throughput: mbrl_jax.muzero.mcts vs mctx {mctx.__version__}", "",
             f"Machine: {result['machine']}", "",
             f"Median of {repeats} interleaved runs; searches/s = batch / median seconds. "
             "Compile time apart. 'identical': same root visit counts, weights within 1e-5.", "",
             "| batch | sims | ours pUCT /s | mctx pUCT /s | ratio | ours Gumbel /s | "
             "mctx Gumbel /s | ratio | identical | compile ours/mctx (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, c = r["searches_per_s"], r["compile_s"]
        lines.append(
            f"| {r['batch']} | {r['simulations']} | {s['ours_muzero']:.0f} | "
            f"{s['mctx_muzero']:.0f} | {r['ratio_muzero']:.2f} | {s['ours_gumbel']:.0f} | "
            f"{s['mctx_gumbel']:.0f} | {r['ratio_gumbel']:.2f} | "
            f"{r['identical']['muzero'] and r['identical']['gumbel']} | "
            f"{c['ours_muzero']:.1f}/{c['mctx_muzero']:.1f} |")
    lines += ["", f"Cost per simulation (us, batch {scale_batch}, pUCT):", "",
              "| simulations | ours | mctx |", "|---|---|---|"]
    for s in scaling:
        u = s["us_per_simulation"]
        lines.append(f"| {s['simulations']} | {u['ours_muzero']:.0f} | {u['mctx_muzero']:.0f} |")
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / stem}.json/.md")


if __name__ == "__main__":
    main()
