"""The mbrl-lib side of `benchmarks/vs_mbrl_lib.py` and `benchmarks/planning_vs_mbrl_lib.py`;
runs in mbrl-lib's own virtual environment.

Started by vs_mbrl_lib.py as `VENV/bin/python benchmarks/mbrl_lib_runner.py DATA.npz` (the
planning benchmark needs no data and passes none), it
answers one JSON command per line on stdin with one JSON line on stdout, so the two libraries
run interleaved in the same rounds while each keeps its own process (mbrl-lib needs numpy < 2
and PyTorch; it imports nothing of mbrl_jax). Commands (each sets `torch.set_num_threads`):

  {"cmd": "fit", "threads": T, "epochs": N, "hidden": H, "layers": L, "seed": S}
      a fresh `GaussianMLP` ensemble in `OneDTransitionRewardModel`, `ModelTrainer.train` on
      the data's transitions for N epochs without early stopping (20% holdout, batch 256);
      answers the seconds of iterators + normaliser + training. The model is kept for "rollout".
  {"cmd": "rollout", "threads": T, "seed": S, "repeats": R}
      `ModelEnv.step(..., sample=True)` over the data's `rollout_actions` `[H, B, A]` from
      `rollout_obs` `[B, O]` (TS-1 among the elites), R times; answers the median seconds.
  {"cmd": "matmul", "threads": T, "sizes": [4, 200, ..., 8], "batches": NB, "batch": B,
   "holdout": V, "starts": S, "horizon": H, "repeats": R}
      only the matrix products of (a)'s epoch (per batch the forward and both backward
      products of every layer, 7 members, then the holdout forward) and of (b)'s rollout (H
      forwards of S rows split over 5 elites), as `torch.bmm` on random tensors; answers
      each one's median seconds of R.
  {"cmd": "mbpo", "threads": T, "seed": S, ...settings}
      `mbrl.algorithms.mbpo.train` on gymnasium's Pendulum-v1; answers the seconds of the whole
      run, the wall-clock of each model refit's end (to time the steady state between refits),
      the SAC updates done and env rows held by then, the epochs of each refit and the SAC
      updates in all.
  {"cmd": "plan", "threads": T, "hidden": H, "layers": L, "seed": S, "obs": [[...], ...],
   "horizon": 30, "population": 500, "elite_ratio": 0.1, "iterations": 5, "alpha": 0.1,
   "particles": 20, "members": 5}
      PETS's planner: `TrajectoryOptimizerAgent` + `CEMOptimizer` (truncated normal, mean of
      the elites returned, replan_freq 1, keep_last_solution) through
      `create_trajectory_optim_agent_for_model` over `ModelEnv` on a randomly initialised
      `GaussianMLP` ensemble of `members` x L x H (TS-inf, "fixed_model"; all members, none set
      as elites) in `OneDTransitionRewardModel`, Pendulum's reward from the predicted next
      observation (`pendulum_reward`), no termination. One `agent.act(obs)` per given obs, in
      order (each warm-started from the last plan); answers each call's seconds. The agent is
      kept while (hidden, layers, seed, settings) stay the same.
"""

import contextlib
import json
import sys
import tempfile
import time

import gymnasium as gym
import mbrl.algorithms.mbpo as mbpo
import mbrl.env.termination_fns as termination_fns
import mbrl.models as models
import mbrl.planning as planning
import mbrl.third_party.pytorch_sac_pranz24.sac as pranz24_sac
import mbrl.util.common as common
import numpy as np
import omegaconf
import torch
from mbrl.util.replay_buffer import ReplayBuffer

BATCH, HOLDOUT, ELITES, ENSEMBLE = 256, 0.2, 5, 7


def load(path: str) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def make_model(data: dict, hidden: int, layers: int, seed: int):
    torch.manual_seed(seed)
    obs_dim, act_dim = data["obs"].shape[1], data["action"].shape[1]
    net = models.GaussianMLP(
        in_size=obs_dim + act_dim, out_size=obs_dim + 1, device="cpu", num_layers=layers,
        ensemble_size=ENSEMBLE, hid_size=hidden, propagation_method="random_model",
        learn_logvar_bounds=True, activation_fn_cfg={"_target_": "torch.nn.SiLU"})
    return models.OneDTransitionRewardModel(net, target_is_delta=True, normalize=True,
                                            learned_rewards=True, num_elites=ELITES)


def fit(state: dict, data: dict, cmd: dict) -> dict:
    model = make_model(data, cmd["hidden"], cmd["layers"], cmd["seed"])
    rng = np.random.default_rng(cmd["seed"])
    n = data["obs"].shape[0]
    buffer = ReplayBuffer(n, data["obs"].shape[1:], data["action"].shape[1:], rng=rng)
    buffer.add_batch(data["obs"], data["action"], data["next_obs"], data["reward"],
                     data["terminated"], np.zeros(n, bool))
    trainer = models.ModelTrainer(model, optim_lr=1e-3, weight_decay=1e-5)
    t0 = time.perf_counter()
    train_it, val_it = common.get_basic_buffer_iterators(buffer, BATCH, HOLDOUT,
                                                         ensemble_size=ENSEMBLE)
    model.update_normalizer(buffer.get_all())
    train_losses, _ = trainer.train(train_it, dataset_val=val_it, num_epochs=cmd["epochs"],
                                    patience=None, silent=True)
    seconds = time.perf_counter() - t0
    state["model"] = model
    return {"seconds": seconds, "epochs": len(train_losses),
            "batches_per_epoch": len(train_it), "val_rows": len(val_it.transitions)}


def rollout(state: dict, data: dict, cmd: dict) -> dict:
    env = gym.make("Pendulum-v1")
    generator = torch.Generator().manual_seed(cmd.get("seed", 0))
    model_env = models.ModelEnv(env, state["model"], termination_fns.no_termination, None,
                                generator=generator)
    actions = data["rollout_actions"]
    times = []
    for _ in range(cmd.get("repeats", 1)):
        t0 = time.perf_counter()
        model_state = model_env.reset(data["rollout_obs"], return_as_np=True)
        for t in range(actions.shape[0]):
            next_obs, reward, done, model_state = model_env.step(actions[t], model_state,
                                                                sample=True)
        times.append(time.perf_counter() - t0)
    return {"seconds": float(np.median(times)), "finite": bool(np.isfinite(next_obs).all())}


def pendulum_reward(act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """Pendulum-v1's reward from the predicted next observation [cos, sin, theta_dot] and the
    action (`[B, 1]`, as ModelEnv's reward_fn): -(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)."""
    theta = torch.atan2(next_obs[:, 1], next_obs[:, 0])  # in (-pi, pi], normalised
    u = act[:, 0].clamp(-2.0, 2.0)
    return -(theta ** 2 + 0.1 * next_obs[:, 2] ** 2 + 0.001 * u ** 2).view(-1, 1)


PLAN_KEYS = ("hidden", "layers", "seed", "horizon", "population", "elite_ratio", "iterations",
             "alpha", "particles", "members")


def make_planner(cmd: dict):
    torch.manual_seed(cmd["seed"])
    env = gym.make("Pendulum-v1")
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    # out_size obs + 1: a reward head as ours has (unused: reward_fn replaces it), so both
    # networks are the same size
    net = models.GaussianMLP(
        in_size=obs_dim + act_dim, out_size=obs_dim + 1, device="cpu", num_layers=cmd["layers"],
        ensemble_size=cmd["members"], hid_size=cmd["hidden"], deterministic=False,
        propagation_method="fixed_model", learn_logvar_bounds=False,
        activation_fn_cfg={"_target_": "torch.nn.SiLU"})
    model = models.OneDTransitionRewardModel(net, target_is_delta=True, normalize=True,
                                             learned_rewards=True)
    model_env = models.ModelEnv(env, model, termination_fns.no_termination, pendulum_reward,
                                generator=torch.Generator().manual_seed(cmd["seed"]))
    agent_cfg = omegaconf.OmegaConf.create({
        "_target_": "mbrl.planning.TrajectoryOptimizerAgent",
        "_recursive_": False,  # the agent instantiates optimizer_cfg once it has the bounds
        "action_lb": env.action_space.low.tolist(), "action_ub": env.action_space.high.tolist(),
        "planning_horizon": cmd["horizon"], "replan_freq": 1, "verbose": False,
        "keep_last_solution": True,
        "optimizer_cfg": {
            "_target_": "mbrl.planning.CEMOptimizer", "num_iterations": cmd["iterations"],
            "elite_ratio": cmd["elite_ratio"], "population_size": cmd["population"],
            "alpha": cmd["alpha"], "lower_bound": "???", "upper_bound": "???",
            "return_mean_elites": True, "clipped_normal": False, "device": "cpu"}})
    agent = planning.create_trajectory_optim_agent_for_model(model_env, agent_cfg,
                                                             num_particles=cmd["particles"])
    return agent, int(agent.optimizer.optimizer.elite_num)


def plan(state: dict, cmd: dict) -> dict:
    settings = tuple(cmd[k] for k in PLAN_KEYS)
    if state.get("plan_settings") != settings:
        state["planner"], state["plan_settings"] = make_planner(cmd), settings
    agent, elites = state["planner"]
    times, actions = [], []
    for obs in cmd["obs"]:
        obs = np.asarray(obs, np.float32)
        t0 = time.perf_counter()
        action = agent.act(obs)
        times.append(time.perf_counter() - t0)
        actions.append(np.asarray(action, np.float64).tolist())
    return {"seconds": times, "actions": actions, "elites": elites,
            "grad_enabled": torch.is_grad_enabled()}


def matmul(cmd: dict) -> dict:
    sizes, b = cmd["sizes"], cmd["batch"]
    weights = [torch.randn(ENSEMBLE, i, o) * 0.05
               for i, o in zip(sizes[:-1], sizes[1:], strict=True)]

    def forward(ws: list, rows: int) -> list:
        acts = [torch.randn(ws[0].shape[0], rows, sizes[0])]
        for w in ws:
            acts.append(torch.bmm(acts[-1], w))
        return acts

    def epoch() -> None:
        for _ in range(cmd["batches"]):
            acts = forward(weights, b)
            grad = acts[-1]
            for w, a in zip(weights[::-1], acts[-2::-1], strict=True):
                torch.bmm(a.transpose(1, 2), grad)  # dW
                grad = torch.bmm(grad, w.transpose(1, 2))  # dX
        forward(weights, cmd["holdout"])  # every member on every holdout row

    def roll() -> None:
        elites = [w[:ELITES] for w in weights]
        for _ in range(cmd["horizon"]):
            forward(elites, cmd["starts"] // ELITES)

    out = {}
    with torch.no_grad():
        for name, fn in (("epoch_seconds", epoch), ("rollout_seconds", roll)):
            fn()
            times = []
            for _ in range(cmd["repeats"]):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            out[name] = float(np.median(times))
    return out


def mbpo_config(cmd: dict) -> omegaconf.DictConfig:
    """mbrl-lib's MBPO configuration (its algorithm/mbpo.yaml with the benchmark's values)."""
    f = cmd["env_steps_per_iteration"]
    return omegaconf.OmegaConf.create({
        "seed": cmd["seed"], "device": "cpu", "log_frequency_agent": 10**9, "save_video": False,
        "debug_mode": False,
        "dynamics_model": {
            "_target_": "mbrl.models.GaussianMLP", "_recursive_": False, "device": "cpu",
            "num_layers": cmd["model_layers"], "ensemble_size": ENSEMBLE,
            "hid_size": cmd["model_hidden"], "deterministic": False,
            "propagation_method": "random_model", "learn_logvar_bounds": True,
            "activation_fn_cfg": {"_target_": "torch.nn.SiLU"}},
        "algorithm": {
            "name": "mbpo", "normalize": True, "normalize_double_precision": True,
            "target_is_delta": True, "learned_rewards": True, "freq_train_model": f,
            "real_data_ratio": cmd["real_ratio"], "sac_samples_action": True,
            "initial_exploration_steps": cmd["warmup_steps"], "random_initial_explore": True,
            "num_eval_episodes": 1, "dataset_size": cmd["dataset_size"],
            "agent": {
                "_target_": "mbrl.third_party.pytorch_sac_pranz24.sac.SAC",
                "num_inputs": "???",
                "action_space": {"_target_": "gymnasium.spaces.Box", "_convert_": "all",
                                 "low": -2.0, "high": 2.0, "shape": [1]},  # Pendulum
                "args": {"gamma": 0.99, "tau": 0.005, "alpha": 0.2, "policy": "Gaussian",
                         "target_update_interval": 1, "automatic_entropy_tuning": True,
                         "target_entropy": -1, "hidden_size": cmd["sac_hidden"],
                         "device": "cpu", "lr": cmd["sac_lr"]}}},
        "overrides": {
            "env": "Pendulum-v1", "num_steps": cmd["loop_steps"], "epoch_length": 4 * f,
            "num_elites": ELITES, "patience": cmd["model_patience"], "model_lr": 1e-3,
            "model_wd": 1e-5,
            "model_batch_size": BATCH, "validation_ratio": HOLDOUT,
            "num_epochs_train_model": cmd["model_max_epochs"], "freq_train_model": f,
            "effective_model_rollouts_per_step": cmd["rollout_starts"] // f,
            "rollout_schedule": [1, 15, 1, 1],
            "num_sac_updates_per_step": cmd["updates_per_step"], "sac_updates_every_steps": 1,
            "num_epochs_to_retain_sac_buffer": 1, "sac_batch_size": cmd["sac_batch"]},
    })


def run_mbpo(cmd: dict) -> dict:
    refits, updates_at_refit, rows_at_refit, epochs = [], [], [], []
    updates = [0]
    original_refit = common.train_model_and_save_model_and_data
    original_train = models.ModelTrainer.train
    original_update = pranz24_sac.SAC.update_parameters

    def timed_refit(model, trainer, cfg, replay_buffer, *args, **kwargs):
        out = original_refit(model, trainer, cfg, replay_buffer, *args, **kwargs)
        refits.append(time.perf_counter())
        updates_at_refit.append(updates[0])
        rows_at_refit.append(replay_buffer.num_stored)
        return out

    def counted_train(self, *args, **kwargs):
        out = original_train(self, *args, **kwargs)
        epochs.append(len(out[0]))
        return out

    def counted_update(self, *args, **kwargs):
        updates[0] += 1
        return original_update(self, *args, **kwargs)

    common.train_model_and_save_model_and_data = timed_refit  # what mbpo.train calls
    models.ModelTrainer.train = counted_train
    pranz24_sac.SAC.update_parameters = counted_update
    torch.manual_seed(cmd["seed"])
    env, test_env = gym.make("Pendulum-v1"), gym.make("Pendulum-v1")
    env.reset(seed=cmd["seed"])
    test_env.reset(seed=cmd["seed"] + 1)
    try:
        with tempfile.TemporaryDirectory() as work_dir:
            t0 = time.perf_counter()
            best = mbpo.train(env, test_env, termination_fns.no_termination, mbpo_config(cmd),
                              silent=True, work_dir=work_dir)
            seconds = time.perf_counter() - t0
    finally:
        common.train_model_and_save_model_and_data = original_refit
        models.ModelTrainer.train = original_train
        pranz24_sac.SAC.update_parameters = original_update
    return {"seconds": seconds, "refit_seconds_since_start": [r - t0 for r in refits],
            "updates_at_refit": updates_at_refit, "rows_at_refit": rows_at_refit,
            "epochs_per_refit": epochs,
            "updates": updates[0], "best_eval_return": float(best)}


def main() -> None:
    data = load(sys.argv[1]) if len(sys.argv) > 1 else {}
    state: dict = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "numpy": np.__version__,
                      "mbrl": _mbrl_version()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        torch.set_num_threads(cmd.get("threads", 1))
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the answers
            if cmd["cmd"] == "fit":
                out = fit(state, data, cmd)
            elif cmd["cmd"] == "rollout":
                out = rollout(state, data, cmd)
            elif cmd["cmd"] == "matmul":
                out = matmul(cmd)
            elif cmd["cmd"] == "mbpo":
                out = run_mbpo(cmd)
            elif cmd["cmd"] == "plan":
                out = plan(state, cmd)
            else:
                out = {"error": f"unknown command {cmd['cmd']!r}"}
        print(json.dumps(out), flush=True)


def _mbrl_version() -> str:
    from importlib.metadata import version

    return version("mbrl")


if __name__ == "__main__":
    main()
