"""MBPO on the command line: its options and how they build a `Trainer`."""

import argparse

from mbrl_jax.cli.registry import AlgorithmSpec


def _horizons(text: str) -> tuple[int, int, int, int]:
    parts = tuple(int(p) for p in text.split(","))
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("expected a,b,h_a,h_b (four integers)")
    return parts


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retrain-every", type=int, default=250,
                        help="F, env steps between model refits (and rollouts)")
    parser.add_argument("--warmup", type=int, default=250, help="random-action env steps")
    parser.add_argument("--rollouts", type=int, default=10_000,
                        help="M, start states of branched rollouts per refit")
    parser.add_argument("--horizon", type=_horizons, default=(0, 1, 1, 1),
                        help="linear horizon schedule a,b,h_a,h_b in env steps")
    parser.add_argument("--updates", type=int, default=20, help="G, SAC updates per env step")
    parser.add_argument("--real-ratio", type=float, default=0.05,
                        help="fraction of real transitions in each SAC batch")
    parser.add_argument("--retain", type=int, default=4,
                        help="refit periods whose rollouts the model buffer keeps")
    parser.add_argument("--disagreement", type=float, default=None,
                        help="cut rollouts where ensemble disagreement exceeds this "
                             "(default: never, as the paper)")
    parser.add_argument("--termination", choices=("env", "learned", "none"), default="env",
                        help="termination: the env's known function, a learned head, or none")
    parser.add_argument("--model-hidden", type=int, default=200, help="ensemble layer width")
    parser.add_argument("--model-layers", type=int, default=4, help="ensemble hidden layers")
    parser.add_argument("--model-epochs", type=int, default=100, help="max epochs per refit")
    parser.add_argument("--sac-hidden", type=int, default=256, help="SAC layer width")
    parser.add_argument("--batch", type=int, default=256, help="SAC batch size")


def _build(args, env, env_params):
    from mbrl_jax.mbpo.config import MBPOConfig
    from mbrl_jax.mbpo.train import make_trainer
    from mbrl_jax.models import EnsembleConfig
    from mbrl_jax.models.config import MBPO_LAYER_WEIGHT_DECAY
    from mbrl_jax.sac import SACConfig

    layers = args.model_layers
    decay = (MBPO_LAYER_WEIGHT_DECAY if layers == 4
             else tuple(2.5e-5 + 7.5e-5 * i / layers for i in range(layers + 1)))
    model = EnsembleConfig.mbpo(1, 1, hidden_sizes=(args.model_hidden,) * layers,
                                layer_weight_decay=decay, max_epochs=args.model_epochs)
    config = MBPOConfig(
        total_steps=args.steps, env_steps_per_iteration=args.retrain_every,
        warmup_steps=args.warmup, rollout_starts=args.rollouts, rollout_schedule=args.horizon,
        model_retain_periods=args.retain, real_ratio=args.real_ratio,
        updates_per_step=args.updates, disagreement_threshold=args.disagreement,
        termination=args.termination, model=model,
        sac=SACConfig(hidden_sizes=(args.sac_hidden,) * 2, batch_size=args.batch))
    return make_trainer(config, env, env_params), config


def _check_env(env, env_params) -> None:
    """Continuous actions with finite bounds, and (at the default `--termination env`) a known
    termination function: the checks `make_trainer` runs. Raises ConfigError otherwise."""
    from mbrl_jax.mbpo.config import MBPOConfig
    from mbrl_jax.mbpo.train import termination_fn_for
    from mbrl_jax.sac.train import action_bounds

    action_bounds(env, env_params)
    termination_fn_for(MBPOConfig(), env)


def _label(args) -> str:
    return f"mbpo, G={args.updates}, M={args.rollouts}"


SPECS = (
    AlgorithmSpec("mbpo", "MBPO: SAC on branched rollouts of a refitted dynamics ensemble",
                  _add, _build, default_env="Pendulum-v1", default_steps=2_500, label=_label,
                  test_args=("--env", "Pendulum-v1", "--steps", "20", "--retrain-every", "10",
                             "--warmup", "10", "--rollouts", "8", "--updates", "1",
                             "--model-hidden", "8", "--model-layers", "1", "--model-epochs",
                             "2", "--sac-hidden", "8", "--batch", "8"),
                  check_env=_check_env),
)
