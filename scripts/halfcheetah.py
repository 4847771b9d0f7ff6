"""The tutorial's exercise 3 on HalfCheetah (brax): SAC and MBPO, as far as a time budget allows.

    pip install -e ".[brax]"
    python scripts/halfcheetah.py --algo sac --seeds 3 --steps 100000 --time-limit 600
    python scripts/halfcheetah.py --algo mbpo --seeds 3 --steps 30000 --time-limit 600
    python scripts/halfcheetah.py --plot          (redraw the figure from the JSONs)

`envs.make("brax/halfcheetah", backend=...)`: 17-dim observations, 6 actions in [-1, 1],
1000-step episodes ended by the time limit only (HalfCheetah never terminates, so SAC
bootstraps through every episode end). All seeds of a method are one vmapped program, run in
compiled chunks of `--chunk` env steps; after each chunk the deterministic policy is evaluated
(`--eval-episodes` fresh episodes per seed) and the JSON is rewritten, so a run stopped by
`--time-limit` (checked between chunks) or killed keeps every chunk it finished.

Settings (`--preset paper`, the default, for a GPU): SAC 2 x 256, batch 256, Adam 3e-4, 5000
random warm-up steps, 1 update per env step; MBPO with the paper's model (7 x 4 x 200, 5 elites),
F = 250, horizon 1, 100k rollouts per refit (400 per env step), real ratio 0.05, G = 20 SAC
updates per env step, the same SAC networks and warm-up. `--preset small` shrinks networks,
rollouts and warm-up for a smoke run on a CPU. Results: `halfcheetah_<algo>.json` and
`halfcheetah.png` in scripts/runs/ (ignored), the committed scripts/results/ with --write-results,
or --out FOLDER.
"""

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np
from common import add_results_option, results_dir

from mbrl_jax import envs
from mbrl_jax.driver.loop import run_chunked
from mbrl_jax.mbpo import MBPOConfig
from mbrl_jax.mbpo import make_trainer as make_mbpo
from mbrl_jax.models import EnsembleConfig
from mbrl_jax.sac import SACConfig
from mbrl_jax.sac import make_trainer as make_sac
from mbrl_jax.stats.episodes import episode_returns, mean_and_ci, pad_episodes
from mbrl_jax.stats.provenance import write_json

ENV_ID = "brax/halfcheetah"
ALGOS = ("sac", "mbpo")


def configs(preset: str, steps: int, eval_episodes: int) -> dict:
    """SAC and MBPO configs of one preset ("paper" or "small")."""
    small = preset == "small"
    warmup = 200 if small else 5000
    sac = SACConfig(hidden_sizes=(32, 32) if small else (256, 256),
                    batch_size=64 if small else 256, buffer_size=min(steps, 1_000_000),
                    warmup_steps=warmup, updates_per_step=1, total_steps=steps,
                    eval_episodes=eval_episodes)
    model = EnsembleConfig.mbpo(17, 6, hidden_sizes=(32,) * 2, max_epochs=5,
                                layer_weight_decay=(2.5e-5, 5e-5, 1e-4)) if small else \
        EnsembleConfig.mbpo(17, 6)
    mbpo = MBPOConfig(total_steps=steps, env_steps_per_iteration=250, warmup_steps=warmup,
                      rollout_starts=500 if small else 100_000, rollout_schedule=(0, 1, 1, 1),
                      updates_per_step=2 if small else 20, real_ratio=0.05, model=model,
                      sac=sac, eval_episodes=eval_episodes)
    return {"sac": sac, "mbpo": mbpo}


def run(algo: str, args) -> dict:
    env, params = envs.make(ENV_ID, backend=args.backend)
    config = configs(args.preset, args.steps, args.eval_episodes)[algo]
    trainer = (make_sac if algo == "sac" else make_mbpo)(config, env, params)
    per_iter = trainer.env_steps_per_iteration
    out = args.out / f"halfcheetah_{algo}.json"
    record = {"algorithm": algo, "env": ENV_ID, "backend": args.backend, "preset": args.preset,
              "seeds": args.seeds, "planned_env_steps": args.steps, "env_steps": 0,
              "eval_steps": [], "eval_return_per_seed": [], "train_return_per_seed": [],
              "device": str(jax.devices()[0].device_kind), "config": repr(config)}
    rewards: list[np.ndarray] = []  # per chunk, [seeds, chunk env steps]
    dones: list[np.ndarray] = []
    start = time.perf_counter()
    deadline = start + args.time_limit

    def on_chunk(chunk) -> None:
        rewards.append(np.asarray(chunk.metrics["reward"]).reshape(args.seeds, -1))
        dones.append(np.asarray(chunk.metrics["done"]).reshape(args.seeds, -1))
        train = pad_episodes(episode_returns(np.concatenate(rewards, 1),
                                             np.concatenate(dones, 1)))
        if chunk.eval_metrics:
            ret = np.asarray(chunk.eval_metrics["return"]).mean(-1)  # [seeds, evals]
            record["eval_steps"] += [int(s) for s in chunk.eval_steps]
            record["eval_return_per_seed"] += ret.T.tolist()
        elapsed = time.perf_counter() - start
        record.update(env_steps=chunk.env_steps, train_return_per_seed=train.tolist(),
                      wall_seconds=elapsed,
                      wall_seconds_per_env_step=elapsed / chunk.env_steps)
        write_json(out, record)
        last = record["eval_return_per_seed"][-1] if record["eval_steps"] else []
        print(f"{algo} {chunk.env_steps:>7} env steps, {elapsed:6.0f} s, greedy return "
              f"{np.mean(last) if last else float('nan'):8.1f} (per seed "
              f"{np.round(last, 1).tolist()})", flush=True)

    eval_every = max(1, args.chunk // per_iter) * per_iter  # env steps, whole iterations
    result = run_chunked(trainer, jax.random.split(jax.random.key(args.seed), args.seeds),
                         chunk_steps=args.chunk, on_chunk=on_chunk, eval_every=eval_every,
                         keep_metrics=False, stop=lambda: time.perf_counter() > deadline)
    record.update(compile_seconds=result.compile_seconds, run_seconds=result.run_seconds,
                  run_seconds_per_env_step=result.run_seconds / max(record["env_steps"], 1))
    write_json(out, record)
    print(f"wrote {out}: {record['env_steps']} env steps in {record['wall_seconds']:.0f} s "
          f"(compile {result.compile_seconds:.0f} s)")
    return record


def plot(folder: Path) -> Path | None:
    """Greedy return against env steps, mean and 95% band over seeds, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    drawn = False
    for algo in ALGOS:
        path = folder / f"halfcheetah_{algo}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        if not rec["eval_steps"]:
            continue
        steps = np.asarray(rec["eval_steps"])
        mean, half = mean_and_ci(np.asarray(rec["eval_return_per_seed"]).T)
        label = (f"{algo.upper()} ({rec['seeds']} seeds, {rec['wall_seconds']:.0f} s on "
                 f"{rec['device']})")
        ax.plot(steps, mean, marker="o", ms=3, label=label)
        ax.fill_between(steps, mean - half, mean + half, alpha=0.2)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel="env steps", ylabel="greedy return (1000-step episode)",
           title="HalfCheetah (brax): mean and 95% band over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / "halfcheetah.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=ALGOS + ("both",), default="both")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="root PRNG seed")
    parser.add_argument("--steps", type=int, default=100_000, help="planned env steps per seed")
    parser.add_argument("--time-limit", type=float, default=600.0,
                        help="seconds; no new chunk starts after this")
    parser.add_argument("--chunk", type=int, default=5000, help="env steps per chunk and eval")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--preset", choices=("paper", "small"), default="paper")
    parser.add_argument("--backend", default="spring", help="brax physics backend")
    add_results_option(parser)
    parser.add_argument("--plot", action="store_true", help="only redraw the figure")
    args = parser.parse_args()
    args.out = results_dir(args)
    if not args.plot:
        for algo in ALGOS if args.algo == "both" else (args.algo,):
            run(algo, args)
    print(f"figure: {plot(args.out)}")


if __name__ == "__main__":
    main()
