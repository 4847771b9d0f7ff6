"""Tutorial exercise 3: model-free (SAC) against model-based (MBPO) on Pendulum-v1.

Return against env steps for each method (5 seeds, vmapped in one program), mean and a 95% band,
plus wall-clock and compute (XLA's FLOP count) per env step. Each method is one function
`run_<method>(num_seeds, total_steps, seed) -> dict` in `METHODS`; its result goes to its own
JSON (`tutorial_exercise3_<method>.json`), and the plot draws every method whose JSON exists.

Curves: the deterministic policy's return (mean of `EVAL_EPISODES` fresh episodes per seed),
measured every `EVAL_EVERY` env steps, and the training episodes' returns (stochastic policy and
warm-up included) at the env step each episode ends.

Run:  python scripts/tutorial_exercise3.py                      (SAC, 5 seeds, 10k steps)
      python scripts/tutorial_exercise3.py --methods mbpo         (MBPO, 5 seeds, 3k steps)
      python scripts/tutorial_exercise3.py --quick              (a smoke run)
      python scripts/tutorial_exercise3.py --write-results      (write to scripts/results/)
      python scripts/tutorial_exercise3.py --plot-only A.json B.json --plot-path P.png
By default results go to scripts/runs/ (ignored by git); --out DIR writes them to DIR.
"""

import argparse
import dataclasses
import json
import pathlib

import jax
import numpy as np
from common import add_results_option, results_dir  # this folder (scripts/) is on the path
from exercise3_mbpo import PRESETS

from mbrl_jax import envs
from mbrl_jax.core.types import Transition
from mbrl_jax.driver import run_chunked
from mbrl_jax.sac import SACConfig, make_agent_for_env, make_trainer
from mbrl_jax.stats.episodes import mean_and_ci
from mbrl_jax.stats.provenance import write_json

ENV_ID = "Pendulum-v1"
TARGET_RETURN = -200.0
EVAL_EVERY = 500
EVAL_EPISODES = 10

# Tuned for Pendulum: 64x64 networks (about a tenth of 256x256's compute per env step) and Adam
# step 1e-3 for actor, critics and temperature (a vmapped sweep, 4 seeds each: 3e-4 was slower
# and less stable within 10k steps). Other values are the paper's.
SAC_CONFIG = SACConfig(hidden_sizes=(64, 64), batch_size=256, warmup_steps=1_000,
                       updates_per_step=1, buffer_size=100_000, actor_lr=1e-3, critic_lr=1e-3,
                       alpha_lr=1e-3, eval_episodes=EVAL_EPISODES)


def run_trainer(trainer, num_seeds: int, seed: int, eval_every: int) -> dict:
    """Run a `Trainer` for `num_seeds` seeds (vmapped) through the driver's `run_chunked`, in
    compiled chunks of `eval_every` env steps with its evaluation after each. Returns curves and
    costs (numpy / floats); `run_s` is the compiled chunks' wall time, evaluations included."""
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    result = run_chunked(trainer, keys, chunk_steps=eval_every, eval_every=eval_every)
    reward, done = result.metrics["reward"], result.metrics["done"]    # [seeds, T, N]
    env_steps = reward.shape[1] * reward.shape[2]     # per seed (all its parallel envs)
    extra = {}
    if "model/epochs" in result.metrics:  # MBPO: epochs of each refit, one per iteration
        f = trainer.env_steps_per_iteration
        extra["model_epochs"] = result.metrics["model/epochs"][:, f - 1 :: f]
    return {
        **extra,
        "eval_steps": result.eval_steps.tolist(),
        "eval_return": result.eval_metrics["return"].mean(axis=2).tolist(),  # [seeds, points]
        "train_episodes": training_episodes(reward, done),
        "compile_s": result.compile_seconds,
        "run_s": result.run_seconds,
        # the vmapped program steps all seeds at once: wall time per env step of that program,
        # and divided by the number of seeds
        "wall_ms_per_env_step": 1e3 * result.run_seconds / env_steps,
        "wall_ms_per_env_step_per_seed": 1e3 * result.run_seconds / (env_steps * num_seeds),
        "num_seeds": num_seeds,
        "env_steps": env_steps,
    }


def training_episodes(reward: np.ndarray, done: np.ndarray) -> dict:
    """Per seed: (env step at which each episode ended, its return); reward, done [S, T, N]."""
    ends, returns = [], []
    for s in range(reward.shape[0]):
        e, r = [], []
        for n in range(reward.shape[2]):
            idx = np.flatnonzero(done[s, :, n])
            csum = np.concatenate([[0.0], np.cumsum(reward[s, :, n])])
            starts = np.concatenate([[0], idx[:-1] + 1])
            e += ((idx + 1) * reward.shape[2]).tolist()
            r += (csum[idx + 1] - csum[starts]).tolist()
        order = np.argsort(e, kind="stable")
        ends.append(np.asarray(e)[order].tolist())
        returns.append(np.asarray(r)[order].tolist())
    return {"end_step": ends, "return": returns}


def flops(fn, *args) -> float:
    """XLA's FLOP count of one call of `fn` (straight-line code: no loops inside to undercount)."""
    return float(jax.jit(fn).lower(*args).compile().cost_analysis().get("flops", np.nan))


def run_sac(num_seeds: int, total_steps: int, seed: int) -> dict:
    config = dataclasses.replace(SAC_CONFIG, total_steps=total_steps)
    env, env_params = envs.make(ENV_ID)
    result = run_trainer(make_trainer(config, env, env_params), num_seeds, seed, EVAL_EVERY)
    # compute per env step after warm-up: one action plus G gradient steps on a batch
    agent = make_agent_for_env(config, env, env_params)
    state = agent.init(jax.random.key(0))
    obs_dim = int(np.prod(env.observation_space(env_params).shape))
    batch = Transition(obs=np.zeros((config.batch_size, obs_dim), np.float32),
                       action=np.zeros((config.batch_size, 1), np.float32),
                       reward=np.zeros(config.batch_size, np.float32),
                       next_obs=np.zeros((config.batch_size, obs_dim), np.float32),
                       done=np.zeros(config.batch_size, bool))
    per_step = (flops(agent.act, state, np.zeros((obs_dim,), np.float32), jax.random.key(0))
                + config.updates_per_step * flops(agent.update, state, batch, jax.random.key(0),
                                                  config.hparams()))
    return {"method": "sac", "config": config.__dict__, "flops_per_env_step": per_step,
            **result}


def run_mbpo(num_seeds: int, total_steps: int, seed: int, preset: str = "cpu") -> dict:
    """MBPO with `exercise3_mbpo.pendulum_config` (F = 250 env steps per refit) and evaluation
    every `EVAL_EVERY` env steps. Compute per env step: the action, G SAC updates, and the
    refit's model updates and the rollouts amortised over the F env steps of their period."""
    from exercise3_mbpo import pendulum_config

    from mbrl_jax.mbpo import make_trainer as make_mbpo_trainer
    from mbrl_jax.models import TrainBatch, make_ensemble

    config = dataclasses.replace(pendulum_config(total_steps, preset),
                                 eval_episodes=EVAL_EPISODES)
    env, env_params = envs.make(ENV_ID)
    result = run_trainer(make_mbpo_trainer(config, env, env_params), num_seeds, seed, EVAL_EVERY)
    obs_dim, f = 3, config.env_steps_per_iteration
    agent = make_agent_for_env(config.sac, env, env_params)
    state = agent.init(jax.random.key(0))
    b = config.sac.batch_size
    batch = Transition(obs=np.zeros((b, obs_dim), np.float32), action=np.zeros((b, 1), np.float32),
                       reward=np.zeros(b, np.float32), next_obs=np.zeros((b, obs_dim), np.float32),
                       done=np.zeros(b, bool))
    mcfg = config.model_config(obs_dim, 1)
    model = make_ensemble(mcfg)
    mstate = model.init(jax.random.key(0))
    e, mb = mcfg.ensemble_size, mcfg.batch_size
    tb = TrainBatch(np.zeros((e, mb, mcfg.input_dim), np.float32),
                    np.zeros((e, mb, mcfg.target_dim), np.float32), np.zeros((e, mb), np.float32))
    model_step = flops(model.update, mstate, tb)
    starts = np.zeros((config.rollout_starts, obs_dim), np.float32)
    rollout = flops(lambda s, a, k: model.rollout_policy(
        s, k, starts, lambda kk, o: agent.act(a, o, kk), config.max_horizon), mstate, state,
        jax.random.key(0))
    # model updates per env step: epochs x minibatches per refit, from the run's metrics
    epochs = np.asarray(result.pop("model_epochs"))
    held = np.arange(1, epochs.shape[1] + 1) * f
    train_rows = held - np.minimum(np.floor(held * mcfg.holdout_ratio), mcfg.max_holdout)
    model_updates = float((epochs * np.maximum(train_rows // mb, 1)).mean(0).sum()) / (
        total_steps)
    per_step = (flops(agent.act, state, np.zeros((obs_dim,), np.float32), jax.random.key(0))
                + config.updates_per_step * flops(agent.update, state, batch, jax.random.key(0),
                                                  config.sac.hparams())
                + model_updates * model_step + rollout / f)
    return {"method": "mbpo", "preset": preset, "config": repr(config),
            "flops_per_env_step": per_step, "model_updates_per_env_step": model_updates,
            "flops_model_update": model_step, "flops_rollouts_per_refit": rollout, **result}


METHODS = {"sac": run_sac, "mbpo": run_mbpo}


def summarise(result: dict) -> dict:
    """Mean eval return with its 95% half-width at each point, the first env step where the
    mean reaches the target, and the final mean."""
    ret = np.asarray(result["eval_return"])                  # [seeds, points]
    mean, half = mean_and_ci(ret, axis=0)
    reached = np.flatnonzero(mean >= TARGET_RETURN)
    return {
        "eval_mean": mean.tolist(), "eval_ci95": half.tolist(),
        "first_step_mean_eval_return_ge_target": (int(result["eval_steps"][reached[0]])
                                                   if len(reached) else None),
        "final_eval_mean": float(mean[-1]), "final_eval_ci95": float(half[-1]),
    }


def plot(results: dict, path: pathlib.Path) -> None:
    from mbrl_jax.stats.plotting import figure

    fig, (ax_eval, ax_train) = figure(ncols=2, width=6.0)
    for name, res in results.items():
        steps, summary = np.asarray(res["eval_steps"]), res["summary"]
        mean, half = np.asarray(summary["eval_mean"]), np.asarray(summary["eval_ci95"])
        line, = ax_eval.plot(steps, mean, label=f"{name} ({res['num_seeds']} seeds)")
        ax_eval.fill_between(steps, mean - half, mean + half, alpha=0.25,
                             color=line.get_color())
        # training episodes: bin by the env step at which they ended, mean per seed, then over seeds
        bins = np.asarray(res["eval_steps"])
        per_seed = []
        for ends, rets in zip(res["train_episodes"]["end_step"],
                              res["train_episodes"]["return"], strict=True):
            which = np.searchsorted(bins, np.asarray(ends), side="left")
            per_seed.append([np.mean(np.asarray(rets)[which == b]) if np.any(which == b)
                             else np.nan for b in range(len(bins))])
        m, h = mean_and_ci(np.asarray(per_seed), axis=0)
        ax_train.plot(bins, m, color=line.get_color(), label=name)
        ax_train.fill_between(bins, m - h, m + h, alpha=0.25, color=line.get_color())
    for ax, title in ((ax_eval, f"deterministic policy ({EVAL_EPISODES} episodes per seed)"),
                      (ax_train, "training episodes (stochastic, warm-up included)")):
        ax.axhline(TARGET_RETURN, color="grey", ls="--", lw=1)
        ax.set_xlabel("env steps")
        ax.set_ylabel("return per episode")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(f"Tutorial exercise 3 on {ENV_ID}: mean and 95% band over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["sac"], choices=sorted(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None,
                        help="env steps per seed (default: 10000 for SAC)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1000 steps")
    parser.add_argument("--mbpo-preset", default="cpu", choices=PRESETS,
                        help="MBPO's settings (exercise3_mbpo.pendulum_config)")
    add_results_option(parser)
    parser.add_argument("--plot-only", type=pathlib.Path, nargs="+", default=None,
                        metavar="JSON", help="only draw these result files (label: file name) "
                        "into --plot-path")
    parser.add_argument("--plot-path", type=pathlib.Path, default=None)
    args = parser.parse_args()
    if args.plot_only:
        path = args.plot_path or results_dir(args) / "tutorial_exercise3.png"
        plot({p.stem.removeprefix("tutorial_exercise3_"): json.loads(p.read_text())
              for p in args.plot_only}, path)
        print(f"plot: {path}")
        return
    out = results_dir(args)
    default_steps = {"sac": 10_000, "mbpo": 3_000}
    for name in args.methods:
        steps = 1_000 if args.quick else (args.steps or default_steps.get(name, 10_000))
        extra = {"preset": args.mbpo_preset} if name == "mbpo" else {}
        result = METHODS[name](2 if args.quick else args.seeds, steps, args.seed, **extra)
        result["summary"] = summarise(result)
        path = out / f"tutorial_exercise3_{name}.json"
        write_json(path, result)
        s = result["summary"]
        print(f"{name}: final eval return {s['final_eval_mean']:.1f} +- "
              f"{s['final_eval_ci95']:.1f}; mean >= {TARGET_RETURN} from env step "
              f"{s['first_step_mean_eval_return_ge_target']}; run {result['run_s']:.1f} s "
              f"(compile {result['compile_s']:.1f} s), "
              f"{result['wall_ms_per_env_step']:.2f} ms per env step of {result['num_seeds']} "
              f"vmapped seeds, "
              f"{result['flops_per_env_step'] / 1e6:.1f} MFLOP per env step; wrote {path}")
    results = {p.stem.removeprefix("tutorial_exercise3_"): json.loads(p.read_text())
               for p in sorted(out.glob("tutorial_exercise3_*.json"))}
    plot(results, out / "tutorial_exercise3.png")
    print(f"plot: {out / 'tutorial_exercise3.png'}")


if __name__ == "__main__":
    main()
