"""DreamerV3 throughput: a full training iteration at 1, 4 and 16 vmapped seeds, and the
imagination rollout alone (batch 1024, horizon 15).

A training iteration is `env_steps_per_iteration` env steps of the recurrent policy (vmapped
CartPole-v1 envs) followed by its gradient updates (world model, actor, critic); we time
`--iterations` of them as one jitted `lax.scan` after a compiled warm-up, for every seed count,
and report env steps/s and updates/s summed over seeds (median of `--repeats` interleaved rounds;
compile time apart). The imagination case times `rssm.imagine` with the actor as policy from 1024
start states for 15 steps (forward only), in the same rounds. No baseline library is timed: no
maintained pure-JAX DreamerV3 compiles the whole loop; this measures how seeds scale.

    python benchmarks/dreamer_throughput.py --write-results       # CPU preset, committed results
    python benchmarks/dreamer_throughput.py --out DIR --preset gpu   # on a GPU, ~2 minutes

Writes `dreamer_throughput[_PRESET].json` and `.md` to benchmarks/runs/ (ignored by git), the
committed benchmarks/results/ with --write-results, or --out DIR.
"""

import argparse
import pathlib
import statistics
import sys
import time

import jax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from output import add_results_option, describe, results_dir, write_json  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.dreamer import DreamerConfig, make_agent, make_trainer  # noqa: E402
from mbrl_jax.dreamer.rssm import feat  # noqa: E402
from mbrl_jax.driver.loop import scan_steps  # noqa: E402

PRESETS = {
    # The sizes of scripts/dreamer_results.py's cpu preset (its learning runs).
    "cpu": dict(deter_size=64, hidden_size=64, stoch_groups=8, stoch_classes=8, batch_size=8,
                sequence_length=32, train_ratio=32.0, env_steps_per_iteration=16),
    "gpu": dict(deter_size=256, hidden_size=256, batch_size=16, sequence_length=64,
                train_ratio=128.0, env_steps_per_iteration=16),
}


def _time(fn, *args):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    add_results_option(parser)
    args = parser.parse_args(argv)
    # The shortest allowed prefill; updates cost the same before it (computed, then discarded).
    preset = PRESETS[args.preset]
    config = DreamerConfig(total_steps=10_000, warmup_steps=preset["sequence_length"], **preset)
    env, env_params = envs.make("CartPole-v1")
    trainer = make_trainer(config, env, env_params)

    cases, compile_s = {}, {}
    for n in args.seeds:
        init = jax.jit(jax.vmap(trainer.init, in_axes=(0, None)))
        carry = init(jax.random.split(jax.random.key(0), n), None)
        run = jax.jit(jax.vmap(lambda c: scan_steps(trainer, c, None, args.iterations)[0]))
        start = time.perf_counter()
        run = run.lower(carry).compile()
        compile_s[f"train_{n}"] = time.perf_counter() - start
        cases[f"train_{n}"] = (run, carry)

    agent = make_agent(config, (4,), 2, True)
    state = agent.init(jax.random.key(1))
    starts = agent.rssm.initial((1024,))

    def imagine(state, starts, key):
        def policy(s, k):
            logits = agent.actor_apply(state.actor_params, feat(s))
            return jax.nn.one_hot(jax.random.categorical(k, logits), 2)
        states, _ = agent.rssm.imagine(state.wm_params, starts, policy, 15, key)
        return states.deter

    start = time.perf_counter()
    imag = jax.jit(imagine).lower(state, starts, jax.random.key(2)).compile()
    compile_s["imagine"] = time.perf_counter() - start
    cases["imagine"] = (imag, (state, starts, jax.random.key(2)))

    for fn, a in cases.values():                 # warm-up
        _time(fn, *(a if isinstance(a, tuple) else (a,)))
    times = {name: [] for name in cases}
    for _ in range(args.repeats):                # interleaved rounds
        for name, (fn, a) in cases.items():
            times[name].append(_time(fn, *(a if isinstance(a, tuple) else (a,))))

    rows = []
    for n in args.seeds:
        t = statistics.median(times[f"train_{n}"])
        env_steps = n * args.iterations * config.env_steps_per_iteration * config.num_envs
        updates = n * args.iterations * config.updates_per_iteration
        rows.append({"seeds": n, "seconds": t, "env_steps_per_s": env_steps / t,
                     "updates_per_s": updates / t, "compile_s": compile_s[f"train_{n}"]})
    t_imag = statistics.median(times["imagine"])
    result = {
        "preset": args.preset, "config": {k: getattr(config, k) for k in PRESETS[args.preset]},
        "updates_per_env_step": config.updates_per_env_step, "iterations": args.iterations,
        "repeats": args.repeats, "train": rows,
        "imagine": {"batch": 1024, "horizon": 15, "seconds": t_imag,
                    "imagined_steps_per_s": 1024 * 15 / t_imag,
                    "compile_s": compile_s["imagine"]},
        "device": str(jax.devices()[0]),
    }
    out = results_dir(args)
    name = "dreamer_throughput" + ("" if args.preset == "cpu" else f"_{args.preset}")
    written = write_json(out / f"{name}.json", result)
    lines = [f"# Dreamer throughput ({args.preset} preset, {result['device']})", "",
             describe(written["provenance"]), "",
             f"GRU {config.deter_size}, MLP {config.hidden_size}, latents "
             f"{config.stoch_groups}x{config.stoch_classes}, batch {config.batch_size} x "
             f"{config.sequence_length}, {config.updates_per_env_step:.4g} updates per env step; "
             f"median of {args.repeats} interleaved rounds of {args.iterations} iterations.", "",
             "| seeds | env steps/s | updates/s | compile (s) |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['seeds']} | {r['env_steps_per_s']:.1f} | {r['updates_per_s']:.2f} | "
              f"{r['compile_s']:.1f} |" for r in rows]
    lines += ["", f"Imagination alone (batch 1024, horizon 15, forward): "
                  f"{t_imag * 1e3:.1f} ms per rollout = "
                  f"{result['imagine']['imagined_steps_per_s']:.3g} imagined steps/s."]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
