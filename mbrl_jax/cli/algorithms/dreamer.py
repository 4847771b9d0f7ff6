"""DreamerV3 on the command line: flags generated from `DreamerConfig`."""

from mbrl_jax.cli.registry import config_spec
from mbrl_jax.dreamer.config import DreamerConfig
from mbrl_jax.dreamer.train import check_env, make_trainer


def _make_trainer(config: DreamerConfig, env, env_params):
    trainer = make_trainer(config, env, env_params)
    print(f"train ratio {config.train_ratio:g} replayed steps per env step: "
          f"{config.updates_per_iteration} updates every {config.env_steps_per_iteration} x "
          f"{config.num_envs} env steps = {config.updates_per_env_step:.4g} updates per env step")
    return trainer


def _label(config: DreamerConfig) -> str:
    return f"dreamer, train ratio {config.train_ratio:g}"


SPECS = (
    config_spec("dreamer", "DreamerV3: RSSM world model, actor-critic in imagination",
                config=DreamerConfig(), make_trainer=_make_trainer, check_env=check_env,
                default_env="CartPole-v1", label=_label, tiny=DreamerConfig.tiny(),
                test_env="CartPole-v1"),
)
