"""Imagined against real CartPole trajectories of a trained DreamerV3 world model.

Trains one seed (`--steps`, CPU preset of `dreamer_results.py`), or loads seed 0 of a
`dreamer_results.py` run (`--state`, the `*_seed0.pkl` it writes), then runs the greedy policy on a
real episode. From the posterior after `--context` real steps, the model imagines `--horizon`
steps open loop with the real actions; the figure shows each decoded observation dimension and
the predicted reward against the real ones. Writes dreamer_imagination.{png,json} into
scripts/runs/ (git-ignored), the committed scripts/results/ with --write-results, or --out DIR.

    python scripts/dreamer_imagination.py --steps 20000 [--out DIR] [--write-results]
    python scripts/dreamer_imagination.py --state DIR/dreamer_cartpole_cpu_seed0.pkl
"""

import argparse
import json
import pickle
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from common import add_results_option, results_dir
from dreamer_results import PRESETS

from mbrl_jax import envs
from mbrl_jax.dreamer import DreamerConfig, make_agent, make_trainer
from mbrl_jax.dreamer.math import symexp, twohot_mean
from mbrl_jax.dreamer.rssm import feat
from mbrl_jax.driver.loop import make_train_fn
from mbrl_jax.stats.provenance import write_json


def real_episode(agent, state, env, env_params, steps, key):
    """Greedy real rollout: obs [steps+1, 4], model actions [steps, A], rewards [steps]."""
    obs, env_state = env.reset(key, env_params)
    carry = agent.initial_carry(())
    act = jax.jit(lambda s, c, o, f, k: agent.act(s, c, o, f, k, greedy=True))
    step = jax.jit(env.step)
    all_obs, actions, rewards = [obs], [], []
    for t in range(steps):
        key, act_key, env_key = jax.random.split(key, 3)
        carry, action = act(state, carry, obs, jnp.bool_(t == 0), act_key)
        obs, env_state, reward, term, trunc, info = step(env_key, env_state, action, env_params)
        all_obs.append(info["final_observation"])
        actions.append(carry.prev_action)
        rewards.append(reward)
        if bool(term | trunc):
            break
    return np.stack(all_obs), np.stack(actions), np.asarray(rewards, np.float32)


def imagine_open_loop(agent, state, obs, actions, context, horizon, key):
    """Posterior over real steps 0..context, then `horizon` prior steps with the real actions.
    Returns decoded observations [horizon, O], rewards [horizon], continue probs [horizon]."""
    rssm = agent.rssm
    prev = np.concatenate([np.zeros_like(actions[:1]), actions])[: context + 1]
    first = np.zeros(context + 1, bool)
    first[0] = True
    obs_key, img_key = jax.random.split(key)
    last, _, _, _ = rssm.observe(state.wm_params, rssm.initial(()), jnp.asarray(obs[: context + 1]),
                                 jnp.asarray(prev), jnp.asarray(first), obs_key)

    def step(s, xs):
        action, k = xs
        s, _ = rssm.img_step(state.wm_params, s, action, k)
        return s, s

    future = jnp.asarray(actions[context: context + horizon])
    _, states = jax.lax.scan(step, last, (future, jax.random.split(img_key, horizon)))
    f = feat(states)
    decoded = symexp(rssm.decode(state.wm_params, f))
    reward = twohot_mean(rssm.reward_logits(state.wm_params, f), agent.bins)
    cont = jax.nn.sigmoid(rssm.cont_logit(state.wm_params, f))
    return np.asarray(decoded), np.asarray(reward), np.asarray(cont)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--context", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=15)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    add_results_option(parser)
    parser.add_argument("--cache", type=Path, default=None,
                        help="pickle of the trained state and metrics: loaded if it exists, "
                             "written after training otherwise")
    parser.add_argument("--state", type=Path, default=None,
                        help="seed 0 of a dreamer_results.py CartPole run (its *_seed0.pkl); "
                             "replaces training")
    args = parser.parse_args(argv)
    out = results_dir(args)

    config = DreamerConfig(total_steps=args.steps, **PRESETS[args.preset])
    env, env_params = envs.make("CartPole-v1")
    start = time.perf_counter()
    if args.state is not None:
        saved = pickle.loads(args.state.read_bytes())
        if saved["env"] != "CartPole-v1" or saved["preset"] != args.preset:
            raise SystemExit(f"{args.state} holds {saved['env']} / preset {saved['preset']}; "
                             f"need CartPole-v1 / {args.preset}")
        state, train_s, args.steps = saved["state"], saved["train_seconds"], saved["env_steps"]
        metrics = {"done": np.asarray(saved["episodes"])}
    elif args.cache is not None and args.cache.exists():
        state, metrics, train_s = pickle.loads(args.cache.read_bytes())
    else:
        state, metrics, _ = jax.jit(make_train_fn(make_trainer(config, env, env_params)))(
            jax.random.key(0))
        state, metrics = jax.tree.map(np.asarray, (state, metrics))
        train_s = time.perf_counter() - start
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps((state, metrics, train_s)))
    agent = make_agent(config, (4,), 2, True)
    obs, actions, rewards = real_episode(agent, state, env, env_params,
                                         args.context + args.horizon, jax.random.key(5))
    horizon = min(args.horizon, len(actions) - args.context)
    decoded, reward, cont = imagine_open_loop(agent, state, obs, actions, args.context, horizon,
                                              jax.random.key(6))
    real = obs[args.context + 1: args.context + 1 + horizon]
    err = np.abs(decoded - real).mean(0)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = ["cart position", "cart velocity", "pole angle", "pole angular velocity", "reward"]
    fig, axes = plt.subplots(1, 5, figsize=(18, 3.2))
    t = np.arange(1, horizon + 1)
    for i, ax in enumerate(axes):
        r = rewards[args.context: args.context + horizon] if i == 4 else real[:, i]
        m = reward if i == 4 else decoded[:, i]
        ax.plot(t, r, "k-o", ms=3, label="real")
        ax.plot(t, m, "C1--s", ms=3, label="imagined")
        ax.set(title=names[i], xlabel="steps after the context")
    axes[0].legend()
    fig.suptitle(f"DreamerV3 (ours), CartPole-v1 after {args.steps} env steps: "
                 f"{args.context}-step context, open loop with the real actions")
    fig.tight_layout()
    fig.savefig(out / "dreamer_imagination.png", dpi=110)
    episodes = np.asarray(metrics["done"]).sum()
    payload = {"steps": args.steps, "context": args.context, "horizon": horizon,
               "mean_abs_error_per_dim": err.tolist(),
               "reward_abs_error": float(np.abs(reward - rewards[args.context:
                                                                  args.context + horizon]).mean()),
               "continue_prob": cont.tolist(), "train_seconds": train_s,
               "train_episodes": int(episodes),
               "mean_train_episode_length": float(args.steps / max(episodes, 1))}
    write_json(out / "dreamer_imagination.json", payload)
    print(json.dumps(payload, indent=1))
    print("wrote", out / "dreamer_imagination.png")


if __name__ == "__main__":
    main()
