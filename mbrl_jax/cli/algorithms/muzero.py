"""MuZero on the command line: its options and how it builds a `Trainer`."""

import argparse

from mbrl_jax.cli.registry import AlgorithmSpec


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", choices=("muzero", "gumbel"), default="muzero",
                        help="pUCT with Dirichlet noise, or Gumbel MuZero's root search")
    parser.add_argument("--simulations", type=int, default=16, help="search simulations per step")
    parser.add_argument("--num-envs", type=int, default=8,
                        help="parallel self-play envs per seed (--steps counts each env's steps)")
    parser.add_argument("--rollout-length", type=int, default=16,
                        help="env steps per env between update phases")
    parser.add_argument("--updates", type=int, default=8, help="gradient updates per iteration")
    parser.add_argument("--batch-size", type=int, default=128, help="positions per update")
    parser.add_argument("--unroll", type=int, default=5, help="K, dynamics steps unrolled")
    parser.add_argument("--td-steps", type=int, default=10, help="n of the n-step value targets")
    parser.add_argument("--discount", type=float, default=0.99, help="discount")
    parser.add_argument("--value-bootstrap", choices=("search", "network"), default="search",
                        help="n-step targets bootstrap from the stored search value or from the "
                        "current networks' value")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--hidden", type=int, default=64, help="MLP width and hidden-state size")
    parser.add_argument("--conv", action="store_true", help="conv torso (MinAtar grids)")


def _build(args, env, env_params):
    from mbrl_jax.muzero.config import MuZeroConfig
    from mbrl_jax.muzero.train import make_trainer

    config = MuZeroConfig(
        total_steps=args.steps, num_envs=args.num_envs,
        rollout_length=args.rollout_length, updates_per_iteration=args.updates,
        batch_size=args.batch_size, num_simulations=args.simulations, search=args.search,
        unroll_steps=args.unroll, td_steps=args.td_steps, discount=args.discount,
        value_bootstrap=args.value_bootstrap,
        learning_rate=args.lr, hidden_sizes=(args.hidden,), latent_size=args.hidden,
        conv=args.conv)
    return make_trainer(config, env, env_params), config


def _check_env(env, env_params) -> None:
    from mbrl_jax.muzero.train import check_env

    check_env(env, env_params)


def _label(args) -> str:
    return f"muzero ({args.search}), {args.simulations} simulations"


SPECS = (
    AlgorithmSpec("muzero", "MuZero / Gumbel MuZero: learned model, batched tree search",
                  _add, _build, default_env="CartPole-v1", default_steps=50_000, label=_label,
                  test_args=("--env", "Catch-bsuite", "--steps", "32", "--num-envs", "2",
                             "--simulations", "4", "--updates", "1", "--batch-size", "8",
                             "--hidden", "8", "--unroll", "2", "--td-steps", "3"),
                  check_env=_check_env),
)
