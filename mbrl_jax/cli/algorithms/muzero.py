"""MuZero on the command line: flags generated from `MuZeroConfig`."""

from mbrl_jax.cli.registry import config_spec
from mbrl_jax.muzero.config import MuZeroConfig
from mbrl_jax.muzero.train import check_env, make_trainer


def _label(config: MuZeroConfig) -> str:
    return f"muzero ({config.search}), {config.num_simulations} simulations"


SPECS = (
    config_spec("muzero", "MuZero / Gumbel MuZero: learned model, batched tree search",
                config=MuZeroConfig(), make_trainer=make_trainer, check_env=check_env,
                default_env="CartPole-v1", label=_label, tiny=MuZeroConfig.tiny(),
                test_env="Catch-bsuite"),
)
