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

  (a) fit: 5120 Pendulum-v1 transitions (uniform random actions), 7 members of 4 x 200 swish,
      5 elites, batch 256 per member, 20% holdout (1024 rows; the 4096 training rows make
      exactly 16 minibatches per epoch on both sides, no partial batch), N epochs without
      early stopping, a fresh ensemble each time: ours `jax.jit(model.fit)`
      (`EnsembleConfig.mbpo`, patience above N) against `GaussianMLP` in
      `OneDTransitionRewardModel` + `ModelTrainer.train` (learned log-variance bounds, SiLU).
      Seconds per epoch, the per-fit work (split, normaliser) included on both sides. Both
      evaluate every member on the whole holdout after each epoch.
  (b) rollout: the fitted ensembles, 1000 start states x 10 steps of given random actions,
      sampled, each particle through a random elite each step (TS-1): ours `model.rollout`
      (jitted) against `ModelEnv.reset` + 10 x `ModelEnv.step(..., sample=True)`; both compute
      each particle with its elite only (1000 / 5 rows per elite). Median of 5 per round.
  Matrix products alone: the products of (a)'s epoch (per minibatch the forward and both
      backward products of every layer, then the holdout forward) and of (b)'s rollout, same
      shapes and counts on random tensors, `jnp.einsum` over the stacked members against
      `torch.bmm`. They show how much of each case is matmul time, and the baseline's time over
      our products alone bounds the speed-up any code at our matmul speed could reach.
  (c) MBPO on Pendulum-v1, 1 seed, with our "cpu" preset's networks and ratios
      (scripts/exercise3_mbpo.py: real ratio 0.05, horizon 1, 4 periods of model data kept,
      G = 10 SAC updates per env step, SAC 2 x 64 batch 128 lr 1e-3, model 7 x 3 x 64 with 5
      elites) and this schedule: F = 320 env steps per refit (every refit's training rows,
      80% of a multiple of 320, are then whole batches of 256 on both sides), 4F = 1280
      rollouts per refit, and every refit exactly 30 epochs (early stopping off on both
      sides: the two libraries' rules differ, and the epochs run would otherwise be
      data-dependent work). mbrl-lib's
      `mbrl.algorithms.mbpo.train` runs F random warm-up steps outside its loop, then 4F loop
      steps (`num_steps`, `epoch_length` 4F; `dataset_size` 5F, so no row is overwritten); it
      refits after env steps 2F, 3F, 4F, 5F and starts SAC updates at its first refit (10 per
      step from then on; a few on real data before it, when its per-update draw picks the env
      buffer). It also evaluates one 200-step greedy episode at the end.
      Matched steady state (the headline): mbrl-lib from the end of its first refit (env step
      2F) to the end of its last (5F); ours, the difference of two compiled whole runs of 5F and
      2F env steps, (t(5F) - t(2F)) / 3F, with warm-up 2F. Both spans hold the same work: 3F =
      960 env steps, 9600 SAC updates (the script checks mbrl-lib's count), 3 refits of 30
      epochs on the same row counts (3F, 4F and 5F rows) and 3 rollout batches.
      Our 2F-step program has a 2F-row env buffer (the 5F one 5F rows), so its first two refits
      are a little cheaper than the 5F program's: this errs against us.
      Whole runs, 5F = 1600 env steps: ours (warm-up 2F) does 9600 SAC updates, 5 refits and 5
      rollout batches (one more of each than mbrl-lib, after its warm-up), no evaluation;
      mbrl-lib 9600 updates plus its early real-data ones, 4 refits, 4 rollout batches, one
      evaluation episode. Env steps/s per seed; our compile time not counted.

PyTorch runs at 1 and 2 threads (`torch.set_num_threads`; the machine has 2 cores) for (a) and
(b), the faster being the baseline; (c) at 1 thread (its networks are small). Median over rounds,
ratios the median of per-round ratios. The machine is shared: see the load averages written.

Run:  python benchmarks/vs_mbrl_lib.py [--venv /work/venv-mbrl] [--rounds 3] [--mbpo-rounds 2]
Writes vs_mbrl_lib.json and .md (vs_mbrl_lib_TAG.* with --tag TAG) into benchmarks/runs/
(ignored by git), the committed benchmarks/results/ with --write-results, or --out DIR.
"""

import argparse
import dataclasses
import json
import os
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
from output import add_results_option, describe, load_average, results_dir, write_json  # noqa: E402

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.core.types import Transition  # noqa: E402
from mbrl_jax.mbpo import make_train  # noqa: E402
from mbrl_jax.models import EnsembleConfig, make_ensemble  # noqa: E402

ROWS, STARTS, HORIZON, EPOCHS = 5120, 1000, 10, 5  # 4096 training rows: 16 batches of 256
ROLLOUT_REPEATS = 5  # rollouts per round and side (their median)
MLP_SIZES = [4, 200, 200, 200, 200, 8]  # (a)-(b)'s member: inputs, 4 x 200, outputs
F = 320  # env steps per refit: every refit's training rows (80%) are then a multiple of 256
MBPO_STEPS, LIB_WARMUP, OUR_WARMUP, MBPO_STARTS, MODEL_EPOCHS = 5 * F, F, 2 * F, 4 * F, 30


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
        times = []
        for i in range(ROLLOUT_REPEATS):
            t0 = time.perf_counter()
            traj = jax.block_until_ready(rollout(fitted["state"], jax.random.key(seed + 100 * i)))
            times.append(time.perf_counter() - t0)
        return {"seconds": statistics.median(times),
                "finite": bool(np.isfinite(np.asarray(traj.next_obs)).all())}

    return do_fit, do_rollout


def mbpo_config(total_steps: int):
    """Our "cpu" preset with the benchmark's schedule (see the docstring, case (c))."""
    base = pendulum_config(total_steps, "cpu")
    return dataclasses.replace(
        base, env_steps_per_iteration=F, warmup_steps=OUR_WARMUP, rollout_starts=MBPO_STARTS,
        model=dataclasses.replace(base.model, max_epochs=MODEL_EPOCHS,
                                  patience=MODEL_EPOCHS + 1))


def our_bare_matmuls():
    """Only the matrix products of (a)'s epoch and (b)'s rollout, as `_mbrl_lib_runner.matmul`
    does them with torch: batched `jnp.einsum` over the members on random tensors. Each
    product's result is summed into the loop carry, so none is pruned. Returns a function
    answering each one's median seconds of ROLLOUT_REPEATS."""
    k = jax.random.key(0)
    weights = [jax.random.normal(k, (7, i, o)) * 0.05 for i, o in
               zip(MLP_SIZES[:-1], MLP_SIZES[1:], strict=True)]

    def forward(ws, x):
        acts = [x]
        for w in ws:
            acts.append(jnp.einsum("ebi,eio->ebo", acts[-1], w))
        return acts

    def epoch(ws, x, x_hold):
        def batch(i, acc):
            acts = forward(ws, x + acc)
            grad, total = acts[-1], acts[-1].sum()
            for w, a in zip(ws[::-1], acts[-2::-1], strict=True):
                total += jnp.einsum("ebi,ebo->eio", a, grad).sum()  # dW
                grad = jnp.einsum("ebo,eio->ebi", grad, w)  # dX
            return acc + 1e-30 * (total + grad.sum())
        acc = jax.lax.fori_loop(0, ROWS * 4 // 5 // 256, batch, 0.0)
        return acc + forward(ws, x_hold + acc)[-1].sum()  # every member on every holdout row

    def roll(ws, x):
        elites = [w[:5] for w in ws]
        def step(i, acc):
            return acc + 1e-30 * forward(elites, x + acc)[-1].sum()
        return jax.lax.fori_loop(0, HORIZON, step, 0.0)

    cases = {"epoch_seconds": (jax.jit(epoch), (weights, jnp.ones((7, 256, 4)),
                                               jnp.ones((7, ROWS // 5, 4)))),
             "rollout_seconds": (jax.jit(roll), (weights, jnp.ones((5, STARTS // 5, 4))))}

    def run() -> dict:
        out = {}
        for name, (fn, args) in cases.items():
            jax.block_until_ready(fn(*args))
            times = []
            for _ in range(ROLLOUT_REPEATS):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(*args))
                times.append(time.perf_counter() - t0)
            out[name] = statistics.median(times)
        return out

    return run


def our_mbpo():
    """Compiled whole runs of MBPO_STEPS and of OUR_WARMUP env steps (1 seed, vmapped)."""
    env, params = envs.make("Pendulum-v1")
    keys = jax.random.split(jax.random.key(0), 1)
    programs, compile_s = {}, {}
    for steps in (MBPO_STEPS, OUR_WARMUP):
        train = jax.jit(jax.vmap(make_train(mbpo_config(steps), env, params)))
        t0 = time.perf_counter()
        programs[steps] = train.lower(keys).compile()
        compile_s[steps] = time.perf_counter() - t0
        _, metrics, _ = jax.block_until_ready(programs[steps](keys))  # first call (allocations)
        epochs = np.asarray(metrics["model/epochs"])[0, F - 1 :: F]
        assert (epochs == MODEL_EPOCHS).all(), epochs  # every refit runs the same epochs

    def run(steps: int, seed: int) -> float:
        keys = jax.random.split(jax.random.key(seed), 1)
        t0 = time.perf_counter()
        jax.block_until_ready(programs[steps](keys))
        return time.perf_counter() - t0

    return run, compile_s


def mbrl_lib_mbpo_cmd(config, seed: int) -> dict:
    model = config.model
    return {"cmd": "mbpo", "threads": 1, "seed": seed, "env_steps_per_iteration": F,
            "real_ratio": config.real_ratio, "warmup_steps": LIB_WARMUP,
            "sac_hidden": config.sac.hidden_sizes[0], "sac_lr": config.sac.actor_lr,
            "loop_steps": MBPO_STEPS - LIB_WARMUP, "dataset_size": MBPO_STEPS,
            "model_layers": len(model.hidden_sizes), "model_hidden": model.hidden_sizes[0],
            "model_max_epochs": MODEL_EPOCHS, "model_patience": 0,
            "rollout_starts": config.rollout_starts, "updates_per_step": config.updates_per_step,
            "sac_batch": config.sac.batch_size}


def median_ratio(num: list, den: list) -> float:
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def ratio_range(num: list, den: list) -> str:
    """The per-round ratios' range, e.g. "1.2-1.5"."""
    ratios = [a / b for a, b in zip(num, den, strict=True)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path("/work/venv-mbrl"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mbpo-rounds", type=int, default=2)
    add_results_option(parser)
    parser.add_argument("--quick", action="store_true", help="1 round of (a)-(b), no MBPO")
    parser.add_argument("--tag", default="", help="write vs_mbrl_lib_TAG.json/.md instead")
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
    write(results_dir(args), result, f"_{args.tag}" if args.tag else "")


def measure(args, lib: MbrlLib, data: dict) -> dict:
    do_fit, do_rollout = our_fit_and_rollout(data)
    do_fit(0)  # compile and warm up both sides
    do_rollout(0)
    lib(cmd="fit", threads=1, epochs=1, hidden=200, layers=4, seed=0)
    lib(cmd="rollout", threads=1)
    our_matmuls = our_bare_matmuls()
    fit_s = {"ours": [], "mbrl_lib_1thread": [], "mbrl_lib_2threads": []}
    roll_s = {k: [] for k in fit_s}
    matmul_s = {k: {"epoch_seconds": [], "rollout_seconds": []} for k in fit_s}
    for r in range(args.rounds):
        for name in fit_s:  # each fit is followed by a rollout of the ensemble it fitted
            if name == "ours":
                fit, roll, mm = do_fit(r + 1), do_rollout(r + 1), our_matmuls()
            else:
                threads = 1 if name.endswith("1thread") else 2
                fit = lib(cmd="fit", threads=threads, epochs=EPOCHS, hidden=200, layers=4,
                          seed=r + 1)
                roll = lib(cmd="rollout", threads=threads, seed=r + 1,
                           repeats=ROLLOUT_REPEATS)
                mm = lib(cmd="matmul", threads=threads, sizes=MLP_SIZES, batch=256,
                         batches=ROWS * 4 // 5 // 256, holdout=ROWS // 5, starts=STARTS,
                         horizon=HORIZON, repeats=ROLLOUT_REPEATS)
            assert fit["epochs"] == EPOCHS and roll["finite"], (name, fit, roll)
            fit_s[name].append(fit["seconds"] / EPOCHS)
            roll_s[name].append(roll["seconds"])
            for k, v in mm.items():
                matmul_s[name][k].append(v)
        print(f"round {r}: fit s/epoch", {k: round(v[-1], 3) for k, v in fit_s.items()},
              "rollout s", {k: round(v[-1], 4) for k, v in roll_s.items()}, "bare matmuls s",
              {k: [round(x[-1], 4) for x in v.values()] for k, v in matmul_s.items()},
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    result = {"load_average_1_5_15_min_after_a_b": load_average(), "rounds": args.rounds,
              "rows": ROWS,
              "epochs_per_fit": EPOCHS, "rollout": [STARTS, HORIZON]}
    for case, times, mm in (("fit_seconds_per_epoch", fit_s, "epoch_seconds"),
                            ("rollout_seconds", roll_s, "rollout_seconds")):
        base = min(("mbrl_lib_1thread", "mbrl_lib_2threads"),
                   key=lambda k: statistics.median(times[k]))
        bare = {k: v[mm] for k, v in matmul_s.items()}
        result[case] = {
            "median": {k: statistics.median(v) for k, v in times.items()},
            "all": times, "baseline": base,
            "speedup_vs_baseline": median_ratio(times[base], times["ours"]),
            "bare_matmuls": {"median": {k: statistics.median(v) for k, v in bare.items()},
                             "all": bare},
            # the most any code could gain over the baseline at our matmul speed
            "ceiling_vs_baseline": median_ratio(times[base], bare["ours"]),
            "our_matmul_fraction": statistics.median(
                a / b for a, b in zip(bare["ours"], times["ours"], strict=True)),
        }

    if args.mbpo_rounds == 0:
        return result
    run_ours, compile_s = our_mbpo()
    config = mbpo_config(MBPO_STEPS)
    steady_steps = MBPO_STEPS - OUR_WARMUP
    steady_updates = steady_steps * config.updates_per_step
    mbpo = {"ours": [], "ours_warmup_part": [], "mbrl_lib": [], "mbrl_lib_steady": [],
            "load_average_1min": []}
    runs = []
    for r in range(args.mbpo_rounds):
        mbpo["ours"].append(run_ours(MBPO_STEPS, r + 1))
        mbpo["ours_warmup_part"].append(run_ours(OUR_WARMUP, r + 1))
        out = lib(**mbrl_lib_mbpo_cmd(config, r + 1))
        refits, updates = out["refit_seconds_since_start"], out["updates_at_refit"]
        # mbrl-lib's steady state: from its first refit's end to its last's
        assert out["rows_at_refit"] == list(range(2 * F, MBPO_STEPS + 1, F)), out
        assert updates[-1] - updates[0] == steady_updates, out
        assert all(e == MODEL_EPOCHS for e in out["epochs_per_refit"]), out
        mbpo["mbrl_lib"].append(out["seconds"])
        mbpo["mbrl_lib_steady"].append(refits[-1] - refits[0])
        mbpo["load_average_1min"].append(os.getloadavg()[0])
        runs.append({k: out[k] for k in ("updates", "epochs_per_refit", "best_eval_return")})
        print(f"mbpo round {r}: ours {mbpo['ours'][-1]:.1f} s (first {OUR_WARMUP} steps "
              f"{mbpo['ours_warmup_part'][-1]:.1f} s), mbrl-lib {out['seconds']:.1f} s (refits "
              f"end at {[round(t) for t in refits]} s, {out['updates']} SAC updates)", flush=True)
    ours_rate = [MBPO_STEPS / s for s in mbpo["ours"]]
    lib_rate = [MBPO_STEPS / s for s in mbpo["mbrl_lib"]]
    ours_steady = [steady_steps / (a - b) for a, b in
                   zip(mbpo["ours"], mbpo["ours_warmup_part"], strict=True)]
    lib_steady = [steady_steps / s for s in mbpo["mbrl_lib_steady"]]
    result["mbpo"] = {
        "env_steps": MBPO_STEPS, "seeds": 1, "config": repr(config),
        "steady_state": {"env_steps": steady_steps, "sac_updates": steady_updates,
                         "refits": (MBPO_STEPS - OUR_WARMUP) // F, "epochs_per_refit":
                         MODEL_EPOCHS, "rollouts": (MBPO_STEPS - OUR_WARMUP) // F},
        "whole_run": {"ours_sac_updates": steady_updates, "ours_refits": MBPO_STEPS // F,
                      "mbrl_lib": runs},
        "our_compile_seconds": compile_s, "seconds": mbpo,
        "env_steps_per_second": {"ours": statistics.median(ours_rate),
                                 "mbrl_lib": statistics.median(lib_rate),
                                 "ours_steady_state": statistics.median(ours_steady),
                                 "mbrl_lib_steady_state": statistics.median(lib_steady)},
        "speedup_vs_mbrl_lib": median_ratio(ours_rate, lib_rate),
        "speedup_steady_state": median_ratio(ours_steady, lib_steady),
    }
    return result


def write(out: pathlib.Path, result: dict, suffix: str = "") -> None:
    written = write_json(out / f"vs_mbrl_lib{suffix}.json", result)
    lib = result["mbrl_lib"]
    fit, roll = result["fit_seconds_per_epoch"], result["rollout_seconds"]
    mbpo = result.get("mbpo", {"seconds": {"ours": []}})
    lines = [
        "# mbrl-jax against mbrl-lib on Pendulum-v1 (same data, interleaved)", "",
        describe(written["provenance"]), "",
        f"Load average {result['load_average_1_5_15_min_after_a_b']} (1/5/15 min) after "
        "(a)-(b). mbrl-lib "
        f"{lib['mbrl']} with torch {lib['torch']}, numpy {lib['numpy']}: {lib['install']}. "
        f"{result['rounds']} rounds for (a)-(b), {len(mbpo['seconds']['ours'])} for (c); "
        "medians. See benchmarks/vs_mbrl_lib.py for the exact settings.", "",
        "| case | ours | mbrl-lib, 1 thread | mbrl-lib, 2 threads | ours vs the faster "
        "(range over rounds) |",
        "|---|---:|---:|---:|---:|",
        f"| (a) fit, s per epoch ({result['rows']} rows, 7 x 4 x 200, batch 256) | "
        f"{fit['median']['ours']:.3f} | {fit['median']['mbrl_lib_1thread']:.3f} | "
        f"{fit['median']['mbrl_lib_2threads']:.3f} | {fit['speedup_vs_baseline']:.2f}x "
        f"({ratio_range(fit['all'][fit['baseline']], fit['all']['ours'])}) |",
        f"| (b) sampled rollout, s ({STARTS} starts x {HORIZON} steps, TS-1 over 5 elites) | "
        f"{roll['median']['ours']:.4f} | {roll['median']['mbrl_lib_1thread']:.4f} | "
        f"{roll['median']['mbrl_lib_2threads']:.4f} | {roll['speedup_vs_baseline']:.2f}x "
        f"({ratio_range(roll['all'][roll['baseline']], roll['all']['ours'])}) |",
    ]
    for name, case, fmt in (("(a)'s epoch", fit, ".3f"), ("(b)'s rollout", roll, ".4f")):
        bare, every = case["bare_matmuls"]["median"], case["bare_matmuls"]["all"]
        lines.append(
            f"| only the matrix products of {name}, s | {bare['ours']:{fmt}} | "
            f"{bare['mbrl_lib_1thread']:{fmt}} | {bare['mbrl_lib_2threads']:{fmt}} | "
            f"{median_ratio(every[case['baseline']], every['ours']):.2f}x "
            f"({ratio_range(every[case['baseline']], every['ours'])}) |")
    lines += [
        "", "The last two rows time only the matrix products of each case (same shapes and "
        "counts on random tensors: `jnp.einsum` over the stacked members against `torch.bmm`). "
        f"They take {fit['our_matmul_fraction']:.0%} of our epoch and "
        f"{roll['our_matmul_fraction']:.0%} of our rollout (medians of per-round fractions; "
        "timed apart, so noisy). The baseline's whole case divided by our products alone bounds "
        "what any code at our matmul speed could reach against it: "
        f"{fit['ceiling_vs_baseline']:.2f}x for (a), {roll['ceiling_vs_baseline']:.2f}x for (b).",
    ]
    if "env_steps" in mbpo:
        lines += mbpo_lines(mbpo)
    (out / f"vs_mbrl_lib{suffix}.md").write_text("\n".join(lines) + "\n")


def mbpo_lines(mbpo: dict) -> list[str]:
    rate, steady, secs = mbpo["env_steps_per_second"], mbpo["steady_state"], mbpo["seconds"]
    steps = steady["env_steps"]
    ours_steady = [steps / (a - b) for a, b in zip(secs["ours"], secs["ours_warmup_part"],
                                                   strict=True)]
    lib_steady = [steps / s for s in secs["mbrl_lib_steady"]]
    lib_updates = sorted({run["updates"] for run in mbpo["whole_run"]["mbrl_lib"]})
    return [
        "", f"(c) MBPO on Pendulum-v1, 1 seed, mbrl-lib at 1 thread, F = {F}, "
        f"{len(mbpo['seconds']['ours'])} rounds (load average "
        f"{[round(x, 1) for x in mbpo['seconds']['load_average_1min']]} after each). "
        f"**Matched steady state** (the same work on both sides: {steady['env_steps']} env "
        f"steps, {steady['sac_updates']} SAC updates, {steady['refits']} refits of exactly "
        f"{steady['epochs_per_refit']} epochs on the same row counts, {steady['rollouts']} "
        f"rollout batches): ours {rate['ours_steady_state']:.1f} env steps/s, mbrl-lib "
        f"{rate['mbrl_lib_steady_state']:.2f} (**{mbpo['speedup_steady_state']:.1f}x**, "
        f"{ratio_range(ours_steady, lib_steady)} over rounds). "
        f"Whole runs of {mbpo['env_steps']} env steps: ours {rate['ours']:.1f} env steps/s, "
        f"mbrl-lib {rate['mbrl_lib']:.2f} ({mbpo['speedup_vs_mbrl_lib']:.1f}x, "
        f"{ratio_range(secs['mbrl_lib'], secs['ours'])}); there ours does "
        f"{mbpo['whole_run']['ours_sac_updates']} SAC updates and "
        f"{mbpo['whole_run']['ours_refits']} refits, mbrl-lib {lib_updates} updates, "
        f"{mbpo['whole_run']['ours_refits'] - 1} refits and one 200-step evaluation episode. "
        f"Ours is `jit(vmap(train))` over 1 seed (the CLI's path) and compiles in "
        f"{max(mbpo['our_compile_seconds'].values()):.0f} s (not counted).",
    ]


if __name__ == "__main__":
    main()
