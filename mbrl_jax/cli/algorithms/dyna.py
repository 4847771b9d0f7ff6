"""Dyna-Q and Dyna-Q+ on the command line: their options and how they build a `Trainer`."""

import argparse

from mbrl_jax.cli.registry import AlgorithmSpec


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--planning", type=int, default=50,
                        help="planning updates per real step (n)")
    parser.add_argument("--alpha", type=float, default=0.1, help="step size")
    parser.add_argument("--gamma", type=float, default=0.95, help="discount")
    parser.add_argument("--epsilon", type=float, default=0.1, help="exploration rate")
    parser.add_argument("--draw", choices=("state_then_action", "observed_pair"),
                        default="state_then_action",
                        help="planning draw: the book's (visited state, then an action taken in "
                             "it) or uniform over observed pairs")


def _add_plus(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument("--kappa", type=float, default=1e-3, help="Dyna-Q+ bonus scale")
    parser.add_argument("--observed-only", action="store_true",
                        help="plan only on observed pairs (default: the book's footnote, untried "
                             "actions of visited states are planned as self-loops)")


def _build(args, env, env_params):
    from mbrl_jax.dyna.config import DynaConfig
    from mbrl_jax.dyna.train import make_trainer

    plus = args.algorithm == "dyna-q+"
    extra = {"kappa": args.kappa, "untried_actions": not args.observed_only} if plus else {}
    config = DynaConfig(
        variant=args.algorithm, total_steps=args.steps, planning_steps=args.planning,
        alpha=args.alpha, gamma=args.gamma, epsilon=args.epsilon, planning_draw=args.draw,
        **extra)
    return make_trainer(config, env, env_params), config


def _check_env(env, env_params) -> None:
    from mbrl_jax.envs.tabular import tabular_spec

    tabular_spec(env, env_params)


def _label(args) -> str:
    return f"{args.algorithm}, n={args.planning}"


SPECS = (
    AlgorithmSpec("dyna-q", "tabular Dyna-Q (Sutton & Barto ch. 8)", _add_common, _build,
                  default_env="FrozenLake-misc", default_steps=20_000, label=_label,
                  test_args=("--env", "DynaMaze", "--steps", "300", "--planning", "5"),
                  check_env=_check_env),
    AlgorithmSpec("dyna-q+", "tabular Dyna-Q+ with the exploration bonus kappa*sqrt(tau)",
                  _add_plus, _build, default_env="FrozenLake-misc", default_steps=20_000,
                  label=_label,
                  test_args=("--env", "DynaMaze", "--steps", "300", "--planning", "5"),
                  check_env=_check_env),
)
