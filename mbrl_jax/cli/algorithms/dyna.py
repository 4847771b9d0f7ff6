"""Dyna-Q and Dyna-Q+ on the command line: flags generated from `DynaConfig`."""

from mbrl_jax.cli.registry import config_spec
from mbrl_jax.dyna.config import DynaConfig
from mbrl_jax.dyna.train import make_trainer
from mbrl_jax.envs.tabular import tabular_spec


def _check_env(env, env_params) -> None:
    tabular_spec(env, env_params)


def _label(config: DynaConfig) -> str:
    return f"{config.variant}, n={config.planning_steps}"


def _spec(variant: str, help: str, skip: tuple[str, ...]):
    return config_spec(variant, help, config=DynaConfig(variant=variant),
                       make_trainer=make_trainer, check_env=_check_env,
                       default_env="FrozenLake-misc", label=_label,
                       tiny=DynaConfig.tiny(variant=variant), test_env="DynaMaze",
                       skip=("variant", *skip))


SPECS = (
    _spec("dyna-q", "tabular Dyna-Q (Sutton & Barto ch. 8)", ("kappa", "untried_actions")),
    _spec("dyna-q+", "tabular Dyna-Q+ with the exploration bonus kappa*sqrt(tau)", ()),
)
