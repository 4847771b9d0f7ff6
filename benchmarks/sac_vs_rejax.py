"""SAC against rejax's SAC on Pendulum-v1: env steps per second of a whole compiled run and the
return after it, at 1 and 16 vmapped seeds, with the same network sizes, batch, updates per env
step, learning rate, discount, Polyak rate, warm-up length and replay size.

Both libraries run `jit(vmap(train))(keys)` over the whole run; each timing excludes compilation
and a first untimed run (compiled once, run once, then timed). The runs of the two libraries
alternate in interleaved rounds, the order reversed every other round, so a busy machine slows
both alike; the markdown gives each round's ratio (rejax's time over ours) next to the 1-minute
load average, since on a shared machine the ratio of two medians can swing with the load (at a
load of 20-25 on 2 cores, three 3k-step rounds gave per-round ratios 1.12, 0.74, 1.08, yet 0.80
as a ratio of medians). The return is that of each library's final deterministic policy
(tanh of the Gaussian mean, rescaled), measured by the same evaluator on fresh episodes.

rejax 0.1.3 calls `env.step` with gymnax's pre-1.0 five-value API; gymnax 1.0 returns six values,
so rejax runs through `FiveValueStep`, a thin adapter that reports `terminated | truncated` as
rejax expects. Differences that remain, by design of each library: rejax's warm-up acts with the
initial policy (ours: uniform random actions); rejax treats Pendulum's time limit as a terminal
state and stores the auto-reset observation as the next one (ours bootstraps through the time
limit from the true final observation); rejax clips log-std to [-10, 2] (ours [-20, 2]).

Run:  python benchmarks/sac_vs_rejax.py --out DIR                 (CPU preset: 64x64 networks)
      python benchmarks/sac_vs_rejax.py --out DIR --preset gpu    (256x256 networks)
      python benchmarks/sac_vs_rejax.py --out DIR --quick         (a smoke run)
Writes DIR/sac_vs_rejax.json and .md; without --out, into benchmarks/runs/ (ignored by git), or
the committed benchmarks/results/ with --write-results.
"""

import argparse
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from output import add_results_option, describe, results_dir, write_json

from mbrl_jax import envs
from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.sac import SACConfig, make_agent_for_env, make_train
from mbrl_jax.stats.episodes import mean_and_ci

ENV_ID = "Pendulum-v1"
PRESETS = {"cpu": {"hidden": (64, 64)}, "gpu": {"hidden": (256, 256)}}
EVAL_EPISODES = 20


class FiveValueStep:
    """gymnax 1.0 env seen through the pre-1.0 step API: (obs, state, reward, done, info) with
    done = terminated | truncated. A plain class (no __getattr__), so rejax can deepcopy it."""

    def __init__(self, env):
        self.env = env
        self.name = env.name
        self.num_actions = getattr(env, "num_actions", None)

    @property
    def default_params(self):
        return self.env.default_params

    def reset(self, key, params=None):
        return self.env.reset(key, params)

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self.env.step(key, state, action,
                                                                        params)
        return obs, state, reward, terminated | truncated, info

    def action_space(self, params=None):
        return self.env.action_space(params)

    def observation_space(self, params=None):
        return self.env.observation_space(params)


def settings(preset: str, steps: int) -> dict:
    return {"hidden": PRESETS[preset]["hidden"], "batch_size": 256, "updates_per_step": 1,
            "lr": 3e-4, "gamma": 0.99, "tau": 0.005, "warmup": 1_000,
            "buffer_size": steps, "total_steps": steps, "num_envs": 1}


def ours(s: dict):
    env, params = envs.make(ENV_ID)
    config = SACConfig(hidden_sizes=s["hidden"], batch_size=s["batch_size"],
                       updates_per_step=s["updates_per_step"], actor_lr=s["lr"],
                       critic_lr=s["lr"], alpha_lr=s["lr"], gamma=s["gamma"], tau=s["tau"],
                       warmup_steps=s["warmup"], buffer_size=s["buffer_size"],
                       total_steps=s["total_steps"], num_envs=s["num_envs"], eval_episodes=0)
    train = jax.vmap(make_train(config, env, params))
    agent = make_agent_for_env(config, env, params)

    def policy_of(state):
        return lambda obs, key: agent.act(state, obs, key, deterministic=True)

    return train, lambda out: out[0], policy_of


def rejax_sac(s: dict):
    from rejax import SAC

    env, params = envs.make(ENV_ID)
    algo = SAC.create(
        env=FiveValueStep(env), env_params=params, total_timesteps=s["total_steps"],
        eval_freq=s["total_steps"], skip_initial_evaluation=True, num_envs=s["num_envs"],
        fill_buffer=s["warmup"], batch_size=s["batch_size"], buffer_size=s["buffer_size"],
        num_epochs=s["updates_per_step"], learning_rate=s["lr"], gamma=s["gamma"],
        polyak=1.0 - s["tau"], hidden_layer_sizes=s["hidden"])
    algo = algo.replace(eval_callback=lambda algo, ts, rng: jnp.zeros(()))  # time training only
    low, high = np.float32(env.action_space(params).low), np.float32(
        env.action_space(params).high)

    def policy_of(ts):
        def policy(obs, key):
            dist = algo.actor.apply(ts.actor_ts.params, obs[None], method="_action_dist")
            return ((low + high) / 2 + (high - low) / 2 * jnp.tanh(dist.mean()))[0]
        return policy

    return jax.vmap(algo.train), lambda out: out[0], policy_of


LIBRARIES = {"mbrl-jax": ours, "rejax": rejax_sac}


def final_returns(policy_of, states, num_seeds: int) -> np.ndarray:
    """Mean deterministic return per seed over EVAL_EPISODES fresh episodes: [num_seeds]."""
    env, params = envs.make(ENV_ID)

    def one(state, key):
        return evaluate_policy(env, params, policy_of(state), key, EVAL_EPISODES,
                               int(params.max_steps_in_episode)).return_.mean()

    keys = jax.random.split(jax.random.key(123), num_seeds)
    return np.asarray(jax.jit(jax.vmap(one))(states, keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_results_option(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--steps", type=int, default=10_000, help="env steps per seed")
    parser.add_argument("--rounds", type=int, default=1, help="timed runs of each, interleaved")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--render", type=pathlib.Path, default=None,
                        help="only rewrite the markdown next to this results JSON")
    args = parser.parse_args()
    if args.render is not None:
        write_markdown(json.loads(args.render.read_text()), args.render.with_suffix(".md"))
        return
    steps = 300 if args.quick else args.steps
    s = settings(args.preset, steps)
    if args.quick:
        s.update(hidden=(8,), warmup=100, batch_size=16)
    folder = results_dir(args)

    libraries = dict(LIBRARIES)
    try:
        import rejax
        rejax_version = getattr(rejax, "__version__", "0.1.3")
    except ImportError as err:  # e.g. a GPU machine without it: measure ours alone, say so
        print(f"rejax not importable ({err}); measuring mbrl-jax only")
        libraries.pop("rejax")
        rejax_version = None
    rows = []
    for num_seeds in args.seeds:
        keys = jax.random.split(jax.random.key(0), num_seeds)
        compiled, result = {}, {}
        for name, build in libraries.items():
            train, final_state, policy_of = build(s)
            t0 = time.perf_counter()
            fn = jax.jit(train).lower(keys).compile()
            compiled[name] = (fn, final_state, policy_of)
            result[name] = {"compile_s": time.perf_counter() - t0, "run_s": [],
                            "load_1min": []}
            # one untimed run first (first-call costs), which also gives the final policies:
            # the timed runs use the same keys, so they end in the same states
            out = jax.block_until_ready(fn(keys))
            returns = final_returns(policy_of, final_state(out), num_seeds)
            result[name]["final_return_per_seed"] = returns.tolist()
            del out
        for round_ in range(args.rounds):
            # alternate the order (A B, B A, ...) so load that drifts within a round hits both
            order = list(compiled) if round_ % 2 == 0 else list(compiled)[::-1]
            for name in order:
                result[name]["load_1min"].append(round(os.getloadavg()[0], 2))
                t0 = time.perf_counter()
                jax.block_until_ready(compiled[name][0](keys))
                result[name]["run_s"].append(time.perf_counter() - t0)
        for name, r in result.items():
            run_s = float(np.median(r["run_s"]))
            mean, half = mean_and_ci(np.asarray(r["final_return_per_seed"]))
            rows.append({"library": name, "seeds": num_seeds, **r,
                         "median_run_s": run_s,
                         "env_steps_per_s": num_seeds * steps / run_s,
                         "final_return_mean": float(mean), "final_return_ci95": float(half)})
            print(f"{name:9s} seeds={num_seeds:3d}: {rows[-1]['env_steps_per_s']:8.0f} env steps/s"
                  f" (median of {len(r['run_s'])}, compile {r['compile_s']:.1f} s); return "
                  f"after {steps} steps {mean:.1f} +- {half:.1f}", flush=True)

    payload = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()},
               "preset": args.preset, "rounds": args.rounds, "alternating": True,
               "eval_episodes": EVAL_EPISODES,
               "rejax": rejax_version,
               "rows": rows}
    written = write_json(folder / "sac_vs_rejax.json", payload)
    write_markdown(written, folder / "sac_vs_rejax.md")
    print((folder / "sac_vs_rejax.md").read_text())


def write_markdown(payload: dict, path: pathlib.Path) -> None:
    """The results table with the settings and the machine, from the JSON payload (with its
    provenance block, or the "machine" and "date" of results written before it)."""
    rows, st = payload["rows"], payload["settings"]
    machine = payload["provenance"]["machine"] if "provenance" in payload else payload["machine"]
    steps = st["total_steps"]
    lines = [
        f"# SAC: mbrl-jax against rejax {payload['rejax']} on {ENV_ID}", "",
        f"Settings (both): hidden {st['hidden']}, batch {st['batch_size']}, "
        f"{st['updates_per_step']} update per env step, Adam {st['lr']}, gamma {st['gamma']}, "
        f"tau {st['tau']}, {st['warmup']} warm-up steps, replay {st['buffer_size']}, "
        f"{steps} env steps per seed, 1 env per seed; `jit(vmap(train))` over the seeds, "
        f"compile{' and one untimed first run' if payload.get('alternating') else ''} "
        f"excluded; median of {payload['rounds']} interleaved run(s)"
        f"{', the order alternating by round' if payload.get('alternating') else ''}. "
        f"Return: final deterministic policy, {payload['eval_episodes']} fresh episodes per "
        "seed, mean over seeds +- 95% CI (normal approximation).", "",
        "Ratio to rejax: of the median rates. Ratio per round: rejax's run time over this "
        "library's in the same round (> 1: faster than rejax), robust to load that drifts "
        "between rounds; load: the machine's 1-minute load average as each run started "
        f"({machine.get('cores')} cores; other jobs share the machine).", "",
        "| library | seeds | env steps/s (all seeds) | ratio to rejax | ratio per round | "
        f"load | compile s | return after {steps} steps |",
        "|---|---:|---:|---:|---|---|---:|---:|"]
    for row in rows:
        base = next((r for r in rows if r["library"] == "rejax" and r["seeds"] == row["seeds"]),
                    None)
        ratio = f"{row['env_steps_per_s'] / base['env_steps_per_s']:.2f}" if base else "n/a"
        per_round = "n/a"
        if base and row is not base:  # rejax's time over this library's, round by round
            ratios = [b / a for a, b in zip(row["run_s"], base["run_s"], strict=True)]
            per_round = (", ".join(f"{x:.2f}" for x in ratios)
                         + f" (median {np.median(ratios):.2f})")
        load = ", ".join(f"{x:.1f}" for x in row.get("load_1min", []))
        lines.append(f"| {row['library']} | {row['seeds']} | {row['env_steps_per_s']:.0f} | "
                     f"{ratio} | {per_round} | {load or 'n/a'} | "
                     f"{row['compile_s']:.1f} | {row['final_return_mean']:.1f} +- "
                     f"{row['final_return_ci95']:.1f} |")
    if "provenance" in payload:  # its load average: at the end
        lines += ["", describe(payload["provenance"])]
    else:
        m = payload["machine"]
        lines += ["", f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
                  f"jax {m.get('jax')} ({m.get('jax_backend')}); run {payload['date']}"
                  + (f"; load average at the end (1, 5, 15 min): {m['load_average_1_5_15_min']}."
                     if "load_average_1_5_15_min" in m else ".")]
    if payload.get("note"):
        lines += ["", payload["note"]]
    lines += ["", "Differences that remain by design: see the docstring of "
              "`benchmarks/sac_vs_rejax.py` (rejax's warm-up acts with its initial policy, "
              "treats the time limit as terminal and stores the reset observation as next "
              "observation; rejax 0.1.3 needs an adapter for gymnax 1.0's six-value step)."]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
