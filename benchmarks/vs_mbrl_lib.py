"""Our dynamics ensemble and MBPO against mbrl-lib's (PyPI `mbrl` 0.2.0), on the same data.

mbrl-lib's pins (hydra-core 1.0.3, omegaconf < 2.1, ...) no longer resolve, so it lives in its
own virtual environment, installed without its dependencies plus the few it imports:

    python3 -m venv /work/venv-mbrl
    /work/venv-mbrl/bin/pip install "mbrl==0.2.0" --no-deps
    /work/venv-mbrl/bin/pip install omegaconf hydra-core gymnasium==0.26.3 "numpy<2" \\
        termcolor tqdm matplotlib imageio
    /work/venv-mbrl/bin/pip install torch    # a CPU build (here torch 2.13.0+cpu)

This script (our venv) makes the data, writes it to an .npz and drives
`benchmarks/_mbrl_lib_runner.py` in mbrl-lib's venv over a pipe, one command at a time, so the two
libraries alternate in the same rounds and never run at once. Cases:

  (a) fit: 5000 Pendulum-v1 transitions (uniform random actions), 7 members of 4 x 200 swish,
      5 elites, batch 256 per member, 20% holdout, N epochs without early stopping, a fresh
      ensemble each time: ours `jax.jit(model.fit)` (`EnsembleConfig.mbpo`, patience above N)
      against `GaussianMLP` in `OneDTransitionRewardModel` + `ModelTrainer.train` (learned
      log-variance bounds, SiLU). Seconds per epoch, the per-fit work (split, normaliser)
      included on both sides.
  (b) rollout: the fitted ensembles, 1000 start states x 10 steps of given random actions,
      sampled, each particle through a random elite each step (TS-1): ours `model.rollout`
      (jitted) against `ModelEnv.reset` + 10 x `ModelEnv.step(..., sample=True)`.
  (c) MBPO: whole runs on Pendulum-v1 with the settings of our "cpu" preset
      (scripts/exercise3_mbpo.py): F = 250, 250 random warm-up steps, real ratio 0.05, horizon
      1, 1000 rollouts per refit, 4 periods of model data kept, G = 10 SAC updates per step,
      SAC 2 x 64 batch 128 lr 1e-3, model 7 x 3 x 64 (5 elites, at most 30 epochs, patience 5).
      mbrl-lib's `mbrl.algorithms.mbpo.train` counts its warm-up outside `num_steps` and runs
      whole epochs of `epoch_length` = 4F steps, so it runs 250 + 1000 env steps; ours runs
      `total_steps` = 1250. mbrl-lib starts SAC updates only once its model buffer holds a batch
      (after the first refit, 751 updating steps); ours updates from step 250 on (1000 updating
      steps), so ours does a third more SAC updates. mbrl-lib also evaluates one episode per
      1000 steps (200 greedy env steps). Env steps/s of the whole run (ours: the second call of
      the compiled program, 1 seed) and mbrl-lib's steady state between its first and last refit.

PyTorch runs at 1 and 2 threads (`torch.set_num_threads`; the machine has 2 cores) for (a) and
(b), the faster being the baseline; (c) at 1 thread (its networks are small). Median over rounds,
ratios the median of per-round ratios.

Run:  python benchmarks/vs_mbrl_lib.py [--venv /work/venv-mbrl] [--rounds 3] [--mbpo-rounds 2]
Writes benchmarks/results/vs_mbrl_lib.json and .md.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
from exercise3_mbpo import pendulum_config  # noqa: E402
from machine import describe_machine  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.core.types import Transition  # noqa: E402
from mbrl_jax.mbpo import make_train  # noqa: E402
from mbrl_jax.models import EnsembleConfig, make_ensemble  # noqa: E402

ROWS, STARTS, HORIZON, EPOCHS = 5000, 1000, 10, 5
MBPO_STEPS, WARMUP, F = 1250, 250, 250


def pendulum_data(key: jax.Array) -> dict:
    """ROWS transitions of Pendulum-v1 under uniform random torques (one env, auto-reset), plus
    rollout start states and actions `[HORIZON, STARTS, 1]`."""
    env, params = envs.make("Pendulum-v1")
    reset_key, run_key, start_key, act_key = jax.random.split(key, 4)
    obs, state = env.reset(reset_key, params)

    def step(carry, k):
        obs, state = carry
        step_key, a_key = jax.random.split(k)
        action = jax.random.uniform(a_key, (1,), minval=-2.0, maxval=2.0)
        next_obs, state, reward, _, _, info = env.step(step_key, state, action, params)
        return (next_obs, state), (obs, action, reward, info["final_observation"],
                                   info["terminated"])

    _, (o, a, r, n, d) = jax.lax.scan(step, (obs, state), jax.random.split(run_key, ROWS))
    starts = jax.random.choice(start_key, ROWS, (STARTS,), replace=False)
    actions = jax.random.uniform(act_key, (HORIZON, STARTS, 1), minval=-2.0, maxval=2.0)
    data = dict(obs=o, action=a, reward=r, next_obs=n, terminated=d, rollout_obs=o[starts],
                rollout_actions=actions)
    return {k: np.asarray(v, np.float32 if k != "terminated" else bool) for k, v in data.items()}


class MbrlLib:
    """_mbrl_lib_runner.py in mbrl-lib's venv, one JSON command per call."""

    def __init__(self, python: pathlib.Path, data_path: pathlib.Path):
        self.proc = subprocess.Popen([str(python), str(HERE / "_mbrl_lib_runner.py"),
                                      str(data_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("_mbrl_lib_runner.py exited (see its stderr above)")
        return json.loads(line)

    def __call__(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def our_fit_and_rollout(data: dict):
    config = EnsembleConfig.mbpo(3, 1, max_epochs=EPOCHS, patience=EPOCHS + 1)
    model = make_ensemble(config)
    dataset = Transition(*(jnp.asarray(data[k]) for k in
                           ("obs", "action", "reward", "next_obs", "terminated")))
    fit = jax.jit(model.fit)
    init = jax.jit(model.init)
    obs0, actions = jnp.asarray(data["rollout_obs"]), jnp.asarray(data["rollout_actions"])
    rollout = jax.jit(lambda s, k: model.rollout(s, k, obs0, actions, elites_only=True))
    fitted = {}

    def do_fit(seed: int) -> dict:
        state = jax.block_until_ready(init(jax.random.key(seed)))
        t0 = time.perf_counter()
        state, info = jax.block_until_ready(fit(state, dataset, jax.random.key(seed + 1)))
        seconds = time.perf_counter() - t0
        fitted["state"] = state
        return {"seconds": seconds, "epochs": int(info.num_epochs)}

    def do_rollout(seed: int) -> dict:
        t0 = time.perf_counter()
        traj = jax.block_until_ready(rollout(fitted["state"], jax.random.key(seed)))
        return {"seconds": time.perf_counter() - t0,
                "finite": bool(np.isfinite(np.asarray(traj.next_obs)).all())}

    return do_fit, do_rollout


def our_mbpo():
    env, params = envs.make("Pendulum-v1")
    config = pendulum_config(MBPO_STEPS, "cpu")
    train = jax.jit(jax.vmap(make_train(config, env, params)))
    keys = jax.random.split(jax.random.key(0), 1)
    t0 = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(keys))  # first call (allocations)

    def run(seed: int) -> dict:
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.split(jax.random.key(seed), 1)))
        return {"seconds": time.perf_counter() - t0}

    return run, compile_s, config


def mbrl_lib_mbpo_cmd(config, seed: int) -> dict:
    model = config.model
    return {"cmd": "mbpo", "threads": 1, "seed": seed, "env_steps_per_iteration": F,
            "real_ratio": config.real_ratio, "warmup_steps": config.warmup_steps,
            "sac_hidden": config.sac.hidden_sizes[0], "sac_lr": config.sac.actor_lr,
            "loop_steps": MBPO_STEPS - config.warmup_steps,
            "model_layers": len(model.hidden_sizes), "model_hidden": model.hidden_sizes[0],
            "model_max_epochs": model.max_epochs, "rollout_starts": config.rollout_starts,
            "updates_per_step": config.updates_per_step, "sac_batch": config.sac.batch_size}


def median_ratio(num: list, den: list) -> float:
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path("/work/venv-mbrl"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mbpo-rounds", type=int, default=2)
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    parser.add_argument("--quick", action="store_true", help="1 round of (a)-(b), no MBPO")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.mbpo_rounds = 1, 0
    if not (args.venv / "bin" / "python").exists():
        sys.exit(f"no mbrl-lib venv at {args.venv}: see this script's docstring to make one")
    data = pendulum_data(jax.random.key(0))
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "pendulum.npz"
        np.savez(path, **data)
        lib = MbrlLib(args.venv / "bin" / "python", path)
        try:
            result = measure(args, lib, data)
        finally:
            lib.close()
    result["mbrl_lib"] = {**lib.info, "install": "pip install mbrl==0.2.0 --no-deps, plus "
                          "omegaconf, hydra-core, gymnasium==0.26.3, numpy<2, termcolor, tqdm, "
                          "matplotlib, imageio, torch (CPU build), in its own venv"}
    write(args.out, result)


def measure(args, lib: MbrlLib, data: dict) -> dict:
    do_fit, do_rollout = our_fit_and_rollout(data)
    do_fit(0)  # compile and warm up both sides
    do_rollout(0)
    lib(cmd="fit", threads=1, epochs=1, hidden=200, layers=4, seed=0)
    lib(cmd="rollout", threads=1)
    fit_s = {"ours": [], "mbrl_lib_1thread": [], "mbrl_lib_2threads": []}
    roll_s = {k: [] for k in fit_s}
    for r in range(args.rounds):
        for name in fit_s:  # each fit is followed by a rollout of the ensemble it fitted
            if name == "ours":
                fit, roll = do_fit(r + 1), do_rollout(r + 1)
            else:
                threads = 1 if name.endswith("1thread") else 2
                fit = lib(cmd="fit", threads=threads, epochs=EPOCHS, hidden=200, layers=4,
                          seed=r + 1)
                roll = lib(cmd="rollout", threads=threads, seed=r + 1)
            assert fit["epochs"] == EPOCHS and roll["finite"], (name, fit, roll)
            fit_s[name].append(fit["seconds"] / EPOCHS)
            roll_s[name].append(roll["seconds"])
        print(f"round {r}: fit s/epoch", {k: round(v[-1], 3) for k, v in fit_s.items()},
              "rollout s", {k: round(v[-1], 4) for k, v in roll_s.items()}, flush=True)
    result = {"machine": describe_machine(), "rounds": args.rounds, "rows": ROWS,
              "epochs_per_fit": EPOCHS, "rollout": [STARTS, HORIZON]}
    for case, times in (("fit_seconds_per_epoch", fit_s), ("rollout_seconds", roll_s)):
        base = min(("mbrl_lib_1thread", "mbrl_lib_2threads"),
                   key=lambda k: statistics.median(times[k]))
        result[case] = {"median": {k: statistics.median(v) for k, v in times.items()},
                        "all": times, "baseline": base,
                        "speedup_vs_baseline": median_ratio(times[base], times["ours"])}

    if args.mbpo_rounds == 0:
        return result
    run_ours, compile_s, config = our_mbpo()
    mbpo = {"ours": [], "mbrl_lib": [], "mbrl_lib_steady_seconds_per_step": []}
    for r in range(args.mbpo_rounds):
        mbpo["ours"].append(run_ours(r + 1)["seconds"])
        out = lib(**mbrl_lib_mbpo_cmd(config, r + 1))
        mbpo["mbrl_lib"].append(out["seconds"])
        refits = out["refit_seconds_since_start"]
        mbpo["mbrl_lib_steady_seconds_per_step"].append(
            (refits[-1] - refits[0]) / (F * (len(refits) - 1)))
        print(f"mbpo round {r}: ours {mbpo['ours'][-1]:.1f} s, mbrl-lib {out['seconds']:.1f} s"
              f" (refits at {[round(t) for t in refits]} s)", flush=True)
    ours_rate = [MBPO_STEPS / s for s in mbpo["ours"]]
    lib_rate = [MBPO_STEPS / s for s in mbpo["mbrl_lib"]]
    lib_steady = [1 / s for s in mbpo["mbrl_lib_steady_seconds_per_step"]]
    result["mbpo"] = {
        "env_steps": MBPO_STEPS, "seeds": 1, "config": repr(config),
        "our_compile_seconds": compile_s, "seconds": mbpo,
        "env_steps_per_second": {"ours": statistics.median(ours_rate),
                                 "mbrl_lib": statistics.median(lib_rate),
                                 "mbrl_lib_steady_state": statistics.median(lib_steady)},
        "speedup_vs_mbrl_lib": median_ratio(ours_rate, lib_rate),
        "speedup_vs_mbrl_lib_steady_state": median_ratio(ours_rate, lib_steady),
    }
    return result


def write(out: pathlib.Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "vs_mbrl_lib.json").write_text(json.dumps(result, indent=2) + "\n")
    m, lib = result["machine"], result["mbrl_lib"]
    fit, roll = result["fit_seconds_per_epoch"], result["rollout_seconds"]
    mbpo = result.get("mbpo", {"seconds": {"ours": []}})
    lines = [
        "# mbrl-jax against mbrl-lib on Pendulum-v1 (same data, interleaved)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average_1_5_15_min']}"
        f" (1/5/15 min) after (a)-(b); jax {m.get('jax')} ({m.get('jax_backend')}). mbrl-lib "
        f"{lib['mbrl']} with torch {lib['torch']}, numpy {lib['numpy']}: {lib['install']}. "
        f"{result['rounds']} rounds for (a)-(b), {len(mbpo['seconds']['ours'])} for (c); "
        "medians. See benchmarks/vs_mbrl_lib.py for the exact settings.", "",
        "| case | ours | mbrl-lib, 1 thread | mbrl-lib, 2 threads | ours vs the faster |",
        "|---|---:|---:|---:|---:|",
        f"| (a) fit, s per epoch ({result['rows']} rows, 7 x 4 x 200, batch 256) | "
        f"{fit['median']['ours']:.3f} | {fit['median']['mbrl_lib_1thread']:.3f} | "
        f"{fit['median']['mbrl_lib_2threads']:.3f} | {fit['speedup_vs_baseline']:.2f}x |",
        f"| (b) sampled rollout, s ({STARTS} starts x {HORIZON} steps, TS-1 over 5 elites) | "
        f"{roll['median']['ours']:.4f} | {roll['median']['mbrl_lib_1thread']:.4f} | "
        f"{roll['median']['mbrl_lib_2threads']:.4f} | {roll['speedup_vs_baseline']:.2f}x |",
    ]
    if "env_steps" in mbpo:
        lines += mbpo_lines(mbpo)
    (out / "vs_mbrl_lib.md").write_text("\n".join(lines) + "\n")


def mbpo_lines(mbpo: dict) -> list[str]:
    rate = mbpo["env_steps_per_second"]
    return [
        "", f"(c) MBPO, {mbpo['env_steps']} env steps, 1 seed, mbrl-lib at 1 thread: ours "
        f"{rate['ours']:.1f} env steps/s, mbrl-lib {rate['mbrl_lib']:.2f} over its whole run "
        f"(**{mbpo['speedup_vs_mbrl_lib']:.1f}x**) and {rate['mbrl_lib_steady_state']:.2f} in "
        f"its steady state between refits ({mbpo['speedup_vs_mbrl_lib_steady_state']:.1f}x). "
        f"Ours compiles in {mbpo['our_compile_seconds']:.0f} s (not counted) and does a third "
        "more SAC updates than mbrl-lib's loop in the same env steps (see the script).",
    ]


if __name__ == "__main__":
    main()
