"""DreamerV3 on the command line: its options and how they build a `Trainer`."""

import argparse

from mbrl_jax.cli.registry import AlgorithmSpec


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-ratio", type=float, default=32.0,
                        help="replayed steps per env step; gradient updates per env step = "
                             "train_ratio / (batch * seq-len), printed at the start")
    parser.add_argument("--envs", type=int, default=1, help="parallel envs per seed")
    parser.add_argument("--iteration-steps", type=int, default=16,
                        help="env steps per iteration (the due updates follow each iteration)")
    parser.add_argument("--prefill", type=int, default=1024,
                        help="env steps of random actions before updates begin")
    parser.add_argument("--batch", type=int, default=16, help="replayed sequences per update")
    parser.add_argument("--seq-len", type=int, default=32, help="replayed sequence length")
    parser.add_argument("--deter", type=int, default=128, help="GRU width")
    parser.add_argument("--hidden", type=int, default=128, help="MLP width")
    parser.add_argument("--layers", type=int, default=2, help="MLP hidden layers")
    parser.add_argument("--latents", type=int, nargs=2, default=(16, 16), metavar=("G", "C"),
                        help="categorical latents: groups and classes")
    parser.add_argument("--horizon", type=int, default=15, help="imagination horizon")
    parser.add_argument("--capacity", type=int, default=100_000,
                        help="replay rows per env stream")


def _build(args, env, env_params):
    from mbrl_jax.dreamer.config import DreamerConfig
    from mbrl_jax.dreamer.train import make_trainer

    config = DreamerConfig(
        total_steps=args.steps, num_envs=args.envs, env_steps_per_iteration=args.iteration_steps,
        train_ratio=args.train_ratio, prefill_steps=args.prefill, batch_size=args.batch,
        sequence_length=args.seq_len, deter_size=args.deter, hidden_size=args.hidden,
        num_layers=args.layers, stoch_groups=args.latents[0], stoch_classes=args.latents[1],
        horizon=args.horizon, buffer_capacity=args.capacity)
    trainer = make_trainer(config, env, env_params)
    print(f"train ratio {config.train_ratio:g} replayed steps per env step: "
          f"{config.updates_per_iteration} updates every {config.env_steps_per_iteration} x "
          f"{config.num_envs} env steps = {config.updates_per_env_step:.4g} updates per env step")
    return trainer, config


def _check_env(env, env_params) -> None:
    from mbrl_jax.dreamer.train import check_env

    check_env(env, env_params)


def _label(args) -> str:
    return f"dreamer, train ratio {args.train_ratio:g}"


SPECS = (
    AlgorithmSpec("dreamer", "DreamerV3: RSSM world model, actor-critic in imagination",
                  _add, _build, default_env="CartPole-v1", default_steps=50_000, label=_label,
                  test_args=("--env", "CartPole-v1", "--steps", "32", "--iteration-steps", "8",
                             "--prefill", "16", "--batch", "2", "--seq-len", "8",
                             "--train-ratio", "2", "--deter", "8", "--hidden", "8", "--layers",
                             "1", "--latents", "2", "4", "--horizon", "3",
                             "--capacity", "64"),
                  check_env=_check_env),
)
