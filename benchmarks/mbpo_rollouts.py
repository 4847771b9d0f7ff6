"""Model rollouts for MBPO: our batched rollout against the tutorial's design.

400 start states, horizon 1 and 5, Pendulum shapes (obs 3, action 1), MBPO's ensemble (7 members,
5 elites, 4 x 200 swish) and a SAC-sized policy (2 x 256 tanh-Gaussian), float32. Cases, in the
same run, interleaved over rounds (median time, median of per-round ratios):

  * ours: `rollout_policy` over all 400 starts at once (one jitted call, `lax.scan` over the
    horizon; each particle computed by its random elite only); the ensemble's and the policy's
    states and the start states are arguments of the jitted call (as closure constants XLA
    would fold the first step's policy on the fixed start states into the program);
  * ours_all_members: the same call with `disagreement=True` (every elite evaluated per particle,
    as needed for the disagreement cut);
  * tutorial_loop: the tutorial's design, a Python loop over start states, each step calling the
    ensemble on one state (`predict` jitted for a batch of one), then picking a random elite's
    sampled prediction, and the jitted policy on that one state.

Run:  python benchmarks/mbpo_rollouts.py [--out DIR | --write-results] [--rounds 5]
Writes mbpo_rollouts.json and .md into benchmarks/runs/ (ignored by git), the committed
benchmarks/results/ with --write-results, or --out DIR.
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from output import add_results_option, describe, load_average, results_dir, write_json  # noqa: E402

from mbrl_jax.models import EnsembleConfig, make_ensemble  # noqa: E402
from mbrl_jax.sac import SACConfig, make_agent  # noqa: E402

OBS, ACT, STARTS = 3, 1, 400


def build():
    model = make_ensemble(EnsembleConfig.mbpo(OBS, ACT))
    state = model.init(jax.random.key(0))
    agent = make_agent(SACConfig(), OBS, -2 * np.ones(ACT), 2 * np.ones(ACT))
    agent_state = agent.init(jax.random.key(1))
    start = jax.random.normal(jax.random.key(2), (STARTS, OBS))
    return model, state, agent, agent_state, start


def make_cases(horizon: int):
    model, state, agent, agent_state, start = build()

    def batched(all_members: bool):
        def run(model_state, policy_state, k, obs):
            policy = lambda key, o: agent.act(policy_state, o, key)  # noqa: E731
            return model.rollout_policy(model_state, k, obs, policy, horizon,
                                        disagreement=all_members).next_obs

        # states and start states are arguments, not constants XLA could fold into the program
        run = jax.jit(run)
        return lambda k: jax.block_until_ready(run(state, agent_state, k, start))

    predict = jax.jit(lambda s, o, a, k: model.predict(s, o, a, key=k, elites_only=True))
    act = jax.jit(lambda s, k, o: agent.act(s, o, k))
    predict_one = lambda o, a, k: predict(state, o, a, k)  # noqa: E731
    act_one = lambda k, o: act(agent_state, k, o)  # noqa: E731

    def tutorial(key):
        rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
        out = []
        for i in range(STARTS):
            obs = start[i : i + 1]  # [1, O]
            for t in range(horizon):
                k = jax.random.fold_in(key, i * horizon + t)
                action = act_one(k, obs)
                pred = predict_one(obs, action, k)
                member = rng.integers(pred.sample_next_obs.shape[0])
                obs = pred.sample_next_obs[member]
            out.append(obs)
        return jax.block_until_ready(jnp.concatenate(out))

    return {"ours": batched(False), "ours_all_members": batched(True),
            "tutorial_loop": tutorial}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_option(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preset", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: same cases (the sizes are the task's)")
    args = parser.parse_args()
    results = {"load_average_1_5_15_min_at_start": load_average(), "starts": STARTS,
               "rounds": args.rounds,
               "horizons": {}}
    for horizon in (1, 5):
        cases = make_cases(horizon)
        for fn in cases.values():  # compile and warm up
            fn(jax.random.key(0))
        times = {name: [] for name in cases}
        for r in range(args.rounds):
            for name, fn in cases.items():
                t0 = time.perf_counter()
                fn(jax.random.key(r + 1))
                times[name].append(time.perf_counter() - t0)
        ratio = [t / o for t, o in zip(times["tutorial_loop"], times["ours"], strict=True)]
        ratio_all = [t / o for t, o in zip(times["tutorial_loop"], times["ours_all_members"],
                                           strict=True)]
        results["horizons"][horizon] = {
            "median_seconds": {k: statistics.median(v) for k, v in times.items()},
            "seconds": times,
            "speedup_ours_vs_tutorial_median": statistics.median(ratio),
            "speedup_ours_all_members_vs_tutorial_median": statistics.median(ratio_all),
        }
        print(horizon, json.dumps(results["horizons"][horizon]["median_seconds"]),
              f"speedup {statistics.median(ratio):.0f}x", flush=True)
    out = results_dir(args)
    written = write_json(out / "mbpo_rollouts.json", results)
    lines = ["# MBPO model rollouts: 400 starts, ours vs the tutorial's per-state loop", "",
             describe(written["provenance"]), "",
             f"Load average at start {results['load_average_1_5_15_min_at_start']} (1/5/15 min); "
             f"{args.rounds} interleaved rounds, medians.", "",
             "| horizon | ours (s) | ours, all elites (s) | tutorial loop (s) | speedup |",
             "|---|---|---|---|---|"]
    for h, row in results["horizons"].items():
        med, speedup = row["median_seconds"], row["speedup_ours_vs_tutorial_median"]
        lines.append(f"| {h} | {med['ours']:.4f} | {med['ours_all_members']:.4f} | "
                     f"{med['tutorial_loop']:.3f} | {speedup:.0f}x |")
    (out / "mbpo_rollouts.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
