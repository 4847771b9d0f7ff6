"""PETS on the command line: flags generated from `PETSConfig`, with the planners' under
`--cem.` / `--mppi.` (`--planner` picks one) and the ensemble's under `--model.` (defaults:
`pets.default_model`)."""

from mbrl_jax.cli.registry import Nested, config_spec
from mbrl_jax.pets import PETSConfig, default_model, known_functions, make_trainer
from mbrl_jax.pets.train import check_env

# Set from the env and the algorithm, not by the user.
_MODEL_FIXED = ("obs_dim", "action_dim", "discrete_actions", "learn_termination")


def _check_env(env, env_params) -> None:
    """Continuous actions with finite bounds, and (at the defaults `--reward env --termination
    env`) a known reward and termination function: the checks `make_trainer` runs."""
    check_env(env, env_params)
    known_functions(PETSConfig(), env)


def _label(config: PETSConfig) -> str:
    return (f"pets, {config.planner} P={config.optimiser.population_size} "
            f"H={config.optimiser.horizon}, {config.num_particles} particles {config.propagation}")


_DEFAULT = PETSConfig()
SPECS = (
    config_spec("pets", "PETS: MPC (CEM or MPPI) over a refitted probabilistic ensemble",
                config=_DEFAULT, make_trainer=make_trainer, check_env=_check_env,
                default_env="Pendulum-v1", label=_label, tiny=PETSConfig.tiny(),
                test_env="Pendulum-v1",
                nested={"cem": Nested(_DEFAULT.cem), "mppi": Nested(_DEFAULT.mppi),
                        "model": Nested(default_model(1, 1), _MODEL_FIXED,
                                        lambda **kw: default_model(1, 1, **kw))}),
)
