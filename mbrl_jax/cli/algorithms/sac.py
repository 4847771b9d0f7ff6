"""SAC on the command line: flags generated from `SACConfig` (see `cli.config_flags`)."""

from mbrl_jax.cli.registry import config_spec
from mbrl_jax.sac.config import SACConfig
from mbrl_jax.sac.train import check_env, make_trainer


def _label(config: SACConfig) -> str:
    return f"sac, G={config.updates_per_step}, {'x'.join(map(str, config.hidden_sizes))}"


SPECS = (
    config_spec("sac", "soft actor-critic on continuous-action envs (--steps: per env)",
                config=SACConfig(), make_trainer=make_trainer, check_env=check_env,
                default_env="Pendulum-v1", label=_label, tiny=SACConfig.tiny(),
                test_env="Pendulum-v1"),
)
