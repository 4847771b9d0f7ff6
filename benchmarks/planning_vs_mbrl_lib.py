"""Planning one action: our jitted CEM (`mbrl_jax.planning.plan_action`) against mbrl-lib's
PETS planner (`TrajectoryOptimizerAgent` + `CEMOptimizer`, PyPI `mbrl` 0.2.0), same run (issue 17).

The work, identical on both sides: Pendulum-v1 (obs 3, action 1 in [-2, 2]); a randomly
initialised probabilistic ensemble of 5 members of L x H SiLU (swish) layers with a reward head
(4 inputs, 8 outputs: means and log-variances of 3 deltas and the reward), normalised inputs;
CEM with population 500, 50 elites (mbrl-lib's `elite_ratio` 0.1), 5 iterations (no early
exit on either side), alpha 0.1, horizon 30, the truncated normal with the variance capped at the
bounds, the final mean returned; 20 particles per candidate (10000 rows a step, 2000 per
member), TS-inf (each particle keeps one member for the horizon, dealt out in equal blocks:
mbrl-lib's "fixed_model", our "fixed_member"); each step sampled from the member's Gaussian;
Pendulum's known reward `-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)` from the predicted next
observation on both sides (the reward head is computed and not used), no termination. Each call
is warm-started from the last plan shifted by one step (mbrl-lib's `keep_last_solution`, our
`PlanState`), as an MPC agent runs. Weights do not change the work, so no model is trained.

Timed: one `agent.act(obs)` (replan_freq 1, so every call plans) against one call of our
`jax.jit`-ed step (plan, shift, next key) with the observation from the host and the action
back on it (`np.asarray`, after `block_until_ready`), warm (compiled and run once first). Our
compile time (lower + compile) is reported apart. mbrl-lib is run as shipped: its
`ModelEnv.evaluate_action_sequences` runs under `torch.no_grad()` (not `torch.inference_mode()`);
its CEM sampling outside it needs no gradients either (no tensor requires one).

Threads: each side runs in its own process pinned to the same T cores (`sched_setaffinity`;
XLA sizes its CPU thread pool by them), and mbrl-lib also calls `torch.set_num_threads(T)`.
The two processes alternate, one call at a time, so they never run at once. Per round each side
plans R observations (the same list on both sides); its round time is the median of the R; the
ratio per round is mbrl-lib's median over ours; the headline is the median of those ratios.

mbrl-lib lives in its own venv (see benchmarks/vs_mbrl_lib.py's docstring for how to make it);
its side is `benchmarks/_mbrl_lib_runner.py`'s "plan" command.

Run:  python benchmarks/planning_vs_mbrl_lib.py [--venv /work/venv-mbrl] [--rounds 3]
      [--calls 3] [--threads 1 2] [--sizes 4x200 3x64] [--quick]
Writes planning_vs_mbrl_lib.json and .md into benchmarks/runs/ (ignored by git), the committed
benchmarks/results/ with --write-results, or --out DIR. `--ours-only` times our side alone
(no mbrl-lib venv needed).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from output import add_results_option, describe, load_average, results_dir, write_json  # noqa: E402

MEMBERS, HORIZON, POPULATION, ELITES, ITERATIONS, ALPHA, PARTICLES = 5, 30, 500, 50, 5, 0.1, 20
LOW, HIGH = -2.0, 2.0  # Pendulum-v1's torque bounds
SETTINGS = {"members": MEMBERS, "horizon": HORIZON, "population": POPULATION,
            "elite_ratio": ELITES / POPULATION, "iterations": ITERATIONS, "alpha": ALPHA,
            "particles": PARTICLES}


def pendulum_reward(obs, action, next_obs):
    """Pendulum-v1's reward from the predicted next observation [cos, sin, theta_dot] and the
    action (one transition; `obs` unused): -(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)."""
    import jax.numpy as jnp

    del obs
    theta = jnp.arctan2(next_obs[1], next_obs[0])  # in (-pi, pi], normalised
    u = jnp.clip(action[0], LOW, HIGH)
    return -(theta ** 2 + 0.1 * next_obs[2] ** 2 + 0.001 * u ** 2)


def make_planner(hidden: int, layers: int, seed: int):
    """Our planner for the benchmark's settings. Returns `(act, compile_seconds)`: `act(obs)`
    plans one action from the host observation `[3]` and returns it on the host, carrying the
    warm start and the key between calls."""
    import jax

    from mbrl_jax import planning
    from mbrl_jax.models import EnsembleConfig, make_ensemble

    config = EnsembleConfig(obs_dim=3, action_dim=1, ensemble_size=MEMBERS, num_elites=MEMBERS,
                            hidden_sizes=(hidden,) * layers, activation="swish")
    model = make_ensemble(config)
    cem = planning.CEMConfig(horizon=HORIZON, population_size=POPULATION, num_elites=ELITES,
                             num_iterations=ITERATIONS, alpha=ALPHA)
    low, high = np.full((1,), LOW, np.float32), np.full((1,), HIGH, np.float32)

    def step(model_state, plan_state, key, obs):
        key, plan_key = jax.random.split(key)
        rollout_fn = planning.ensemble_rollout_fn(model, model_state, "fixed_member")  # TS-inf
        objective = lambda seqs, k: planning.evaluate_action_sequences(  # noqa: E731
            rollout_fn, obs, seqs, k, PARTICLES, reward_fn=pendulum_reward, termination="none")
        action, plan_state, _ = planning.plan_action(cem, objective, plan_state, plan_key,
                                                     low, high)
        return action, plan_state, key

    init_key, key = jax.random.split(jax.random.key(seed))
    carry = {"model": model.init(init_key), "plan": planning.init_plan(cem, low, high),
             "key": key}
    obs0 = np.zeros((3,), np.float32)
    t0 = time.perf_counter()
    compiled = jax.jit(step).lower(carry["model"], carry["plan"], carry["key"], obs0).compile()
    compile_seconds = time.perf_counter() - t0

    def act(obs) -> np.ndarray:
        action, carry["plan"], carry["key"] = compiled(carry["model"], carry["plan"],
                                                       carry["key"],
                                                       np.asarray(obs, np.float32))
        return np.asarray(jax.block_until_ready(action))

    return act, compile_seconds


def worker() -> None:
    """Our side as a process, speaking `_mbrl_lib_runner.py`'s protocol: the "plan" command
    (one JSON line in, one out), so both sides are driven alike."""
    import jax

    planners: dict = {}
    print(json.dumps({"ready": True, "jax": jax.__version__,
                      "cpus": sorted(os.sched_getaffinity(0))}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        key = (cmd["hidden"], cmd["layers"], cmd["seed"])
        out = {}
        if key not in planners:
            planners[key] = make_planner(*key)
            out["compile_seconds"] = planners[key][1]
        act = planners[key][0]
        times, actions = [], []
        for obs in cmd["obs"]:
            t0 = time.perf_counter()
            action = act(obs)
            times.append(time.perf_counter() - t0)
            actions.append(action.astype(np.float64).tolist())
        print(json.dumps({**out, "seconds": times, "actions": actions}), flush=True)


class Side:
    """A runner process pinned to `cpus`, one JSON command per call."""

    def __init__(self, argv: list, cpus: set):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.proc.args[1]} exited (see its stderr above)")
        return json.loads(line)

    def __call__(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def observations(count: int, seed: int) -> list:
    """`count` Pendulum observations [cos, sin, theta_dot] of random states (theta uniform,
    theta_dot in [-1, 1], as Pendulum-v1's reset)."""
    rng = np.random.default_rng(seed)
    theta, theta_dot = rng.uniform(-np.pi, np.pi, count), rng.uniform(-1, 1, count)
    return np.stack([np.cos(theta), np.sin(theta), theta_dot], 1).astype(np.float32).tolist()


def parse_size(text: str) -> tuple[int, int]:
    layers, hidden = text.split("x")
    return int(layers), int(hidden)


def measure(args) -> dict:
    cases = {}
    our_argv = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker"]
    lib_argv = [str(args.venv / "bin" / "python"), str(HERE / "_mbrl_lib_runner.py")]
    for threads in args.threads:
        cpus = set(sorted(os.sched_getaffinity(0))[:threads])
        if len(cpus) < threads:
            sys.exit(f"--threads {threads}: only {len(cpus)} cores available")
        ours = Side(our_argv, cpus)
        lib = None if args.ours_only else Side(lib_argv, cpus)
        try:
            for size in args.sizes:
                layers, hidden = parse_size(size)
                cases[f"{size}_{threads}thread{'s' if threads > 1 else ''}"] = measure_case(
                    args, ours, lib, threads, layers, hidden)
        finally:
            ours.close()
            if lib is not None:
                lib.close()
    info = {"ours": ours.info, "mbrl_lib": None if lib is None else lib.info}
    return {"cases": cases, "processes": info}


def measure_case(args, ours: Side, lib: Side | None, threads: int, layers: int,
                 hidden: int) -> dict:
    cmd = {"cmd": "plan", "threads": threads, "hidden": hidden, "layers": layers, "seed": 0,
           **SETTINGS}
    warm = ours(**cmd, obs=observations(2, 0))  # compile, then two warm calls
    compile_seconds = warm["compile_seconds"]
    if lib is not None:
        out = lib(**cmd, obs=observations(1, 0))  # build the agent, one call
        assert out["elites"] == ELITES, out
    times = {"ours": [], "mbrl_lib": []}
    every = {"ours": [], "mbrl_lib": []}
    load = []
    for r in range(args.rounds):
        obs = observations(args.calls, r + 1)
        order = [("ours", ours), ("mbrl_lib", lib)]
        if r % 2:
            order.reverse()  # alternate which side goes first
        for name, side in order:
            if side is None:
                continue
            out = side(**cmd, obs=obs)
            assert np.isfinite(out["actions"]).all() and np.abs(out["actions"]).max() <= HIGH
            times[name].append(statistics.median(out["seconds"]))
            every[name].append(out["seconds"])
        load.append(round(os.getloadavg()[0], 2))
        print(f"{layers}x{hidden}, {threads} thread(s), round {r}: ours "
              f"{times['ours'][-1] * 1e3:.1f} ms" + (
                  f", mbrl-lib {times['mbrl_lib'][-1] * 1e3:.1f} ms, ratio "
                  f"{times['mbrl_lib'][-1] / times['ours'][-1]:.2f}x" if lib else "")
              + f", load {load[-1]}", flush=True)
    case = {"layers": layers, "hidden": hidden, "threads": threads,
            "calls_per_round": args.calls, "our_compile_seconds": compile_seconds,
            "seconds_per_action": {"median_per_round": times, "every_call": every},
            "median_seconds_per_action": {k: statistics.median(v) for k, v in times.items() if v},
            "load_average_1min_after_each_round": load}
    if lib is not None:
        ratios = [a / b for a, b in zip(times["mbrl_lib"], times["ours"], strict=True)]
        case["speedup_per_round"] = ratios
        case["speedup_median"] = statistics.median(ratios)
    return case


def write(out: pathlib.Path, result: dict) -> None:
    written = write_json(out / "planning_vs_mbrl_lib.json", result)
    lib = result["processes"]["mbrl_lib"]
    lines = [
        "# Planning one action: mbrl-jax's CEM against mbrl-lib's TrajectoryOptimizerAgent", "",
        describe(written["provenance"]), "",
        f"Pendulum-v1, ensemble of {MEMBERS} randomly initialised members (L x H swish), CEM "
        f"population {POPULATION}, {ELITES} elites, {ITERATIONS} iterations, horizon {HORIZON}, "
        f"{PARTICLES} particles (TS-inf), Pendulum's reward from the predicted next observation, "
        "warm-started from the last plan; one action per call, every call plans. "
        f"{result['rounds']} rounds of {result['calls_per_round']} calls per side, alternating; "
        "per round the median call; the ratio is the median of the per-round ratios. Both sides "
        "pinned to the same T cores (mbrl-lib also `torch.set_num_threads(T)`). "
        f"Load average {result['load_average_1_5_15_min']} (1/5/15 min) at the end. "
        + (f"mbrl-lib {lib['mbrl']} with torch {lib['torch']}, numpy {lib['numpy']}. "
           if lib else "mbrl-lib not run (--ours-only). ")
        + "See benchmarks/planning_vs_mbrl_lib.py for the exact settings.", "",
        "| ensemble | threads | ours, s per action | mbrl-lib, s per action | speed-up "
        "(per round) | our compile, s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case in result["cases"].values():
        med = case["median_seconds_per_action"]
        per_round = case.get("speedup_per_round", [])
        lines.append(
            f"| {MEMBERS} x {case['layers']} x {case['hidden']} | {case['threads']} | "
            f"{med['ours']:.3f} | " + (
                f"{med['mbrl_lib']:.3f} | {case['speedup_median']:.2f}x "
                f"({', '.join(f'{x:.2f}' for x in per_round)}) | " if per_round else "- | - | ")
            + f"{case['our_compile_seconds']:.1f} |")
    (out / "planning_vs_mbrl_lib.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path("/work/venv-mbrl"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=3, help="calls per round and side")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sizes", nargs="+", default=["4x200", "3x64"],
                        help="hidden layers x width of each member")
    parser.add_argument("--ours-only", action="store_true", help="time our side alone")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 call, 3x64, 1 thread")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    add_results_option(parser)
    args = parser.parse_args()
    if args.worker:
        return worker()
    if args.quick:
        args.rounds, args.calls, args.threads, args.sizes = 1, 1, [1], ["3x64"]
    if not args.ours_only and not (args.venv / "bin" / "python").exists():
        sys.exit(f"no mbrl-lib venv at {args.venv}: see benchmarks/vs_mbrl_lib.py's docstring")
    result = {"rounds": args.rounds, "calls_per_round": args.calls, "settings": SETTINGS,
              **measure(args), "load_average_1_5_15_min": load_average()}
    write(results_dir(args), result)


if __name__ == "__main__":
    main()
