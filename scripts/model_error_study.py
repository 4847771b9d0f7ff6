"""Model error study (tutorial exercise 2): how good are learned dynamics models, and does the
ensemble know when it is wrong?

On CartPole-v1 and Pendulum-v1 with uniformly random actions, for several seeds:
  1. one-step MSE on held-out transitions: each ensemble member, the best member, the ensemble mean,
     and a single model trained alone on all the data;
  2. open-loop k-step rollout MSE for k = 1..20 (reported at 1, 5, 10, 20), propagating the
     ensemble mean, PETS TS-1 (random elite per step, sampled), TS-inf (one elite per trajectory,
     sampled), the best member alone, and the single model;
  3. Pearson and Spearman correlation between the ensemble disagreement (`Prediction.disagreement`:
     std across members of each predicted obs change in units of that dim's target std, averaged
     over dims) and the actual squared error of the ensemble mean, on held-out one-step transitions
     (and at step 5 of mean-propagated rollouts). The error is measured two ways: in original units
     (mean over obs dims of the squared error; dominated by the dims with the largest units) and
     standardised (each dim's squared error divided by its target variance from the training data,
     averaged over dims). The raw-units spread (std in original units) is reported as well.
MSEs are squared errors of the next observation in original units, averaged over obs dims.

Run:  python scripts/model_error_study.py            (about 6-8 minutes on 2 CPU cores)
      python scripts/model_error_study.py --quick    (a smoke run)
Writes model_error_study.json and model_error_{one_step,kstep,disagreement}.png into scripts/runs/
(git-ignored), the committed scripts/results/ with --write-results, or --out FOLDER.
"""

import argparse
import dataclasses
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from common import add_results_option, results_dir  # noqa: E402
from scipy import stats

from mbrl_jax.envs import make
from mbrl_jax.models import EnsembleConfig, Transition, make_ensemble
from mbrl_jax.stats.provenance import write_json

KS = (1, 5, 10, 20)
MAX_K = 20
SINGLE_PATIENCE = 20


def collect(env_id: str, key: jax.Array, num_envs: int, num_steps: int):
    """Random-policy transitions, time-major `[T, num_envs, ...]`, with true next observations."""
    env, params = make(env_id)
    space = env.action_space(params)
    reset_key, scan_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_envs), params
    )

    def step(carry, k):
        obs, state = carry
        act_key, step_key = jax.random.split(k)
        action = jax.vmap(space.sample)(jax.random.split(act_key, num_envs))
        obs2, state, reward, term, trunc, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(step_key, num_envs), state, action, params
        )
        record = (obs, action, reward, info["final_observation"], term, trunc)
        return (obs2, state), record

    _, out = jax.lax.scan(step, (obs, state), jax.random.split(scan_key, num_steps))
    return jax.tree_util.tree_map(np.asarray, out)


def to_transitions(rec) -> Transition:
    obs, action, reward, next_obs, term, _ = rec
    flat = lambda x: jnp.asarray(x.reshape(-1, *x.shape[2:]))  # noqa: E731
    return Transition(flat(obs), flat(action), flat(reward), flat(next_obs), flat(term))


def windows(rec, horizon: int, max_windows: int, rng: np.random.Generator):
    """Starts whose next `horizon` steps stay in one episode.

    Returns obs0 [W, O], actions [H, W, ...], true next observations [H, W, O].
    """
    obs, action, _, next_obs, term, trunc = rec
    ended = term | trunc  # [T, N]; the step that ends an episode still has a true next_obs
    t_len = obs.shape[0]
    starts = []
    for t in range(t_len - horizon + 1):
        ok = ~ended[t : t + horizon - 1].any(0)
        starts += [(t, n) for n in np.nonzero(ok)[0]]
    starts = np.array(starts)
    if len(starts) > max_windows:
        starts = starts[rng.choice(len(starts), max_windows, replace=False)]
    ts, ns = starts[:, 0], starts[:, 1]
    steps = ts[None] + np.arange(horizon)[:, None]  # [H, W]
    return obs[ts, ns], action[steps, ns[None]], next_obs[steps, ns[None]]


def sq_err(pred, true):
    return np.mean((np.asarray(pred) - np.asarray(true)) ** 2, axis=-1)


def correlations(disagreement, error):
    return {
        "pearson": float(stats.pearsonr(disagreement, error)[0]),
        "spearman": float(stats.spearmanr(disagreement, error)[0]),
    }


def study_env(env_id: str, cfg: EnsembleConfig, seeds, n_train_envs, n_test_envs, steps):
    discrete = env_id == "CartPole-v1"
    env, params = make(env_id)
    obs_dim = env.observation_space(params).shape[0]
    act_dim = env.action_space(params).n if discrete else env.action_space(params).shape[0]
    cfg = dataclasses.replace(cfg, obs_dim=obs_dim, action_dim=act_dim, discrete_actions=discrete)
    # The single model trains on all rows (no bootstrap). MBPO's stopping rule ("no member improved
    # by 1% for 5 epochs") stops a lone model much earlier than a 7-member ensemble, where any
    # member's progress keeps training going; a longer patience keeps the baseline fair (best
    # validation params are kept either way).
    single_cfg = dataclasses.replace(
        cfg, ensemble_size=1, num_elites=1, bootstrap=False, patience=SINGLE_PATIENCE
    )
    ens, single = make_ensemble(cfg), make_ensemble(single_cfg)
    fit_ens, fit_single = jax.jit(ens.fit), jax.jit(single.fit)
    predict = jax.jit(ens.predict, static_argnames="elites_only")
    rollout = jax.jit(ens.rollout, static_argnames=("propagation", "elites_only", "sample"))
    rollout_single = jax.jit(
        single.rollout, static_argnames=("propagation", "elites_only", "sample")
    )

    per_seed, scatter = [], None
    for seed in seeds:
        t0 = time.perf_counter()
        key = jax.random.key(seed)
        train_key, test_key, model_key, fit_key, roll_key = jax.random.split(key, 5)
        train = to_transitions(collect(env_id, train_key, n_train_envs, steps))
        test_rec = collect(env_id, test_key, n_test_envs, steps)
        test = to_transitions(test_rec)
        ens_state, ens_info = fit_ens(ens.init(model_key), train, fit_key)
        single_state, single_info = fit_single(single.init(model_key), train, fit_key)

        # 1. one-step errors on held-out transitions
        pred = predict(ens_state, test.obs, test.action)
        member_mse = sq_err(pred.member_next_obs, test.next_obs[None]).mean(-1)  # [E]
        err_ens = sq_err(pred.next_obs, test.next_obs)  # [N]
        elite_pred = predict(ens_state, test.obs, test.action, elites_only=True)
        single_pred = single.predict(single_state, test.obs, test.action)
        val_best = int(ens_state.elite_idx[0])  # best member by validation MSE
        one_step = {
            "member_mse": member_mse.tolist(),
            "best_member_mse_test": float(member_mse.min()),
            "best_member_mse_by_validation": float(member_mse[val_best]),
            "mean_member_mse": float(member_mse.mean()),
            "ensemble_mean_mse": float(err_ens.mean()),
            "elite_mean_mse": float(sq_err(elite_pred.next_obs, test.next_obs).mean()),
            "single_model_mse": float(sq_err(single_pred.next_obs, test.next_obs).mean()),
            "ensemble_reward_mse": float(np.mean((pred.reward - test.reward) ** 2)),
            "single_reward_mse": float(np.mean((single_pred.reward - test.reward) ** 2)),
            "target_next_obs_var": float(np.var(np.asarray(test.next_obs), 0).mean()),
        }
        var_d = np.asarray(jnp.square(ens_state.normalizer.target_std[:-1]))  # [O]
        std_err = lambda p, t, v=var_d: np.mean((np.asarray(p) - np.asarray(t)) ** 2 / v, -1)  # noqa: E731
        err_ens_std = std_err(pred.next_obs, test.next_obs)  # [N] standardised
        disagreement = np.asarray(pred.disagreement)
        raw_spread = np.sqrt(np.asarray(pred.epistemic_var)[:, :-1]).mean(-1)
        corr = {
            "disagreement_vs_standardized_error": correlations(disagreement, err_ens_std),
            "disagreement_vs_raw_error": correlations(disagreement, err_ens),
            "raw_units_spread_vs_raw_error": correlations(raw_spread, err_ens),
        }

        # 2. open-loop k-step rollouts from held-out states
        rng = np.random.default_rng(seed)
        obs0, acts, true = windows(test_rec, MAX_K, 2000, rng)
        obs0, acts = jnp.asarray(obs0), jnp.asarray(acts)
        curves = {}
        for name, prop, sample in [
            ("ensemble_mean", "mean", False),
            ("ts1_elites", "random_member", True),
            ("tsinf_elites", "fixed_member", True),
        ]:
            traj = rollout(ens_state, roll_key, obs0, acts, prop, elites_only=True, sample=sample)
            curves[name] = sq_err(traj.next_obs, true).mean(-1)
            if name == "ensemble_mean":
                d5 = np.asarray(traj.disagreement[4])
                corr["rollout_k5_disagreement_vs_standardized_error"] = correlations(
                    d5, std_err(traj.next_obs[4], true[4])
                )
                corr["rollout_k5_disagreement_vs_raw_error"] = correlations(
                    d5, sq_err(traj.next_obs[4], true[4])
                )
        best_only = ens_state.replace(elite_idx=jnp.full_like(ens_state.elite_idx, val_best))
        traj = rollout(
            best_only, roll_key, obs0, acts, "fixed_member", elites_only=True, sample=False
        )
        curves["best_member"] = sq_err(traj.next_obs, true).mean(-1)
        traj = rollout_single(single_state, roll_key, obs0, acts, "mean", sample=False)
        curves["single_model"] = sq_err(traj.next_obs, true).mean(-1)

        per_seed.append(
            {
                "seed": seed,
                "num_train": int(ens_info.num_train),
                "num_holdout": int(ens_info.num_holdout),
                "num_test": int(test.obs.shape[0]),
                "num_windows": int(obs0.shape[0]),
                "ensemble_epochs": int(ens_info.num_epochs),
                "single_epochs": int(single_info.num_epochs),
                "one_step": one_step,
                "correlation": corr,
                "kstep_mse": {n: c.tolist() for n, c in curves.items()},
                "seconds": time.perf_counter() - t0,
            }
        )
        if scatter is None:
            scatter = (disagreement, err_ens_std, err_ens)
        print(
            f"{env_id} seed {seed}: ens {one_step['ensemble_mean_mse']:.3g} best member "
            f"{one_step['best_member_mse_test']:.3g} single {one_step['single_model_mse']:.3g} "
            f"spearman std/raw {corr['disagreement_vs_standardized_error']['spearman']:.3f}/"
            f"{corr['disagreement_vs_raw_error']['spearman']:.3f} "
            f"epochs {int(ens_info.num_epochs)} ({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
    return per_seed, scatter


def summarise(per_seed):
    def ms(values):
        v = np.asarray(values, float)
        return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
                "max": float(v.max())}  # fmt: skip

    one = {k: ms([s["one_step"][k] for s in per_seed]) for k in per_seed[0]["one_step"]
           if k != "member_mse"}  # fmt: skip
    kstep = {
        name: {f"k={k}": ms([s["kstep_mse"][name][k - 1] for s in per_seed]) for k in KS}
        for name in per_seed[0]["kstep_mse"]
    }
    corr = {
        group: {
            m: ms([s["correlation"][group][m] for s in per_seed]) for m in ("pearson", "spearman")
        }
        for group in per_seed[0]["correlation"]
    }
    ens_le_best = [
        s["one_step"]["ensemble_mean_mse"] <= s["one_step"]["best_member_mse_test"]
        for s in per_seed
    ]
    return {"one_step": one, "kstep_mse": kstep, "correlation": corr,
            "ensemble_no_worse_than_best_member_per_seed": ens_le_best}  # fmt: skip


def plot(results, scatters):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(results["envs"])
    # one-step bars
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4))
    for ax, env_id in zip(np.atleast_1d(axes), envs, strict=True):
        seeds = results["envs"][env_id]["per_seed"]
        members = np.array([s["one_step"]["member_mse"] for s in seeds])  # [S, E]
        labels = [f"m{i}" for i in range(members.shape[1])]
        vals = list(members.T)
        for key, label in [
            ("best_member_mse_test", "best member\n(on test)"),
            ("ensemble_mean_mse", "ensemble mean"),
            ("elite_mean_mse", "elite mean"),
            ("single_model_mse", "single model"),
        ]:
            labels.append(label)
            vals.append(np.array([s["one_step"][key] for s in seeds]))
        means = [v.mean() for v in vals]
        colors = ["0.7"] * members.shape[1] + ["tab:blue", "tab:red", "tab:orange", "tab:green"]
        ax.bar(range(len(vals)), means, color=colors)
        for i, v in enumerate(vals):  # every seed as a dot
            ax.plot(np.full(len(v), i), v, "k.", ms=3)
        ax.set_xticks(range(len(vals)), labels, fontsize=7, rotation=45)
        ax.set_yscale("log")
        ax.set_ylabel("held-out 1-step MSE (next obs)")
        ax.set_title(
            f"{env_id}: one-step error (bars: mean of {len(seeds)} seeds; dots: seeds)", fontsize=10
        )
    fig.tight_layout()
    fig.savefig(RESULTS / "model_error_one_step.png", dpi=120)
    plt.close(fig)

    # k-step curves
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4))
    for ax, env_id in zip(np.atleast_1d(axes), envs, strict=True):
        seeds = results["envs"][env_id]["per_seed"]
        ks = np.arange(1, MAX_K + 1)
        for name in seeds[0]["kstep_mse"]:
            c = np.array([s["kstep_mse"][name] for s in seeds])
            ax.plot(ks, c.mean(0), label=name)
            ax.fill_between(ks, c.min(0), c.max(0), alpha=0.15)
        ax.set_yscale("log")
        ax.set_xlabel("open-loop steps k")
        ax.set_ylabel("MSE of predicted obs at step k")
        ax.set_title(f"{env_id}: compounding error (mean, band: min-max over seeds)", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "model_error_kstep.png", dpi=120)
    plt.close(fig)

    # disagreement vs error scatter (first seed), standardised and raw error
    fig, axes = plt.subplots(2, len(envs), figsize=(5.5 * len(envs), 8), squeeze=False)
    for col, env_id in enumerate(envs):
        d, e_std, e_raw = scatters[env_id]
        corr = results["envs"][env_id]["per_seed"][0]["correlation"]
        for ax, e, group, label in [
            (axes[0, col], e_std, "disagreement_vs_standardized_error", "standardised"),
            (axes[1, col], e_raw, "disagreement_vs_raw_error", "original-units"),
        ]:
            ax.scatter(d, e + 1e-20, s=2, alpha=0.3)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("ensemble disagreement (std of member means / target std)")
            ax.set_ylabel(f"{label} squared error of ensemble mean")
            c = corr[group]
            ax.set_title(
                f"{env_id}, seed 0: Spearman {c['spearman']:.2f}, Pearson {c['pearson']:.2f}",
                fontsize=10,
            )
    fig.tight_layout()
    fig.savefig(RESULTS / "model_error_disagreement.png", dpi=120)
    plt.close(fig)


def size_sweep(cfg: EnsembleConfig, seeds, train_envs_list, n_test_envs, steps) -> dict:
    """CartPole only: how the disagreement-error correlation and the ensemble's 1-step advantage
    change with the amount of training data (train_envs x steps transitions)."""
    env, params = make("CartPole-v1")
    cfg = dataclasses.replace(cfg, obs_dim=env.observation_space(params).shape[0],
                              action_dim=env.action_space(params).n, discrete_actions=True)
    ens = make_ensemble(cfg)
    fit, predict = jax.jit(ens.fit), jax.jit(ens.predict)
    out = {}
    for n_envs in train_envs_list:
        rows = []
        for seed in seeds:
            train_key, test_key, model_key, fit_key, _ = jax.random.split(jax.random.key(seed), 5)
            train = to_transitions(collect("CartPole-v1", train_key, n_envs, steps))
            test = to_transitions(collect("CartPole-v1", test_key, n_test_envs, steps))
            state, _ = fit(ens.init(model_key), train, fit_key)
            pred = predict(state, test.obs, test.action)
            var_d = np.asarray(jnp.square(state.normalizer.target_std[:-1]))
            err_std = np.mean((np.asarray(pred.next_obs) - np.asarray(test.next_obs)) ** 2 / var_d,
                              -1)
            err_raw = sq_err(pred.next_obs, test.next_obs)
            member = sq_err(pred.member_next_obs, test.next_obs[None]).mean(-1)
            d = np.asarray(pred.disagreement)
            rows.append({
                "spearman_standardized": correlations(d, err_std)["spearman"],
                "spearman_raw": correlations(d, err_raw)["spearman"],
                "ensemble_over_best_member_mse": float(err_raw.mean() / member.min()),
            })
        n = n_envs * steps
        out[n] = {k: {"mean": float(np.mean([r[k] for r in rows])),
                      "std": float(np.std([r[k] for r in rows])),
                      "per_seed": [r[k] for r in rows]} for k in rows[0]}
        print(f"CartPole, {n} training transitions: Spearman standardised "
              f"{out[n]['spearman_standardized']['mean']:.2f} +/- "
              f"{out[n]['spearman_standardized']['std']:.2f}, raw "
              f"{out[n]['spearman_raw']['mean']:.2f}; ensemble / best member 1-step MSE "
              f"{out[n]['ensemble_over_best_member_mse']['mean']:.2f}", flush=True)
    return out


def plot_size_sweep(sweep: dict) -> None:
    from mbrl_jax.stats.plotting import figure

    sizes = sorted(sweep)
    fig, (ax,) = figure(width=6.0, height=4.0)
    for key, label in [("spearman_standardized", "disagreement vs standardised error"),
                       ("spearman_raw", "disagreement vs raw-unit error")]:
        values = np.array([sweep[n][key]["per_seed"] for n in sizes])  # [sizes, seeds]
        line, = ax.plot(sizes, values.mean(1), "o-", label=label)
        ax.plot(np.repeat(sizes, values.shape[1]), values.reshape(-1), ".",
                color=line.get_color(), alpha=0.5)
    ax.axhline(0.5, color="gray", ls=":", lw=1)
    ax.set(xscale="log", xlabel="training transitions (random policy)",
           ylabel="Spearman correlation (held-out)",
           title="CartPole: does disagreement rank the error? (dots: seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "model_error_size_sweep.png", dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 200, 200, 200])
    parser.add_argument("--train-envs", type=int, default=40)
    parser.add_argument("--test-envs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--size-sweep", type=int, nargs="*", default=None, metavar="TRAIN_ENVS",
                        help="instead of the study: CartPole correlation vs training-set size, "
                             "with these numbers of data-collection envs, each running --steps "
                             "random steps (e.g. 5 10 20 40)")
    add_results_option(parser)
    args = parser.parse_args()
    global RESULTS
    RESULTS = results_dir(args)
    if args.quick:
        args.seeds, args.hidden, args.train_envs, args.max_epochs = 1, [32, 32], 10, 5
    cfg = EnsembleConfig(
        obs_dim=1,  # filled in per env
        action_dim=1,
        ensemble_size=7,
        num_elites=5,
        hidden_sizes=tuple(args.hidden),
        activation="swish",
        probabilistic=True,
        batch_size=256,
        max_epochs=args.max_epochs,
        learning_rate=1e-3,
        weight_decay=1e-5,
    )
    t0 = time.perf_counter()
    if args.size_sweep:
        sweep = size_sweep(cfg, range(args.seeds), args.size_sweep, args.test_envs, args.steps)
        write_json(RESULTS / "model_error_size_sweep.json",
                   {"seeds": args.seeds, "steps_per_env": args.steps, "results": sweep,
                    "seconds": time.perf_counter() - t0})
        plot_size_sweep(sweep)
        print(f"wrote {RESULTS / 'model_error_size_sweep.json'} and .png")
        return
    results = {
        "config": {**dataclasses.asdict(cfg), "obs_dim": None, "action_dim": None},
        "data": {
            "policy": "uniform random",
            "train_envs": args.train_envs,
            "test_envs": args.test_envs,
            "steps_per_env": args.steps,
        },  # fmt: skip
        "error_units": "squared error of next observation, original units, mean over obs dims",
        "envs": {},
    }
    scatters = {}
    for env_id in ("CartPole-v1", "Pendulum-v1"):
        per_seed, scatters[env_id] = study_env(
            env_id, cfg, range(args.seeds), args.train_envs, args.test_envs, args.steps
        )
        results["envs"][env_id] = {"summary": summarise(per_seed), "per_seed": per_seed}
    cp = results["envs"]["CartPole-v1"]["summary"]["correlation"]
    results["targets"] = {
        f"cartpole_spearman_ge_0.5 ({group})": {
            "mean": cp[group]["spearman"]["mean"],
            "std": cp[group]["spearman"]["std"],
            "min": cp[group]["spearman"]["min"],
            "met_on_mean": cp[group]["spearman"]["mean"] >= 0.5,
            "met_every_seed": cp[group]["spearman"]["min"] >= 0.5,
        }
        for group in ("disagreement_vs_standardized_error", "disagreement_vs_raw_error")
    }
    results["targets"].update(
        {
            "ensemble_1step_no_worse_than_best_member": {
                env_id: results["envs"][env_id]["summary"][
                    "ensemble_no_worse_than_best_member_per_seed"
                ]
                for env_id in results["envs"]
            },
        }
    )
    results["seconds"] = time.perf_counter() - t0
    out = RESULTS / ("model_error_study_quick.json" if args.quick else "model_error_study.json")
    write_json(out, results)
    if not args.quick:
        plot(results, scatters)
    print(json.dumps(results["targets"], indent=1))
    print(f"wrote {out} in {results['seconds']:.0f}s")


if __name__ == "__main__":
    main()
