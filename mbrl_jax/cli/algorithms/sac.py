"""SAC on the command line: flags generated from `SACConfig` (see `cli.config_flags`)."""

from mbrl_jax.cli.registry import config_spec
from mbrl_jax.sac.config import SACConfig
from mbrl_jax.sac.train import action_bounds, make_trainer


def _check_env(env, env_params) -> None:
    """Continuous actions with finite bounds (raises ConfigError otherwise)."""
    action_bounds(env, env_params)


def _label(config: SACConfig) -> str:
    return f"sac, G={config.updates_per_step}, {'x'.join(map(str, config.hidden_sizes))}"


SPECS = (
    config_spec("sac", "soft actor-critic on continuous-action envs (--steps: per env)",
                config=SACConfig(), make_trainer=make_trainer, check_env=_check_env,
                default_env="Pendulum-v1", label=_label, tiny=SACConfig.tiny(),
                test_env="Pendulum-v1"),
)
