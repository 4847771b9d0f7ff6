"""MBPO on the command line: flags generated from `MBPOConfig`, with its ensemble's under
`--model.` (defaults: MBPO's recipe, `EnsembleConfig.mbpo`) and SAC's under `--sac.`."""

from mbrl_jax import envs
from mbrl_jax.cli.registry import Nested, config_spec
from mbrl_jax.mbpo.config import MBPOConfig
from mbrl_jax.mbpo.train import make_trainer, termination_fn_for
from mbrl_jax.models import EnsembleConfig
from mbrl_jax.sac import SACConfig

# Set from the env and the algorithm, not by the user.
_MODEL_FIXED = ("obs_dim", "action_dim", "discrete_actions", "learn_termination")
# SAC's run-length fields, which MBPO's own fields replace.
_SAC_UNUSED = ("total_steps", "warmup_steps", "num_envs", "buffer_size", "updates_per_step",
               "env_steps_per_iteration", "eval_episodes")


def _check_env(env, env_params) -> None:
    """Continuous actions with finite bounds, and (at the default `--termination env`) a known
    termination function: the checks `make_trainer` runs. Raises ConfigError otherwise."""
    envs.spec(env, env_params).box_bounds("MBPO")
    termination_fn_for(MBPOConfig(), env)


def _label(config: MBPOConfig) -> str:
    return f"mbpo, G={config.updates_per_step}, M={config.rollout_starts}"


SPECS = (
    config_spec("mbpo", "MBPO: SAC on branched rollouts of a refitted dynamics ensemble",
                config=MBPOConfig(), make_trainer=make_trainer, check_env=_check_env,
                default_env="Pendulum-v1", label=_label, tiny=MBPOConfig.tiny(),
                test_env="Pendulum-v1",
                nested={"model": Nested(EnsembleConfig.mbpo(1, 1), _MODEL_FIXED,
                                        lambda **kw: EnsembleConfig.mbpo(1, 1, **kw)),
                        "sac": Nested(SACConfig(), _SAC_UNUSED)}),
)
