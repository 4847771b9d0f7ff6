"""What every command shares: the user-error type, argument types, the shared run options and
the output folder check."""

import argparse
import ast
from pathlib import Path

from mbrl_jax.core.errors import MbrlJaxError


class CLIError(MbrlJaxError):
    """A user error: printed as one line, exit status 2."""


def positive_int(text: str) -> int:
    """A positive whole number; `20000`, `20_000` and `2e4` are the same."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        value = int(number)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def env_kw(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    lowered = {"true": "True", "false": "False", "none": "None"}.get(raw.lower(), raw)
    try:
        value = ast.literal_eval(lowered)
    except (ValueError, SyntaxError):
        value = raw  # a plain string such as map_name=8x8
    return key, value


def prepare_out(out: Path) -> Path:
    """Create the output folder, or raise CLIError saying why it cannot be used."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is an existing file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise CLIError(f"--out {out} cannot be written: {err.strerror or err}") from None
    return out


def add_run_options(parser: argparse.ArgumentParser, spec) -> None:
    """Options every algorithm shares."""
    parser.add_argument("--env", default=spec.default_env,
                        help="environment id (see `mbrl-jax envs`)")
    parser.add_argument("--env-kw", type=env_kw, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="environment constructor argument, repeatable "
                             "(e.g. is_slippery=false, change_step=1000)")
    parser.add_argument("--seeds", type=positive_int, default=32,
                        help="independent seeds, vmapped in one program")
    parser.add_argument("--steps", type=positive_int, default=spec.default_steps,
                        help="real environment steps per seed")
    parser.add_argument("--seed", type=int, default=0, help="master PRNG seed")
    parser.add_argument("--chunk-steps", type=positive_int, default=None,
                        help="env steps per compiled chunk between progress updates "
                             "(default: steps/50, at least 100)")
    parser.add_argument("--smooth", type=positive_int, default=10,
                        help="moving-average window (episodes) for the learning curve")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/<algorithm>-<env>-<time>)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--eval-every", type=int, default=None, metavar="STEPS",
                        help="env steps between greedy evaluations inside the compiled program, "
                             "rounded down to whole iterations (default: 10 per run when the "
                             "algorithm can evaluate; 0: none)")
    parser.add_argument("--devices", default=None, metavar="all|N",
                        help="split the seeds over all (or the first N) local devices")
    parser.add_argument("--distributed", action="store_true",
                        help="call jax.distributed.initialize() first (multi-host; see README)")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                        help="env steps between checkpoints (default: steps/10; 0: every chunk; "
                             "the end of the run and Ctrl-C always save)")
    parser.add_argument("--keep-checkpoints", type=positive_int, default=3,
                        help="how many of the latest checkpoints to keep")
    parser.add_argument("--no-checkpoints", action="store_true", help="save no checkpoints")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its latest checkpoint (same "
                             "options; --steps may be larger)")
    parser.add_argument("--stop-at", type=positive_int, default=None, metavar="STEPS",
                        help="end this session at the first chunk end at or past STEPS, with a "
                             "checkpoint (continue later with --resume)")
    parser.add_argument("--no-check-finite", action="store_true",
                        help="do not stop on NaN/inf metrics or state (checked once per chunk)")


def eval_every_steps(args, trainer, saved: dict | None) -> int | None:
    """Env steps between evaluations from --eval-every, rounded down to whole iterations (at
    least one), or the resumed run's; None for no evaluation."""
    if trainer.evaluate is None:
        if args.eval_every:
            raise CLIError(f"--eval-every: {args.algorithm} has no evaluation")
        return None
    if args.eval_every is None and saved is not None:
        return saved.get("eval_every")
    steps = args.eval_every if args.eval_every is not None else trainer.num_env_steps // 10
    if steps < 0:
        raise CLIError(f"--eval-every must be >= 0, got {steps}")
    per_iter = trainer.env_steps_per_iteration
    return max(1, steps // per_iter) * per_iter if steps else None


__all__ = ["CLIError", "add_run_options", "env_kw", "eval_every_steps", "positive_int",
           "prepare_out"]
