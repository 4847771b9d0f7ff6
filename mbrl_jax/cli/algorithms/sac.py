"""SAC on the command line: its options and how they build a `Trainer`."""

import argparse

from mbrl_jax.cli.registry import AlgorithmSpec


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 256,256, got {text!r}") from None


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", type=_sizes, default=(256, 256),
                        help="hidden widths of actor and critics, comma-separated")
    parser.add_argument("--batch-size", type=int, default=256, help="transitions per update")
    parser.add_argument("--buffer-size", type=int, default=100_000,
                        help="replay capacity in transitions")
    parser.add_argument("--warmup", type=int, default=1_000,
                        help="env steps per env with uniformly random actions, no updates")
    parser.add_argument("--updates-per-step", type=int, default=1,
                        help="gradient steps per env step (G)")
    parser.add_argument("--num-envs", type=int, default=1, help="parallel envs per seed")
    parser.add_argument("--actor-lr", type=float, default=3e-4, help="actor Adam step size")
    parser.add_argument("--critic-lr", type=float, default=3e-4, help="critic Adam step size")
    parser.add_argument("--alpha-lr", type=float, default=3e-4,
                        help="temperature Adam step size")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount")
    parser.add_argument("--tau", type=float, default=0.005, help="Polyak rate of target critics")


def _build(args, env, env_params):
    from mbrl_jax.sac.config import SACConfig
    from mbrl_jax.sac.train import make_trainer

    config = SACConfig(
        hidden_sizes=args.hidden, batch_size=args.batch_size, buffer_size=args.buffer_size,
        warmup_steps=args.warmup, updates_per_step=args.updates_per_step,
        num_envs=args.num_envs, total_steps=args.steps, actor_lr=args.actor_lr,
        critic_lr=args.critic_lr, alpha_lr=args.alpha_lr, gamma=args.gamma, tau=args.tau)
    return make_trainer(config, env, env_params), config


def _check_env(env, env_params) -> None:
    """Continuous actions with finite bounds (raises ConfigError otherwise)."""
    from mbrl_jax.sac.train import action_bounds

    action_bounds(env, env_params)


def _label(args) -> str:
    return f"sac, G={args.updates_per_step}, {'x'.join(map(str, args.hidden))}"


SPECS = (
    AlgorithmSpec("sac", "soft actor-critic on continuous-action envs (--steps: per env)", _add,
                  _build, default_env="Pendulum-v1", default_steps=10_000, label=_label,
                  test_args=("--env", "Pendulum-v1", "--steps", "40", "--hidden", "8",
                             "--batch-size", "8", "--warmup", "20", "--num-envs", "2"),
                  check_env=_check_env),
)
