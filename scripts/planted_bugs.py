"""Planted-bug check: apply one plausible single-line bug at a time (the kinds a refactor
introduces: an index shifted by one, a flag flipped, arguments swapped, a branch skipped) and
run the module's fast tests; a bug the tests let through is a *survivor*.

    python scripts/planted_bugs.py muzero dreamer      # or: all
    python scripts/planted_bugs.py sac --list          # show the bugs without running

Each bug is applied to the working tree and undone afterwards (also on Ctrl-C), so run it on a
clean checkout or a separate git worktree: `git worktree add ../mut && cd ../mut &&
PYTHONPATH=$PWD python scripts/planted_bugs.py all`. Results (killed / survived per bug, the
test that caught it) go to `scripts/runs/planted_bugs.json` (ignored by git), to the committed
`scripts/results/planted_bugs.json` with --write-results, or to --out FILE. A module not rerun
keeps its rows from the file, with the provenance of the run that wrote them.
"""

import argparse
import json
import pathlib
import re
import signal
import subprocess
import sys
import time

from common import add_results_option, results_dir

from mbrl_jax.stats.provenance import write_json

ROOT = pathlib.Path(__file__).resolve().parents[1]

CONTRACT_TESTS = ("test_one_env_step_per_iteration_gives_metrics_per_env_step",
                  "test_same_key_same_run_other_key_other_run_and_no_retrace",
                  "test_vmap_over_seeds_equals_the_single_runs")


def _contract(name):
    """The registry-wide contract tests (tests/test_contract.py) for one algorithm."""
    return [f"tests/test_contract.py::{test}[{name}]" for test in CONTRACT_TESTS]


# module -> (test paths, [(file, old, new, what the bug is)]); `old` must occur exactly once.
BUGS = {
    "muzero": (["tests/muzero/test_oracles.py", "tests/muzero/test_networks.py",
                "tests/muzero", *_contract("muzero")], [
        ("mbrl_jax/muzero/losses.py", "jnp.where(ended[:-1], 0.0, r[:k_steps - 1])",
         "jnp.where(ended[:-1], 0.0, r[1:k_steps])", "reward target shifted by one step"),
        ("mbrl_jax/muzero/losses.py", "jnp.cumsum((first_end & term)[:k_steps - 1]) > 0",
         "jnp.cumsum(term[:k_steps - 1]) > 0", "mask: any termination so far"),
        ("mbrl_jax/muzero/losses.py",
         "jnp.where(term, 0.0, jnp.where(trunc, window.final_value, nxt))",
         "jnp.where(trunc, 0.0, jnp.where(term, window.final_value, nxt))",
         "termination and truncation bootstraps swapped"),
        ("mbrl_jax/muzero/losses.py", "g = r + discount * nxt", "g = r + nxt",
         "n-step return without the discount"),
        ("mbrl_jax/muzero/losses.py", "policy_mask=(~ended).astype(jnp.float32))",
         "policy_mask=value_mask.astype(jnp.float32))", "policy loss on absorbing states"),
        ("mbrl_jax/muzero/losses.py", "scale = 1.0 if k == 0 else 1.0 / unroll_steps",
         "scale = 1.0", "no 1/K on the unrolled losses"),
        ("mbrl_jax/muzero/losses.py", "hidden = _scale_gradient(hidden, 0.5)",
         "hidden = _scale_gradient(hidden, 1.0)", "no 0.5 gradient scale"),
        ("mbrl_jax/muzero/losses.py",
         'loss = (value_loss_weight * totals["value_loss"] + totals["reward_loss"]',
         'loss = (totals["value_loss"] + value_loss_weight * totals["reward_loss"]',
         "value_loss_weight on the reward loss"),
        ("mbrl_jax/muzero/losses.py", "actions=window.action[:unroll_steps]",
         "actions=window.action[1:unroll_steps + 1]", "unroll actions shifted by one"),
        ("mbrl_jax/muzero/train.py", "record = Step(carry.obs, action,",
         "record = Step(out.obs, action,", "replay records the next observation"),
        ("mbrl_jax/muzero/train.py", "out.reward, out.terminated, out.truncated, value,",
         "out.reward, out.terminated, jnp.zeros_like(out.truncated), value,",
         "time-limit truncations not recorded"),
        ("mbrl_jax/muzero/train.py", "jnp.where(frac < 0.75, t[1], t[2])",
         "jnp.where(frac < 0.75, t[2], t[1])", "temperature schedule stages swapped"),
        ("mbrl_jax/muzero/train.py", "frac = env_steps / config.total_steps",
         "frac = env_steps / config.num_iterations", "temperature progress over iterations"),
        ("mbrl_jax/muzero/agent.py",
         "dirichlet_fraction=config.dirichlet_fraction if explore else 0.0",
         "dirichlet_fraction=config.dirichlet_fraction", "root noise also when not exploring"),
        ("mbrl_jax/muzero/agent.py", 'if config.value_bootstrap == "network":',
         'if config.value_bootstrap == "networks":', "network bootstrap branch never taken"),
        ("mbrl_jax/muzero/train.py", "return windows, jnp.all(replay.size >= length)",
         "return windows, jnp.all(replay.size >= length - 1)",
         "updates on windows that run past the written steps"),
        ("mbrl_jax/muzero/train.py", "final_obs = out.final_obs", "final_obs = out.obs",
         "truncation bootstrap from the reset obs"),
        ("mbrl_jax/muzero/agent.py", "discount = jnp.full_like(reward, hparams.gamma)",
         "discount = jnp.ones_like(reward)", "search ignores the discount"),
    ]),
    "dreamer": (["tests/dreamer/test_dreamer_oracles.py", "tests/dreamer/test_dreamer_math.py",
                 "tests/dreamer", *_contract("dreamer")], [
        ("mbrl_jax/dreamer/math.py",
         "return jnp.maximum(dyn, free_bits), jnp.maximum(rep, free_bits)",
         "return (jnp.maximum(dyn.mean(), free_bits) + 0 * dyn,\n"
         "            jnp.maximum(rep.mean(), free_bits) + 0 * rep)",
         "free bits clipped on the batch mean"),
        ("mbrl_jax/dreamer/rssm.py", "sample = onehot + probs - jax.lax.stop_gradient(probs)",
         "sample = onehot - probs + jax.lax.stop_gradient(probs)",
         "straight-through gradient's sign flipped"),
        ("mbrl_jax/dreamer/losses.py",
         "rssm.cont_logit(params, f), 1.0 - batch.is_terminal.astype(jnp.float32))",
         "rssm.cont_logit(params, f), batch.is_terminal.astype(jnp.float32))",
         "continue target flipped"),
        ("mbrl_jax/dreamer/agent.py",
         "slow = optax.incremental_update(critic_params, state.slow_critic_params,",
         "slow = optax.incremental_update(state.slow_critic_params, critic_params,",
         "slow-critic EMA arguments swapped"),
        ("mbrl_jax/dreamer/losses.py", "        target = math.symlog(target)",
         "        target = target", "reconstruction target not symlogged"),
        ("mbrl_jax/dreamer/losses.py",
         "loss = -jnp.mean(weight[:-1] * (objective + hp.entropy_scale * entropy))",
         "loss = -jnp.mean(weight[:-1] * (objective - hp.entropy_scale * entropy))",
         "entropy bonus sign flipped"),
        ("mbrl_jax/dreamer/losses.py", "objective = returns / scale", "objective = returns",
         "return normaliser ignored (backprop actor)"),
        ("mbrl_jax/dreamer/losses.py", "reward, discount, values[1:], hp.lambda_)",
         "reward, discount, values[:-1], hp.lambda_)", "lambda-return bootstrap misaligned"),
        ("mbrl_jax/dreamer/losses.py",
         "reward = math.twohot_mean(rssm.reward_logits(wm, f[1:]), bins)",
         "reward = math.twohot_mean(rssm.reward_logits(wm, f[:-1]), bins)",
         "imagined reward read from the state before the action"),
        ("mbrl_jax/dreamer/agent.py",
         "action = mean if greedy else mean + std * jax.random.normal(act_key, mean.shape)",
         "action = jnp.clip(mean if greedy else mean + std * jax.random.normal(act_key, "
         "mean.shape), -1, 1)", "replay stores the clipped action"),
        ("mbrl_jax/dreamer/train.py", "low + (jnp.clip(action, -1.0, 1.0) + 1.0)",
         "low + (action + 1.0)", "env gets the unclipped action"),
        ("mbrl_jax/dreamer/losses.py", "* jnp.cumprod(conts, 0))", "* conts)",
         "loss weights without the cumulative continue"),
        ("mbrl_jax/dreamer/losses.py",
         "+ config.slow_critic_scale * math.twohot_loss(logits, slow, bins))",
         "+ config.slow_critic_scale * math.twohot_loss(logits, imagined.returns, bins))",
         "slow-critic regulariser targets the returns"),
        ("mbrl_jax/core/evaluation.py", "is_first = terminated | truncated",
         "is_first = terminated", "evaluation ignores truncation (Dreamer's recurrent policy)"),
        ("mbrl_jax/dreamer/train.py", "                     out.terminated)",
         "                     out.done)", "is_terminal set on time limits"),
        ("mbrl_jax/dreamer/train.py", "arrive = row(out.final_obs, ",
         "arrive = row(out.obs, ", "replay stores the reset obs at episode ends"),
        ("mbrl_jax/dreamer/math.py", "adv = (returns - values) / scale", "adv = returns / scale",
         "REINFORCE without the critic baseline"),
        ("mbrl_jax/dreamer/math.py", "dyn = categorical_kl(sg(post_logits), prior_logits)",
         "dyn = categorical_kl(post_logits, prior_logits)", "dyn KL trains the posterior"),
        ("mbrl_jax/dreamer/losses.py", "+ c.cont_scale * cont + c.dyn_scale * dyn",
         "+ c.cont_scale * cont + c.rep_scale * dyn", "rep scale on the dyn KL"),
        ("mbrl_jax/dreamer/math.py", "w_hi = (x - lo) / (hi - lo)", "w_hi = (hi - x) / (hi - lo)",
         "two-hot weights swapped"),
    ]),
    "sac": (["tests/sac/test_sac_agent.py", "tests/sac"], [
        ("mbrl_jax/sac/agent.py",
         "state.actor_params, critic_params, nets, batch.obs, actor_key, alpha)",
         "state.actor_params, state.critic_params, nets, batch.obs, actor_key, alpha)",
         "actor trained against the stale critics"),
        ("mbrl_jax/sac/agent.py",
         "state.actor_params, critic_params, nets, batch.obs, actor_key, alpha)",
         "state.actor_params, state.target_critic_params, nets, batch.obs, actor_key, alpha)",
         "actor trained against the target critics"),
        ("mbrl_jax/sac/agent.py", "batch.obs, to_unit(batch.action),", "batch.obs, batch.action,",
         "batch actions not mapped to (-1, 1)"),
        ("mbrl_jax/sac/agent.py", "alpha = jnp.exp(state.log_alpha)", "alpha = state.log_alpha",
         "alpha = log_alpha"),
        ("mbrl_jax/envs/collect.py",
         "return jax.random.uniform(key, (num_envs, spec.action_dim), jnp.float32, low, high)",
         "return jax.random.uniform(key, (num_envs, spec.action_dim), jnp.float32, -1.0, 1.0)",
         "warm-up actions in [-1, 1], not the env bounds"),
        ("mbrl_jax/sac/networks.py",
         "return mean, jnp.clip(log_std, config.log_std_min, config.log_std_max)",
         "return mean, log_std", "log_std unclipped"),
        ("mbrl_jax/sac/agent.py", "target_entropy = (-float(action_dim) if",
         "target_entropy = (float(action_dim) if", "target entropy sign flipped"),
        ("mbrl_jax/sac/train.py",
         "next_obs=out.final_obs.reshape(n, obs_dim), done=out.terminated))",
         "next_obs=out.final_obs.reshape(n, obs_dim), done=out.done))",
         "time limits stored as terminal"),
        ("mbrl_jax/sac/train.py", "next_obs=out.final_obs.reshape(n, obs_dim)",
         "next_obs=out.obs.reshape(n, obs_dim)", "reset obs stored as next_obs at episode ends"),
        ("mbrl_jax/sac/losses.py", "obs_t, a_t).min(axis=0)  # [B]", "obs_t, a_t).max(axis=0)",
         "target takes the max of the twin critics"),
        ("mbrl_jax/sac/losses.py", "(q_next - alpha * logp_t))", "(q_next + alpha * logp_t))",
         "soft target's entropy sign flipped"),
        ("mbrl_jax/sac/agent.py",
         "target = optax.incremental_update(critic_params, state.target_critic_params,",
         "target = optax.incremental_update(state.target_critic_params, critic_params,",
         "Polyak arguments swapped"),
        ("mbrl_jax/sac/losses.py", "return -jnp.mean(log_alpha * (log_prob + target_entropy))",
         "return jnp.mean(log_alpha * (log_prob + target_entropy))",
         "temperature loss sign flipped"),
        ("mbrl_jax/sac/agent.py", "return to_env(jnp.tanh(mean))", "return to_env(mean)",
         "deterministic action not squashed"),
        ("mbrl_jax/sac/train.py", "warm = carry.env_steps < config.warmup_steps",
         "warm = carry.env_steps <= config.warmup_steps", "warm-up one step too long"),
    ]),
    "mbpo": (["tests/mbpo/test_mbpo_rollouts.py", "tests/mbpo",
              *_contract("mbpo")], [
        ("mbrl_jax/mbpo/train.py", "start_obs = buffer.sample(carry.env_buffer, start_key, m).obs",
         "start_obs = aged_buffer.sample(carry.model_buffer, start_key, m).obs",
         "rollout starts drawn from the model buffer"),
        ("mbrl_jax/mbpo/rollouts.py", 'propagation="random_member", elites_only=True,',
         'propagation="random_member", elites_only=False,', "rollouts use every member"),
        ("mbrl_jax/mbpo/train.py", "config.model_config(obs_dim, a_dim), termination_fn_for(",
         "config.model_config(obs_dim, a_dim), None and termination_fn_for(",
         "termination function not passed to the model"),
        ("mbrl_jax/mbpo/train.py", "out.final_obs.reshape(n, obs_dim), out.terminated))",
         "out.obs.reshape(n, obs_dim), out.terminated))",
         "reset obs stored as next_obs at episode ends"),
        ("mbrl_jax/mbpo/train.py", "out.final_obs.reshape(n, obs_dim), out.terminated))",
         "out.final_obs.reshape(n, obs_dim), out.done))", "time limits stored as terminal"),
        ("mbrl_jax/mbpo/train.py", "warm = carry.env_steps < config.warmup_steps",
         "warm = carry.env_steps <= config.warmup_steps", "warm-up one step too long"),
        ("mbrl_jax/mbpo/rollouts.py", "n_real = num_real(batch_size, real_ratio)",
         "n_real = batch_size - num_real(batch_size, real_ratio)", "real ratio inverted"),
        ("mbrl_jax/mbpo/train.py", "            carry.obs, action, out.reward, out.final_obs",
         "            out.final_obs, action, out.reward, out.final_obs",
         "stored obs is the next obs"),
        ("mbrl_jax/mbpo/train.py", "            return agent.act(carry.agent, obs, k)",
         "            return agent.act(carry.agent, obs, k, deterministic=True)",
         "deterministic rollout policy"),
        ("mbrl_jax/mbpo/rollouts.py", "keep = traj_mask & (steps < horizon_now)",
         "keep = traj_mask & (steps <= horizon_now)", "rollouts one step past the horizon"),
        ("mbrl_jax/mbpo/rollouts.py", "frac = jnp.clip((env_steps - a) / max(b - a, 1), 0.0, 1.0)",
         "frac = jnp.clip((env_steps - b) / max(b - a, 1), 0.0, 1.0)",
         "horizon schedule measured from its end"),
        ("mbrl_jax/mbpo/rollouts.py", "next_obs=flat(traj.next_obs), done=flat(traj.terminated))",
         "next_obs=flat(traj.obs), done=flat(traj.terminated))",
         "model transitions store obs as next_obs"),
        ("mbrl_jax/mbpo/rollouts.py", "imagined = jax.tree.map(lambda f, m: jnp.where(empty, f, m)",
         "imagined = jax.tree.map(lambda f, m: jnp.where(~empty, f, m)",
         "model rows replaced by real ones once the model buffer fills"),
    ]),
    "driver": (["tests/core", "tests/driver", "tests/stats", "tests/test_contract.py"], [
        ("mbrl_jax/driver/loop.py",
         "return carry, jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), metrics)",
         "return carry, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1).reshape("
         "(-1, *x.shape[2:])), metrics)", "iterations x F flattened in the wrong order"),
        ("mbrl_jax/driver/loop.py", "if not shape or shape[0] != f:", "if not shape:",
         "step metrics without their [F] axis accepted"),
        ("mbrl_jax/driver/loop.py", "if key in metrics and jnp.ndim(metrics[key]) != 2:",
         "if key in metrics and jnp.ndim(metrics[key]) < 1:",
         "env metrics without their num_envs axis accepted"),
        ("mbrl_jax/stats/episodes.py", "return np.moveaxis(x, 2, 1).reshape(-1, x.shape[1])",
         "return x.reshape(-1, x.shape[1])", "a run's env axis folded time-major"),
        ("mbrl_jax/driver/loop.py", "eval_key, key = jax.random.split(state.eval_key)",
         "eval_key = key = state.eval_key", "every evaluation uses the same key"),
        ("mbrl_jax/driver/loop.py",
         "return RunState(carry, eval_key, state.iteration + eval_every), (metrics, evaluation)",
         "return RunState(carry, eval_key, state.iteration + 1), (metrics, evaluation)",
         "iteration counter off after evaluation blocks"),
        ("mbrl_jax/driver/loop.py", "jax.random.fold_in(key, _EVAL_STREAM)", "key",
         "evaluation keys equal the trainer's key"),
        ("mbrl_jax/core/evaluation.py", "ended = ended | is_first",
         "ended = ended | terminated", "evaluation ignores truncation"),
        ("mbrl_jax/core/evaluation.py",
         "return jax.vmap(policy)(policy_carry, obs, is_first, keys)",
         "return jax.vmap(policy)(policy_carry, obs, jnp.zeros_like(is_first), keys)",
         "a recurrent policy is never told an episode began"),
        ("mbrl_jax/core/evaluation.py", "length = length + live.astype(jnp.int32)",
         "length = length + 1", "evaluation length counts steps after the end"),
        ("mbrl_jax/stats/episodes.py",
         "out.append(np.diff(np.concatenate([[0.0], cumulative[ends + 1]])))",
         "out.append(np.diff(np.concatenate([[0.0], cumulative[ends]])))",
         "episode return misses its last reward"),
        ("mbrl_jax/stats/episodes.py", "np.diff(np.concatenate([[-1], np.flatnonzero(d)]))",
         "np.diff(np.concatenate([[0], np.flatnonzero(d)]))", "first episode one step short"),
        ("mbrl_jax/stats/episodes.py", "lo = np.maximum(t - window, 0)",
         "lo = np.maximum(t - window + 1, 0)", "moving average window one short"),
        ("mbrl_jax/core/buffer.py",
         "return jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))",
         "return jax.random.randint(key, (batch_size,), 0, state.capacity)",
         "sampling from unwritten rows"),
        ("mbrl_jax/stats/report.py", "np.moveaxis(v, 2, 1).reshape(-1, v.shape[1])",
         "v.reshape(-1, v.shape[1])", "env streams folded without moving the env axis"),
    ]),
}


def run_one(tests: list[str], timeout: int) -> tuple[bool, str]:
    """(killed, first failing test or the reason)."""
    # one process (-n 0), tests in the listed order (oracles first): -x stops at the first
    # failure, so a killed bug costs only the tests before it
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
           *tests]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, "timeout"
    if proc.returncode == 0:
        return False, ""
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    return True, failed[0] if failed else f"pytest exit {proc.returncode}"


def _restore_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # unwinds through the `finally` that undoes the current bug


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", help=f"{sorted(BUGS)} or all")
    parser.add_argument("--list", action="store_true", help="print the bugs, run nothing")
    parser.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                        help="run only the bugs whose description contains one of these; "
                             "their rows replace those of an earlier run in --out")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per bug")
    add_results_option(parser, out=False)
    parser.add_argument("--out", type=pathlib.Path, default=None, metavar="FILE",
                        help="the results file (default: planted_bugs.json in the folder above)")
    args = parser.parse_args(argv)
    out = args.out or results_dir(args) / "planted_bugs.json"
    modules = sorted(BUGS) if args.modules == ["all"] else args.modules
    unknown = set(modules) - set(BUGS)
    if unknown:
        parser.error(f"unknown modules {sorted(unknown)}; known: {sorted(BUGS)}")
    if not args.list:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "mbrl_jax"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            raise SystemExit(f"mbrl_jax/ has uncommitted changes; bugs are planted on a clean "
                             f"tree:\n{dirty}")
        signal.signal(signal.SIGTERM, _restore_on_sigterm)
    results = json.loads(out.read_text()) if out.exists() else {}
    earlier, rerun = results.pop("provenance", None), set()
    for module in modules:
        tests, bugs = BUGS[module]
        rows = []
        for path, old, new, what in bugs:
            if args.only and not any(text in what for text in args.only):
                continue
            file = ROOT / path
            text = file.read_text()
            if text.count(old) != 1:
                raise SystemExit(f"{module}: {path}: {old!r} occurs {text.count(old)} times")
            if args.list:
                print(f"{module:8s} {what}")
                continue
            start = time.time()
            try:
                file.write_text(text.replace(old, new))
                killed, by = run_one(tests, args.timeout)
            finally:
                file.write_text(text)
            rows.append({"bug": what, "file": path, "killed": killed, "by": by,
                         "seconds": round(time.time() - start, 1)})
            print(f"{module:8s} {'killed  ' if killed else 'SURVIVED'} {what}  {by}", flush=True)
        if rows:
            if args.only and module in results:  # keep the earlier rows of the other bugs
                fresh = {r["bug"] for r in rows}
                known = {what for *_, what in bugs}
                rows = [r for r in results[module]["bugs"]
                        if r["bug"] not in fresh and r["bug"] in known] + rows
            survived = [r["bug"] for r in rows if not r["killed"]]
            results[module] = {"planted": len(rows), "killed": len(rows) - len(survived),
                               "survived": survived, "tests": tests, "bugs": rows}
            rerun.add(module)
            print(f"{module}: {len(rows) - len(survived)}/{len(rows)} killed", flush=True)
    if not args.list:
        for module in set(results) - rerun:  # rows this run left as they were: their own origin
            results[module].setdefault("provenance", earlier)
        write_json(out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
