"""Ensemble training throughput: one vmapped JAX update for all members vs per-member loops.

Measures samples/second (members x batch rows trained per second) of a probabilistic dynamics
ensemble (7 members, batch 256 per member, Gaussian NLL with soft log-variance bounds, Adam,
float32) at two sizes: 4 x 200 hidden (MBPO) and 4 x 64 hidden (small tasks), with
HalfCheetah-like shapes (obs 17, action 6: 23 inputs, 2 x 18 outputs). Cases, all in the same run:

  * jax_vmap_scan: ours, `make_ensemble(...).update` on stacked params (members batched through
    one batched matmul per layer by vmap), 100 (4x64) / 25 (4x200) updates per jitted call in a
    lax.scan, each member's minibatch drawn on device, state buffers donated;
  * jax_vmap_step: the same update, one jitted call (one host round trip) per update;
  * jax_member_loop: the same network per member, one jitted update per member, Python loop;
  * torch_member_loop_{1thread,2threads}: the tutorial design, a Python loop over 7 PyTorch
    models with one Adam each (the faster thread count is the baseline; skipped with a message if
    torch is missing: `pip install torch==2.13.0`, a CPU build);
  * torch_batched_{1thread,2threads}: the design of mbrl-lib and mbpo-pytorch, the strongest
    PyTorch baseline: members' weights stacked, one torch.baddbmm per layer for all members, one
    Adam; threads pinned with torch.set_num_threads before each block;
  * matmul_2048: jnp float32 2048 x 2048 matmuls, the machine's dense rate, measured in the same
    rounds; our achieved rate counts matmul FLOPs only (forward, weight-gradient and input-gradient
    products; no input gradient for the first layer).

The machine is shared, so cases run interleaved: after a warm-up, each round runs every case once
(with a short pause between cases so spinning worker threads settle); throughput is the median
over rounds and each ratio the median of per-round ratios. Compile time is reported apart.

Run:  python benchmarks/ensemble_training.py [--quick] [--repeats 7] [--tag NAME]
Writes ensemble_training[_NAME].json and .md into benchmarks/runs/ (ignored by git), the committed
benchmarks/results/ with --write-results, or --out DIR.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from output import add_results_option, describe, load_average, results_dir, write_json  # noqa: E402

from mbrl_jax.models import EnsembleConfig, TrainBatch, make_ensemble  # noqa: E402

OBS, ACT, E, BATCH = 17, 6, 7, 256
N_DATA = 20_000


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def matmul_flops_per_sample(hidden: tuple[int, ...]) -> int:
    """Matmul FLOPs of one training sample through one member: forward and weight-gradient
    products of every layer, input-gradient products of every layer but the first (2 x MACs each).
    """
    sizes = (OBS + ACT, *hidden, 2 * (OBS + 1))
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    return 2 * (3 * sum(macs) - macs[0])


def synthetic_data(key):
    k1, k2, k3 = jax.random.split(key, 3)
    inputs = jax.random.normal(k1, (N_DATA, OBS + ACT))
    w = jax.random.normal(k2, (OBS + ACT, OBS + 1)) / np.sqrt(OBS + ACT)
    targets = jnp.tanh(inputs @ w) + 0.1 * jax.random.normal(k3, (N_DATA, OBS + 1))
    return inputs, targets


def _warm_matmul():
    """A compiled, warmed-up float32 2048 x 2048 jnp matmul and its operands: (n, mm, a, b)."""
    n = 2048
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    return n, mm, a, b


def bench_matmul(repeats: int) -> dict:
    n, mm, a, b = _warm_matmul()
    t = statistics.median(timed(lambda: mm(a, b).block_until_ready(), repeats))
    # also the shape class the MLP uses: a batched [7, 256, 200] x [7, 200, 200] product
    x = jax.random.normal(jax.random.key(2), (E, BATCH, 200))
    w = jax.random.normal(jax.random.key(3), (E, 200, 200))
    bmm = jax.jit(lambda x, w: jnp.einsum("ebi,eio->ebo", x, w))
    bmm(x, w).block_until_ready()
    tb = statistics.median(timed(lambda: bmm(x, w).block_until_ready(), repeats * 20))
    return {
        "jax_2048_gflops": 2 * n**3 / t / 1e9,
        "jax_batched_7x256x200x200_gflops": 2 * E * BATCH * 200 * 200 / tb / 1e9,
    }


def make_cfg(hidden):
    return EnsembleConfig(
        obs_dim=OBS,
        action_dim=ACT,
        ensemble_size=E,
        num_elites=5,
        hidden_sizes=hidden,
        activation="swish",
        probabilistic=True,
        batch_size=BATCH,
        learning_rate=1e-3,
    )


class Prepared:
    """A benchmark case: `block()` runs a timed block of work and returns the samples it trained."""

    def __init__(self, block, compile_s=None, extra=None):
        self.block, self.compile_s, self.extra = block, compile_s, extra or {}


def prepare_jax_vmap(hidden, data, updates_per_call, calls):
    """Ours: all members in one update; `updates_per_call` updates scanned inside one jit call."""
    model = make_ensemble(make_cfg(hidden))
    inputs, targets = data
    done = jnp.zeros((N_DATA,))

    def many(state, key):
        def body(state, k):
            rows = jax.random.randint(k, (E, BATCH), 0, N_DATA)  # one minibatch per member
            batch = TrainBatch(inputs[rows], targets[rows], done[rows])
            state, metrics = model.update(state, batch)
            return state, metrics["loss"]

        return jax.lax.scan(body, state, jax.random.split(key, updates_per_call))

    state = model.init(jax.random.key(0))
    t0 = time.perf_counter()
    run = jax.jit(many, donate_argnums=0).lower(state, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t0
    holder = {"state": state, "key": jax.random.key(1)}

    def block():
        losses = None
        for _ in range(calls):
            holder["key"], k = jax.random.split(holder["key"])
            holder["state"], losses = run(holder["state"], k)
        losses.block_until_ready()
        return calls * updates_per_call * E * BATCH

    return Prepared(block, compile_s, {"updates_per_call": updates_per_call})


def prepare_jax_member_loop(hidden, data, steps):
    """Baseline: one single-member model per member, one jitted update each, Python loop."""
    single = make_ensemble(dataclasses.replace(make_cfg(hidden), ensemble_size=1, num_elites=1))
    inputs, targets = data
    done = jnp.zeros((N_DATA,))

    def step(state, key):
        rows = jax.random.randint(key, (1, BATCH), 0, N_DATA)
        state, metrics = single.update(state, TrainBatch(inputs[rows], targets[rows], done[rows]))
        return state, metrics["loss"]

    states = [single.init(jax.random.key(i)) for i in range(E)]
    t0 = time.perf_counter()
    step = jax.jit(step, donate_argnums=0).lower(states[0], jax.random.key(0)).compile()
    compile_s = time.perf_counter() - t0
    keys = list(jax.random.split(jax.random.key(1), E))

    def block():
        loss = None
        for _ in range(steps):
            for m in range(E):
                keys[m], k = jax.random.split(keys[m])
                states[m], loss = step(states[m], k)
        loss.block_until_ready()
        return steps * E * BATCH

    return Prepared(block, compile_s)


def torch_models(hidden):
    """The two PyTorch designs' model classes for `hidden` (torch is imported only here):
    `GaussianMLP()`, one member (nn.Linear layers); `BatchedGaussianMLP()`, E members with stacked
    weights [E, in, out] and one torch.baddbmm per layer. `loss(x, y)`: x [B, 23], y [B, 18] for a
    member; x [E, B, 23], y [E, B, 18] for the batch (the sum over members of each one's loss)."""
    import torch

    d = OBS + 1
    softplus = torch.nn.functional.softplus

    def nll_loss(out, y, max_logvar, min_logvar):  # mean over the rows and dims of the last axes
        mean, raw = out[..., :d], out[..., d:]
        logvar = max_logvar - softplus(max_logvar - raw)
        logvar = min_logvar + softplus(logvar - min_logvar)
        nll = 0.5 * ((y - mean) ** 2 * torch.exp(-logvar) + logvar + np.log(2 * np.pi))
        return nll.mean(dim=(-2, -1)).sum() + 0.01 * (max_logvar.sum() - min_logvar.sum())

    class GaussianMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layers, width = [], OBS + ACT
            for h in hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.SiLU()]
                width = h
            layers.append(torch.nn.Linear(width, 2 * d))
            self.net = torch.nn.Sequential(*layers)
            self.max_logvar = torch.nn.Parameter(torch.full((d,), 0.5))
            self.min_logvar = torch.nn.Parameter(torch.full((d,), -10.0))

        def loss(self, x, y):
            return nll_loss(self.net(x), y, self.max_logvar, self.min_logvar)

    class BatchedGaussianMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            sizes = (OBS + ACT, *hidden, 2 * d)
            self.weights, self.biases = torch.nn.ParameterList(), torch.nn.ParameterList()
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=False):
                bound = 1.0 / np.sqrt(fan_in)  # nn.Linear's default init range, per member
                self.weights.append(torch.nn.Parameter(
                    torch.empty(E, fan_in, fan_out).uniform_(-bound, bound)))
                self.biases.append(torch.nn.Parameter(
                    torch.empty(E, 1, fan_out).uniform_(-bound, bound)))
            self.max_logvar = torch.nn.Parameter(torch.full((E, 1, d), 0.5))
            self.min_logvar = torch.nn.Parameter(torch.full((E, 1, d), -10.0))

        def loss(self, x, y):
            last = len(self.weights) - 1
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                x = torch.baddbmm(b, x, w)
                x = torch.nn.functional.silu(x) if i < last else x
            return nll_loss(x, y, self.max_logvar, self.min_logvar)

    return GaussianMLP, BatchedGaussianMLP


def prepare_torch(hidden, data, steps, threads):
    """The tutorial design: a Python loop over E PyTorch models, one Adam optimiser each."""
    import torch

    torch.manual_seed(0)
    inputs = torch.from_numpy(np.array(data[0]))
    targets = torch.from_numpy(np.array(data[1]))
    models = [torch_models(hidden)[0]() for _ in range(E)]
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]

    def block():
        torch.set_num_threads(threads)
        for _ in range(steps):
            for m, opt in zip(models, opts, strict=True):
                rows = torch.randint(0, N_DATA, (BATCH,))
                loss = m.loss(inputs[rows], targets[rows])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return steps * E * BATCH

    return Prepared(block)


def prepare_torch_batched(hidden, data, steps, threads):
    """The mbrl-lib / mbpo-pytorch design: members' weights stacked, one batched matmul
    (torch.baddbmm) per layer for all members, one Adam over all of them."""
    import torch

    torch.manual_seed(0)
    inputs = torch.from_numpy(np.array(data[0]))
    targets = torch.from_numpy(np.array(data[1]))
    model = torch_models(hidden)[1]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def block():
        torch.set_num_threads(threads)
        for _ in range(steps):
            rows = torch.randint(0, N_DATA, (E, BATCH))  # one minibatch per member
            loss = model.loss(inputs[rows], targets[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return steps * E * BATCH

    return Prepared(block)


def torch_matmul_gflops(repeats):
    import torch

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.mm(a, b)
        out[threads] = 2 * n**3 / statistics.median(timed(lambda: torch.mm(a, b), repeats)) / 1e9
    return out


def prepare_matmul(reps: int) -> Prepared:
    """Dense float32 2048 x 2048 jnp matmuls; 'samples' are FLOPs here."""
    n, mm, a, b = _warm_matmul()

    def block():
        for _ in range(reps):
            out = mm(a, b)
        out.block_until_ready()
        return reps * 2 * n**3

    return Prepared(block)


def run_interleaved(cases: dict, rounds: int) -> dict:
    """Warm each case, then `rounds` rounds running every case once in turn (so a change of load
    on this shared machine hits all cases alike); report the median samples/s per case."""
    for case in cases.values():
        case.block()
    rates = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            time.sleep(0.3)  # let the previous case's worker threads (OpenMP, XLA) stop spinning
            t0 = time.perf_counter()
            n = case.block()
            rates[name].append(n / (time.perf_counter() - t0))
    out = {"_per_round": rates}
    for name, case in cases.items():
        out[name] = {
            "samples_per_s": statistics.median(rates[name]),
            "samples_per_s_min_max": [min(rates[name]), max(rates[name])],
            **({"compile_s": case.compile_s} if case.compile_s is not None else {}),
            **case.extra,
        }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--tag", default="", help="suffix of the result files, e.g. for a run under other XLA_FLAGS"
    )
    add_results_option(parser)
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    data = synthetic_data(jax.random.key(0))
    results = {
        # beside the provenance block: what else shapes the timings
        "environment": {"xla_flags": os.environ.get("XLA_FLAGS", ""),
                        "load_average_1_5_15_min_at_start": load_average()},
        "setup": {
            "members": E,
            "batch_per_member": BATCH,
            "obs_dim": OBS,
            "action_dim": ACT,
            "loss": "Gaussian NLL + 0.01 (sum max_logvar - sum min_logvar)",
            "optimizer": "Adam lr 1e-3",
            "dtype": "float32",
        },  # fmt: skip
        "matmul": bench_matmul(repeats * 3),
        "sizes": {},
    }
    try:
        import torch

        results["environment"]["torch"] = torch.__version__
        results["matmul"]["torch_2048_gflops_by_threads"] = torch_matmul_gflops(repeats * 3)
        have_torch = True
    except ImportError:
        print("torch is not installed: skipping the PyTorch baseline (pip install torch==2.13.0)")
        have_torch = False
    # blocks of roughly 0.3-0.5 s each on this machine
    for name, hidden, per_call, calls, steps in [
        ("4x64", (64,) * 4, 100, 2, 30),
        ("4x200", (200,) * 4, 25, 2, 8),
    ]:
        if args.quick:
            per_call, calls, steps = 5, 1, 2
        cases = {
            "jax_vmap_scan": prepare_jax_vmap(hidden, data, per_call, calls),
            "jax_vmap_step": prepare_jax_vmap(hidden, data, 1, per_call * calls),
            "jax_member_loop": prepare_jax_member_loop(hidden, data, steps),
        }
        if have_torch:
            cases["torch_member_loop_1thread"] = prepare_torch(hidden, data, steps, 1)
            cases["torch_member_loop_2threads"] = prepare_torch(hidden, data, steps, 2)
            cases["torch_batched_1thread"] = prepare_torch_batched(hidden, data, steps, 1)
            cases["torch_batched_2threads"] = prepare_torch_batched(hidden, data, steps, 2)
        cases["matmul_2048"] = prepare_matmul(2 if args.quick else 6)
        r = {"hidden": list(hidden), "matmul_flops_per_sample": matmul_flops_per_sample(hidden)}
        r.update(run_interleaved(cases, repeats))
        per_round = {k: np.array(v) for k, v in r.pop("_per_round").items()}
        r["matmul_2048_gflops"] = r.pop("matmul_2048")["samples_per_s"] / 1e9
        ours = r["jax_vmap_scan"]["samples_per_s"]
        flops = r["matmul_flops_per_sample"]
        r["achieved_gflops"] = ours * flops / 1e9
        # ratios are medians of per-round ratios: both sides ran under the same load
        r["fraction_of_matmul_rate"] = float(
            np.median(per_round["jax_vmap_scan"] * flops / per_round["matmul_2048"])
        )
        r["speedup_vs_jax_member_loop"] = float(
            np.median(per_round["jax_vmap_scan"] / per_round["jax_member_loop"])
        )
        if have_torch:
            best = max(
                ("torch_member_loop_1thread", "torch_member_loop_2threads"),
                key=lambda k: r[k]["samples_per_s"],
            )
            r["torch_best"] = best
            r["speedup_vs_torch_member_loop"] = float(
                np.median(per_round["jax_vmap_scan"] / per_round[best])
            )
            best_batched = max(
                ("torch_batched_1thread", "torch_batched_2threads"),
                key=lambda k: r[k]["samples_per_s"],
            )
            r["torch_batched_best"] = best_batched
            r["speedup_vs_torch_batched"] = float(
                np.median(per_round["jax_vmap_scan"] / per_round[best_batched])
            )
        results["sizes"][name] = r
        print(name, json.dumps(r, indent=1), flush=True)

    s, b = results["sizes"]["4x64"], results["sizes"]["4x200"]
    results["targets"] = {
        "small_ge_3x_torch": s.get("speedup_vs_torch_member_loop"),
        "mbpo_ge_1.5x_torch": b.get("speedup_vs_torch_member_loop"),
        "small_vs_torch_batched": s.get("speedup_vs_torch_batched"),
        "mbpo_vs_torch_batched": b.get("speedup_vs_torch_batched"),
        "mbpo_ge_0.5_matmul_rate": b["fraction_of_matmul_rate"],
    }
    out = results_dir(args)
    stem = (
        "ensemble_training"
        + ("_quick" if args.quick else "")
        + (f"_{args.tag}" if args.tag else "")
    )
    written = write_json(out / f"{stem}.json", results)
    (out / f"{stem}.md").write_text(markdown(written))
    print(markdown(written))


def markdown(res) -> str:
    env, mm = res["environment"], res["matmul"]
    torch_mm = mm.get("torch_2048_gflops_by_threads", {})
    lines = [
        "# Ensemble training throughput",
        "",
        describe(res["provenance"]),
        "",
        f"XLA_FLAGS={env['xla_flags'] or '(none)'}; "
        f"torch {env.get('torch', 'not installed')}; load average at start "
        f"{env['load_average_1_5_15_min_at_start']} (1/5/15 min; the machine was shared with "
        "other jobs).",
        "",
        f"Dense float32 matmul, 2048x2048: jnp {mm['jax_2048_gflops']:.0f} GFLOP/s"
        + "".join(f"; torch {t} thread(s) {g:.0f}" for t, g in torch_mm.items())
        + f". Batched 7 x [256x200]x[200x200] (jnp): "
        f"{mm['jax_batched_7x256x200x200_gflops']:.0f} GFLOP/s.",
        "",
        "7 members, batch 256 per member, Gaussian NLL with soft log-variance bounds, Adam, "
        "float32, inputs 23 / outputs 2 x 18. Samples/s = members x rows trained per second, "
        "median of interleaved rounds (ratios: median of per-round ratios); compile time apart. "
        "Each PyTorch design (a loop over 7 models with 7 Adams; one batched model, "
        "torch.baddbmm per layer, one Adam) runs with torch.set_num_threads(1) and (2); its "
        "faster thread count is the baseline. The batched PyTorch ensemble is the strongest "
        "baseline.",
        "",
        "| hidden | ours (vmap, scan of updates) | ours, 1 update per call | JAX loop over members "
        "| PyTorch loop, 1 thread | PyTorch loop, 2 threads | ours / PyTorch loop "
        "| PyTorch batched, 1 thread | PyTorch batched, 2 threads | **ours / PyTorch batched** "
        "| ours / JAX loop "
        "| ours GFLOP/s (fraction of jnp matmul) | jnp 2048 matmul GFLOP/s, same rounds "
        "| compile s: ours / JAX loop |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["sizes"].items():
        t1 = r.get("torch_member_loop_1thread", {}).get("samples_per_s")
        t2 = r.get("torch_member_loop_2threads", {}).get("samples_per_s")
        speed = r.get("speedup_vs_torch_member_loop")
        b1 = r.get("torch_batched_1thread", {}).get("samples_per_s")
        b2 = r.get("torch_batched_2threads", {}).get("samples_per_s")
        bspeed = r.get("speedup_vs_torch_batched")
        lines.append(
            f"| {name} | {r['jax_vmap_scan']['samples_per_s']:,.0f} | "
            f"{r['jax_vmap_step']['samples_per_s']:,.0f} | "
            f"{r['jax_member_loop']['samples_per_s']:,.0f} | "
            + (f"{t1:,.0f} | {t2:,.0f} | {speed:.2f}x | " if t1 else "skipped | skipped | - | ")
            + (f"{b1:,.0f} | {b2:,.0f} | **{bspeed:.2f}x** | " if b1
               else "skipped | skipped | - | ")
            + f"{r['speedup_vs_jax_member_loop']:.2f}x | {r['achieved_gflops']:.0f} "
            f"({r['fraction_of_matmul_rate']:.2f}) | {r['matmul_2048_gflops']:.0f} | "
            f"{r['jax_vmap_scan']['compile_s']:.2f} / "
            f"{r['jax_member_loop']['compile_s']:.2f} |"
        )
    t = res["targets"]
    lines += [
        "",
        "Targets: small size >= 3x PyTorch: "
        + (f"{t['small_ge_3x_torch']:.2f}x" if t["small_ge_3x_torch"] else "n/a")
        + "; MBPO size >= 1.5x PyTorch: "
        + (f"{t['mbpo_ge_1.5x_torch']:.2f}x" if t["mbpo_ge_1.5x_torch"] else "n/a")
        + f"; MBPO size >= 0.5 of matmul rate: {t['mbpo_ge_0.5_matmul_rate']:.2f}. "
        "Against the batched PyTorch ensemble (no target set): "
        + (f"{t['small_vs_torch_batched']:.2f}x (4x64), {t['mbpo_vs_torch_batched']:.2f}x (4x200)."
           if t["small_vs_torch_batched"] else "n/a."),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
