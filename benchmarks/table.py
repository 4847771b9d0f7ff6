"""The cross-algorithm table: every registered algorithm on every env of a fixed list it accepts,
under one stated budget, with the same evaluation and statistics.

    python benchmarks/table.py --budget small               # the 2-core CPU, under an hour
    python benchmarks/table.py --budget full --out DIR      # the real budget, on a GPU
    python benchmarks/table.py --budget small --algorithms pets      # add only the PETS rows
    [--seeds 5] [--envs ID ...] [--force] [--write-results] [--out DIR]

Rows are the algorithms of the registry (`mbrl_jax.cli.registry`) together with `ISSUE_ROWS`
(the issue's list): a row whose algorithm is not registered is written "not run: not
registered", never dropped. Columns are the envs of `ENVS`. A cell whose algorithm refuses the
env (its `check_env` raises) is marked with the reason ("n/a: discrete actions only").

Each cell trains `--seeds` seeds (default 5) as one vmapped program through the driver's
`run_chunked`, with the driver's greedy evaluation (`Trainer.evaluate`, inside the compiled
program) `EVALS[budget]` times per run. Reported per cell: the final evaluation's IQM over seeds
(each seed's mean over its eval episodes) with a 95% percentile-bootstrap band
(`stats.compare.iqm_band`); the env steps per seed (all its parallel envs) at the first
evaluation whose IQM reaches the env's threshold (`THRESHOLDS`); compile and run wall-clock and
env steps/s over all seeds (the run time includes the evaluations); updates per env step (from
the config: what one "update" is differs by algorithm, see `updates_per_env_step`); the machine.

Budgets (`BUDGETS`): for each (algorithm, env family) one preset and one number of env steps per
seed, per budget. The presets are the documented ones (the registry's defaults, or the presets of
the scripts that produced the results in docs/results.md, imported from scripts/ so there is one
source); the only per-env settings are those the docs list (Dreamer's gamma 0.99 on CartPole) and
the evaluation horizon `EVAL_STEPS`, which is the same for every algorithm on an env. `small`
(2-core CPU, each cell about 1-3 minutes including compile; under an hour in all) gives MuZero
and Dreamer budgets far below what they need: their small cells say what a few minutes of CPU
buy, not what the algorithms reach. `full` is the budget of the GPU presets. `smoke` (tiny
networks, a few hundred steps) is for the test and `--quick`.

Each finished cell is its own JSON under `cells/` in the output folder (with its provenance);
a rerun skips a cell whose JSON has the same budget, seeds, seed and config (`--force` redoes
it), and `table.json`, `table.md` and `curves.png` are rebuilt from every cell present, so a
later run can add rows (e.g. PETS) to an existing table. Output: `benchmarks/runs/table/BUDGET/`
(ignored by git), `benchmarks/results/table/BUDGET/` with --write-results, or --out DIR.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "scripts"))  # the documented presets live in scripts/
from benchmarks.output import RESULTS, SCRATCH, describe, write_json  # noqa: E402

ENVS = ("CartPole-v1", "Acrobot-v1", "Catch-bsuite", "Pendulum-v1", "MountainCarContinuous-v0",
        "Breakout-MinAtar", "Asterix-MinAtar", "FourRooms-misc")
FAMILY = {"CartPole-v1": "classic", "Acrobot-v1": "classic", "Catch-bsuite": "bsuite",
          "Pendulum-v1": "continuous", "MountainCarContinuous-v0": "continuous",
          "Breakout-MinAtar": "minatar", "Asterix-MinAtar": "minatar", "FourRooms-misc": "grid"}
# The issue's rows, in its order; the registry may add more (dyna-q+) or lack some (pets).
ISSUE_ROWS = ("dyna-q", "sac", "mbpo", "pets", "muzero", "dreamer")
# Greedy return that counts as solving the env (IQM over seeds of each seed's mean return):
# gym's reward thresholds for CartPole (475), Acrobot (-100) and MountainCarContinuous (90); the
# tutorial's -200 for Pendulum; 0.9 for Catch (the MuZero target) and FourRooms (the goal, worth
# 1, reached in 90% of episodes); MinAtar has no standard one: 10 (ten bricks, ten treasures).
THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Catch-bsuite": 0.9,
              "Pendulum-v1": -200.0, "MountainCarContinuous-v0": 90.0,
              "Breakout-MinAtar": 10.0, "Asterix-MinAtar": 10.0, "FourRooms-misc": 0.9}
# Env steps per evaluation episode (the scan is static: the cost is this, however early an
# episode ends): the env's time limit, except Catch (an episode is 9 steps; its preset's 20) and
# MinAtar at the small budget (500: a few minutes of training does not survive longer).
EVAL_STEPS = {"CartPole-v1": 500, "Acrobot-v1": 500, "Catch-bsuite": 20, "Pendulum-v1": 200,
              "MountainCarContinuous-v0": 999, "Breakout-MinAtar": 1000,
              "Asterix-MinAtar": 1000, "FourRooms-misc": 500}
SMALL_EVAL_STEPS = {"Breakout-MinAtar": 500, "Asterix-MinAtar": 500}
BUDGET_NAMES = ("smoke", "small", "full")
EVALS = {"smoke": 2, "small": 8, "full": 20}  # evaluations per run


@dataclasses.dataclass(frozen=True)
class Budget:
    """One (algorithm, family, budget) entry: `preset` names where the config comes from,
    `config(env_id)` builds it (before `total_steps` is set), `steps` env steps per seed,
    `evals` evaluations per run (None: the budget's `EVALS`)."""

    preset: str
    config: object  # env_id -> config
    steps: int
    evals: int | None = None


def _registry(name):
    def maker(preset):
        def make(env_id):
            from mbrl_jax.cli.registry import registry

            return registry()[name].config
        return make
    return maker


def _sac(preset):
    def make(env_id):
        if preset == "tutorial":
            from tutorial_exercise3 import SAC_CONFIG

            return SAC_CONFIG
        from mbrl_jax.sac import SACConfig

        return SACConfig()
    return make


def _mbpo(preset):
    def make(env_id):
        from exercise3_mbpo import pendulum_config

        return pendulum_config(1, preset)  # total_steps is set by the table
    return make


def _muzero(preset):
    def make(env_id):
        if preset == "default":
            from mbrl_jax.muzero import MuZeroConfig

            return MuZeroConfig()
        from muzero_results import PRESETS

        return PRESETS[preset][1]
    return make


def _dreamer(preset):
    def make(env_id):
        from dreamer_results import ENV_OVERRIDES, PRESETS

        from mbrl_jax.dreamer import DreamerConfig

        env_kw = {k: v for k, v in ENV_OVERRIDES.get(env_id, {}).items()
                  if k != "eval_max_steps"}  # the table's EVAL_STEPS decide the horizon
        return DreamerConfig(**PRESETS[preset], **env_kw)
    return make


def _pets(preset, **changes):
    def make(env_id):
        from pets_results import PRESETS

        return dataclasses.replace(PRESETS[preset][1], **changes)
    return make


def _entry(small_preset, full_preset, maker, small_steps, full_steps):
    return {"small": Budget(small_preset, maker(small_preset), small_steps),
            "full": Budget(full_preset, maker(full_preset), full_steps)}


# (algorithm, family) -> {budget: Budget}. Presets: registry = the `mbrl-jax train NAME` defaults;
# tutorial = scripts/tutorial_exercise3.py's SAC; cpu / gpu = scripts/exercise3_mbpo.py's MBPO
# and scripts/dreamer_results.py's Dreamer; catch, cartpole, breakout-cpu, ... =
# scripts/muzero_results.py's MuZero presets; pendulum = scripts/pets_results.py's PETS preset
# (PETSConfig.pendulum(), the defaults), used for the whole continuous family.
BUDGETS = {
    ("dyna-q", "grid"): _entry("registry", "registry", _registry("dyna-q"), 20_000, 100_000),
    ("dyna-q+", "grid"): _entry("registry", "registry", _registry("dyna-q+"), 20_000, 100_000),
    ("sac", "continuous"): _entry("tutorial", "registry", _sac, 10_000, 50_000),
    ("mbpo", "continuous"): _entry("cpu", "gpu", _mbpo, 2_500, 10_000),
    # PETS plans every step of an evaluation episode too (a CEM plan per step, 200 steps on
    # Pendulum, 999 on MountainCar): at the small budget 2 evaluations of 1 episode per seed
    # (the IQM is over the 5 seeds), else evaluating would cost several times the training.
    ("pets", "continuous"): {
        "small": Budget("pendulum, 1 eval episode", _pets("pendulum", eval_episodes=1), 1_000,
                        evals=2),
        "full": Budget("pendulum", _pets("pendulum"), 3_000)},
    ("muzero", "classic"): _entry("cartpole", "cartpole-gpu", _muzero, 8_192, 50_000),
    ("muzero", "bsuite"): _entry("catch", "catch", _muzero, 8_192, 20_000),
    ("muzero", "minatar"): _entry("breakout-cpu", "breakout-gpu", _muzero, 4_096, 100_000),
    ("muzero", "grid"): _entry("default", "default", _muzero, 16_384, 50_000),
    ("dreamer", "classic"): _entry("cpu", "gpu", _dreamer, 3_072, 50_000),
    ("dreamer", "continuous"): _entry("cpu", "gpu", _dreamer, 3_072, 50_000),
    ("dreamer", "minatar"): _entry("cpu", "gpu", _dreamer, 3_072, 100_000),
    ("dreamer", "grid"): _entry("cpu", "gpu", _dreamer, 3_072, 50_000),
}
# Algorithms registered but without an entry here run their registry config for its default
# steps (capped at 5000 on the small budget).
DEFAULT_SMALL_CAP = 5_000
# Cells that cannot run on a machine, with why (marked "not run" in the table, never guessed).
# Dreamer on Asterix-MinAtar: the compiled `init` (env reset, agent init, a zeroed 100k-row
# replay) never returns on the 2-core CPU with jax 0.10.2 with 2 or more vmapped seeds (no CPU
# used: a deadlock inside XLA's runtime); 1 seed, a 1k-row replay, or Breakout with the same
# shapes run. Reproduced three times on 2026-12-07; not yet reduced further.
NOT_RUN = {("dreamer", "Asterix-MinAtar", "cpu"): "XLA deadlock in Dreamer's init on the CPU "
           "(2+ seeds); see docs/benchmarks.md"}

# Published MinAtar returns to read our MinAtar rows against: {"env", "method", "return", "at",
# "source"}, only numbers checked against their source. None so far (ANCHOR_NOTE says why).
MINATAR_ANCHORS: tuple[dict, ...] = ()
ANCHOR_NOTE = (
    "MinAtar anchors: none written. The MinAtar paper (Young & Tian 2019, arXiv:1903.03176) and "
    "its README give DQN's and AC(lambda)'s returns at 5M frames only as learning-curve figures, "
    "and gymnax's README lists its MinAtar PPO checkpoints' returns as unknown; no JAX PPO or DQN "
    "MinAtar number with a checkable source was found, so none is written.")


def entry_for(name: str, spec, env_id: str, budget: str) -> Budget:
    """The preset and env steps per seed of one cell (see `BUDGETS`)."""
    if budget == "smoke":
        config = spec.config
        tiny = getattr(type(config), "tiny", None)
        if tiny is None:
            return Budget("registry", lambda _: config, min(spec.default_steps, 200))
        kw = {"variant": config.variant} if hasattr(config, "variant") else {}
        made = tiny(**kw)
        return Budget("tiny", lambda _: made, made.total_steps * getattr(made, "num_envs", 1))
    found = BUDGETS.get((name, FAMILY[env_id]), {}).get(budget)
    if found is not None:
        return found
    steps = spec.default_steps if budget == "full" else min(spec.default_steps,
                                                            DEFAULT_SMALL_CAP)
    return Budget("registry (no table entry yet)", lambda _: spec.config, steps)


def eval_steps_for(env_id: str, budget: str) -> int:
    if budget == "small":
        return SMALL_EVAL_STEPS.get(env_id, EVAL_STEPS[env_id])
    return EVAL_STEPS[env_id]


def cell_config(entry: Budget, env_id: str, budget: str):
    """The entry's config with `total_steps` set to its env steps per seed (rounded down to
    whole evaluation periods) and the table's evaluation protocol; and `eval_every` (env steps
    per env, as the driver counts)."""
    config = entry.config(env_id)
    per_iter = getattr(config, "env_steps_per_iteration", 1)
    num_envs = getattr(config, "num_envs", 1)
    iterations = max(1, entry.steps // num_envs // per_iter)
    every = max(1, iterations // (entry.evals or EVALS[budget]))
    iterations = max(every, iterations // every * every)
    changes = {"total_steps": iterations * per_iter}
    if hasattr(config, "eval_max_steps"):
        changes["eval_max_steps"] = eval_steps_for(env_id, budget)
    if getattr(config, "eval_episodes", None) == 0:  # a preset that evaluates on its own
        changes["eval_episodes"] = type(config).__dataclass_fields__["eval_episodes"].default
    return dataclasses.replace(config, **changes), every * per_iter


def updates_per_env_step(name: str, config) -> tuple[float | None, str]:
    """Updates per env step (per transition: parallel envs counted) and what one update is."""
    num_envs = getattr(config, "num_envs", 1)
    if hasattr(config, "planning_steps"):
        return 1.0 + config.planning_steps, "table updates (1 real, n planned)"
    if hasattr(config, "updates_per_env_step"):  # Dreamer
        return float(config.updates_per_env_step), \
            f"world-model + actor-critic updates on {config.batch_size} x " \
            f"{config.sequence_length} replayed steps"
    if hasattr(config, "rollout_starts"):  # MBPO
        return config.updates_per_step / num_envs, \
            (f"SAC updates; plus a model refit and {config.rollout_starts} rollouts every "
             f"{config.env_steps_per_iteration} env steps")
    if hasattr(config, "updates_per_step"):  # SAC
        return config.updates_per_step / num_envs, f"SAC updates on {config.batch_size} rows"
    if hasattr(config, "propagation"):  # PETS: no policy updates; a refit every F env steps
        from mbrl_jax.pets.config import default_model

        opt, model = config.optimiser, config.model or default_model(1, 1)
        return (1.0 / (config.env_steps_per_iteration * num_envs),
                f"ensemble refits (at most {model.max_epochs} epochs) per env step; a "
                f"{opt.population_size} x {opt.num_iterations} {config.planner.upper()} plan "
                f"of {config.num_particles} particles x horizon {opt.horizon} per env step")
    if hasattr(config, "updates_per_iteration"):  # MuZero
        return (config.updates_per_iteration / (config.env_steps_per_iteration * num_envs),
                f"unrolled updates on {config.batch_size} windows; a {config.num_simulations}"
                "-simulation search per env step")
    return None, "not stated by the config"


def short_reason(err: Exception) -> str:
    """A few words for a refused cell; the full message goes into the notes."""
    from mbrl_jax import envs

    text = str(err)
    if isinstance(err, envs.NotTabularError):
        return "tabular envs only"
    if "continuous (Box) action" in text:
        return "continuous actions only"
    if "discrete action" in text:
        return "discrete actions only"
    if "observations must be" in text:
        return "vector or [H, W, C] observations only"
    return text.split(";")[0][:80]


def machine_line(prov: dict) -> str:
    m = prov["machine"]
    if m.get("jax_backend") in (None, "cpu"):
        return f"{m['cpu']}, {m['cores']} cores"
    return ", ".join(m["jax_devices"] or [])


def _config_json(config) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def run_cell(name, spec, env_id, budget, seeds, seed, config, eval_every, entry, log=print):
    """Train one cell; its payload for `cells/NAME__ENV.json`."""
    import jax

    from mbrl_jax import envs
    from mbrl_jax.driver import run_chunked
    from mbrl_jax.stats.compare import iqm, iqm_band

    env, env_params = envs.make(env_id)
    num_envs = getattr(config, "num_envs", 1)
    start = time.perf_counter()
    trainer = spec.make_trainer(config, env, env_params)
    keys = jax.random.split(jax.random.key(seed), seeds)

    def progress(chunk):
        if "return" not in chunk.eval_metrics:
            return
        now = chunk.eval_metrics["return"][:, -1].reshape(seeds, -1).mean(axis=1)
        log(f"    {chunk.env_steps * num_envs:>8d} env steps  eval IQM {float(iqm(now)):9.4g}  "
            f"{time.perf_counter() - start:6.0f} s", flush=True)

    result = run_chunked(trainer, keys, chunk_steps=eval_every, on_chunk=progress,
                         eval_every=eval_every, keep_metrics=False)
    wall = time.perf_counter() - start
    returns = result.eval_metrics["return"].reshape(seeds, len(result.eval_steps), -1).mean(-1)
    centre, low, high = iqm_band(returns)                     # [evaluations]
    steps = (np.asarray(result.eval_steps) * num_envs).astype(int)
    threshold = THRESHOLDS[env_id]
    hits = np.flatnonzero(centre >= threshold)
    updates, update_kind = updates_per_env_step(name, config)
    env_steps = trainer.num_env_steps * num_envs
    return {
        "algorithm": name, "env": env_id, "family": FAMILY[env_id], "budget": budget,
        "status": "ok", "preset": entry.preset, "seeds": seeds, "seed": seed,
        "config": _config_json(config), "config_repr": repr(config),
        "env_steps_per_seed": int(env_steps), "eval_every_env_steps": int(eval_every * num_envs),
        "eval_steps": steps, "eval_return": returns, "eval_iqm": centre, "eval_low": low,
        "eval_high": high, "final_iqm": float(centre[-1]), "final_low": float(low[-1]),
        "final_high": float(high[-1]), "threshold": threshold,
        "steps_to_threshold": int(steps[hits[0]]) if len(hits) else None,
        "compile_s": float(result.compile_seconds), "run_s": float(result.run_seconds),
        "wall_s": float(wall),
        "env_steps_per_s": float(seeds * env_steps / max(result.run_seconds, 1e-9)),
        "updates_per_env_step": updates, "update_kind": update_kind,
    }


def cell_path(out: Path, name: str, env_id: str) -> Path:
    return out / "cells" / f"{name}__{env_id}.json"


def rows_of(specs: dict) -> list[str]:
    """The issue's rows in its order, then any other registered algorithm."""
    return list(ISSUE_ROWS) + [n for n in specs if n not in ISSUE_ROWS]


def run_table(args, log=print) -> dict:
    """Run every requested cell not already finished; return {(name, env): status record} for
    the cells that were not run (refused, not registered, failed)."""
    from mbrl_jax import envs
    from mbrl_jax.cli.registry import registry
    from mbrl_jax.core.errors import ConfigError

    specs = registry()
    names = args.algorithms or rows_of(specs)
    env_ids = args.envs or list(ENVS)
    notes = {}
    built = {env_id: envs.make(env_id) for env_id in env_ids}
    todo = [(n, e) for n in names for e in env_ids]
    t0 = time.perf_counter()
    for i, (name, env_id) in enumerate(todo, 1):
        head = f"[{i}/{len(todo)}] {name} on {env_id}"
        spec = specs.get(name)
        if spec is None:
            notes[(name, env_id)] = {"status": "not run", "reason": "not registered"}
            log(f"{head}: not run, not registered", flush=True)
            continue
        try:
            spec.check_env(*built[env_id])
        except (ConfigError, envs.NotTabularError) as err:
            notes[(name, env_id)] = {"status": "n/a", "reason": short_reason(err),
                                     "detail": str(err)}
            log(f"{head}: n/a, {short_reason(err)}", flush=True)
            continue
        import jax

        blocked = NOT_RUN.get((name, env_id, jax.default_backend()))
        if blocked is not None:
            notes[(name, env_id)] = {"status": "not run", "reason": blocked}
            log(f"{head}: not run, {blocked}", flush=True)
            continue
        entry = entry_for(name, spec, env_id, args.budget)
        config, eval_every = cell_config(entry, env_id, args.budget)
        path = cell_path(args.out, name, env_id)
        if path.exists() and not args.force:
            old = json.loads(path.read_text())
            if (old.get("budget"), old.get("seeds"), old.get("seed"), old.get("config_repr")) \
                    == (args.budget, args.seeds, args.seed, repr(config)):
                log(f"{head}: finished before, skipped ({path.name}; --force redoes it)",
                    flush=True)
                continue
            log(f"{head}: {path.name} has other settings; running again", flush=True)
        steps = getattr(config, "num_envs", 1) * config.total_steps
        log(f"{head} ({args.budget}: preset {entry.preset}, {steps} env steps x {args.seeds} "
            f"seeds), {time.perf_counter() - t0:.0f} s into the table", flush=True)
        try:
            payload = run_cell(name, spec, env_id, args.budget, args.seeds, args.seed, config,
                               eval_every, entry, log=log)
        except Exception as err:  # noqa: BLE001 - one failed cell must not lose the others
            traceback.print_exc()
            notes[(name, env_id)] = {"status": "failed",
                                     "reason": f"{type(err).__name__}: {str(err)[:200]}"}
            log(f"{head}: failed ({type(err).__name__})", flush=True)
            continue
        write_json(path, payload)
        reached = payload["steps_to_threshold"]
        log(f"{head}: final IQM {payload['final_iqm']:.4g} [{payload['final_low']:.4g}, "
            f"{payload['final_high']:.4g}], {THRESHOLDS[env_id]:g} "
            f"{'at ' + str(reached) if reached is not None else 'not reached'}; compile "
            f"{payload['compile_s']:.0f} s, run {payload['run_s']:.0f} s, "
            f"{payload['env_steps_per_s']:,.0f} env steps/s", flush=True)
    return notes


def load_cells(out: Path) -> dict:
    cells = {}
    for path in sorted((out / "cells").glob("*.json")):
        cell = json.loads(path.read_text())
        cells[(cell["algorithm"], cell["env"])] = cell
    return cells


def _fmt(x):
    """Returns as people write them: -1532, 47.5, 0.925."""
    if x is None:
        return "-"
    return format(x, ".0f" if abs(x) >= 100 else ".1f" if abs(x) >= 10 else ".3g")


def overview_text(cell, note) -> str:
    if cell is not None:
        return f"{_fmt(cell['final_iqm'])} [{_fmt(cell['final_low'])}, {_fmt(cell['final_high'])}]"
    if note is None:
        return "not run yet"
    if note["status"] == "n/a":
        return f"n/a: {note['reason']}"
    return f"{note['status']}: {note['reason']}"


def write_markdown(path: Path, payload: dict) -> None:
    """table.md from table.json's payload (with its provenance block)."""
    cells = {(c["algorithm"], c["env"]): c for c in payload["cells"]}
    notes = {(n["algorithm"], n["env"]): n for n in payload["not_run"]}
    rows, env_ids = payload["rows"], payload["envs"]
    lines = [f"# Algorithms side by side, `--budget {payload['budget']}`", "",
             describe(payload["provenance"]), "",
             f"Each cell: {payload['seeds']} seeds vmapped in one program (cells listed below "
             "may come from separate runs; each cell's JSON has its own provenance). Final "
             "greedy return: IQM over seeds of each seed's mean over its evaluation episodes, "
             "with a 95% percentile-bootstrap band; the same evaluation (the driver's, inside "
             "the compiled program) for every algorithm on an env. Method, budgets and "
             "thresholds: [docs/benchmarks.md](" + payload["docs_link"] + ").", "",
             "## Final greedy return (IQM [95% band])", "",
             "| algorithm | " + " | ".join(env_ids) + " |",
             "|---|" + "---|" * len(env_ids)]
    for name in rows:
        lines.append(f"| {name} | " + " | ".join(
            overview_text(cells.get((name, e)), notes.get((name, e))) for e in env_ids) + " |")
    lines += ["", "## Every cell that ran", "",
              "| env | algorithm | preset | env steps / seed | final return IQM [95% band] | "
              "env steps to threshold | compile (s) | run (s) | env steps/s (all seeds) | "
              "updates / env step | machine |",
              "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for e in env_ids:
        for name in rows:
            c = cells.get((name, e))
            if c is None:
                continue
            reach = f"{c['steps_to_threshold']:,}" if c["steps_to_threshold"] is not None \
                else "not reached"
            lines.append(
                f"| {e} | {name} | {c['preset']} | {c['env_steps_per_seed']:,} | "
                f"{overview_text(c, None)} | {reach} (>= {c['threshold']:g}) | "
                f"{c['compile_s']:.0f} | {c['run_s']:.0f} | {c['env_steps_per_s']:,.0f} | "
                f"{_fmt(c['updates_per_env_step'])} | {c['machine']} |")
    kinds = sorted({(c["algorithm"], c["update_kind"]) for c in payload["cells"]})
    if kinds:
        lines += ["", "What one update is: " + "; ".join(f"{a}: {k}" for a, k in kinds) + "."]
    lines += ["", "Thresholds (greedy return, IQM over seeds): " + ", ".join(
        f"{e} {payload['thresholds'][e]:g}" for e in env_ids) + ".", "",
        f"![learning curves]({payload['plot']})", ""]
    if payload["anchors"]:
        lines += ["## MinAtar: published returns beside ours", "",
                  "| env | method | return | at | source |", "|---|---|---:|---|---|"]
        lines += [f"| {a['env']} | {a['method']} | {a['return']} | {a['at']} | {a['source']} |"
                  for a in payload["anchors"]]
        lines.append("")
    elif any(e.endswith("-MinAtar") for e in env_ids):
        lines += [ANCHOR_NOTE, ""]
    details = sorted({(n["reason"], n.get("detail", "")) for n in payload["not_run"]
                      if n["status"] == "n/a"})
    others = [n for n in payload["not_run"] if n["status"] != "n/a"]
    if details or others:
        lines += ["## Cells not run", ""]
        lines += [f"- n/a: {reason}: {detail}" for reason, detail in details]
        lines += [f"- {n['algorithm']} on {n['env']}: {n['status']}, {n['reason']}"
                  for n in others]
        lines.append("")
    path.write_text("\n".join(lines))


def plot(path: Path, cells: list[dict], env_ids: list[str], rows: list[str]) -> Path:
    """One panel per env: every algorithm's IQM curve with its 95% band, the threshold dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = min(4, len(env_ids))
    nrows = -(-len(env_ids) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    colours = {name: f"C{i % 10}" for i, name in enumerate(rows)}
    for ax, env_id in zip(axes.flat, env_ids, strict=False):
        for c in cells:
            if c["env"] != env_id:
                continue
            x = np.asarray(c["eval_steps"])
            ax.plot(x, c["eval_iqm"], color=colours.get(c["algorithm"]), lw=1.6,
                    label=c["algorithm"])
            ax.fill_between(x, c["eval_low"], c["eval_high"], color=colours.get(c["algorithm"]),
                            alpha=0.2, lw=0)
        ax.axhline(THRESHOLDS[env_id], color="grey", ls="--", lw=0.8)
        ax.set_title(env_id, fontsize=10)
        ax.set_xlabel("env steps per seed")
        ax.grid(alpha=0.3)
        if ax.lines[:-1]:
            ax.legend(fontsize=7)
    for ax in axes.flat[len(env_ids):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("greedy return (IQM, 95% band)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def rebuild(args, notes: dict) -> dict:
    """table.json, table.md and curves.png from every cell in the folder (and this run's notes
    on cells not run; a refusal is recomputed, it costs nothing)."""
    from mbrl_jax import envs
    from mbrl_jax.cli.registry import registry
    from mbrl_jax.core.errors import ConfigError

    specs = registry()
    cells = load_cells(args.out)
    rows = rows_of(specs) + sorted({n for n, _ in cells} - set(rows_of(specs)))
    env_ids = [e for e in ENVS if e in set(args.envs or ENVS) | {e for _, e in cells}]
    not_run = []
    for name in rows:
        for env_id in env_ids:
            if (name, env_id) in cells:
                continue
            note = notes.get((name, env_id))
            if note is None and name not in specs:
                note = {"status": "not run", "reason": "not registered"}
            if note is None:
                try:
                    specs[name].check_env(*envs.make(env_id))
                except (ConfigError, envs.NotTabularError) as err:
                    note = {"status": "n/a", "reason": short_reason(err), "detail": str(err)}
            if note is not None:
                not_run.append({"algorithm": name, "env": env_id, **note})
    summary = []
    for cell in cells.values():
        summary.append({**{k: v for k, v in cell.items() if k not in ("provenance", "config")},
                        "machine": machine_line(cell["provenance"]),
                        "commit": cell["provenance"]["git_commit"]})
    png = plot(args.out / "curves.png", summary, env_ids, rows)
    docs = os.path.relpath(HERE.parent / "docs" / "benchmarks.md", args.out.resolve()) \
        + "#the-cross-algorithm-table"
    payload = {"budget": args.budget, "seeds": args.seeds, "rows": rows, "envs": env_ids,
               "thresholds": {e: THRESHOLDS[e] for e in env_ids},
               "anchors": [a for a in MINATAR_ANCHORS if a["env"] in env_ids],
               "plot": png.name, "docs_link": str(docs), "cells": summary, "not_run": not_run}
    written = write_json(args.out / "table.json", payload)
    write_markdown(args.out / "table.md", written)
    return written


def parse_args(argv=None):
    from mbrl_jax.stats.provenance import add_results_options

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", choices=BUDGET_NAMES, default="small")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per cell, vmapped")
    parser.add_argument("--seed", type=int, default=0, help="master PRNG seed")
    parser.add_argument("--algorithms", nargs="+", default=None, metavar="NAME",
                        help="rows to run (default: the issue's rows and every registered "
                             "algorithm)")
    parser.add_argument("--envs", nargs="+", default=None, metavar="ID", choices=ENVS,
                        help="columns to run (default: all of ENVS)")
    parser.add_argument("--force", action="store_true", help="rerun finished cells")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of two cells (what benchmarks/run_all.py --quick runs)")
    add_results_options(parser, "benchmarks/results/table/BUDGET",
                        "benchmarks/runs/table/BUDGET")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget = "smoke"
        args.algorithms = args.algorithms or ["dyna-q", "sac"]
        args.envs = args.envs or ["FourRooms-misc", "Pendulum-v1"]
    from mbrl_jax.stats.provenance import results_folder

    args.out = results_folder(RESULTS / "table" / args.budget, SCRATCH / "table" / args.budget,
                              write_results=args.write_results, out=args.out)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    notes = run_table(args)
    written = rebuild(args, notes)
    print(f"wrote {args.out / 'table.md'}, table.json, curves.png and cells/ in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return written


if __name__ == "__main__":
    main()
