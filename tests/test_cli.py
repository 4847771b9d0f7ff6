import json

import numpy as np
import pytest

from mbrl_jax.cli import main
from mbrl_jax.cli.registry import registry
from mbrl_jax.core.errors import ConfigError


def test_train_writes_outputs_and_summary(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "dyna-q", "--env", "FrozenLake-misc", "--env-kw", "is_slippery=false",
                 "--seeds", "3", "--steps", "400", "--planning-steps", "5",
                 "--chunk-steps", "150", "--eval-every", "50",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    assert not list(out.glob(".write-test"))
    config = json.loads((out / "config.json").read_text())
    assert config["env_kwargs"] == {"is_slippery": False}
    assert config["config"]["planning_steps"] == 5 and config["seeds"] == 3
    assert config["provenance"]["command"].startswith("mbrl-jax train dyna-q --env FrozenLake")
    assert config["provenance"]["versions"]["jax"]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert "NaN" not in "".join(lines)  # strict JSON: a chunk without episodes writes null
    assert [json.loads(x)["step"] for x in lines] == [150, 300, 400]
    evals = [json.loads(x) for x in (out / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == list(range(50, 401, 50))
    assert len(evals[0]["return"]) == 3  # one mean greedy return per seed
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    metrics = np.load(out / "metrics.npz")
    # [seeds, env steps, envs], as every algorithm's (Dyna runs one env per seed)
    assert metrics["reward"].shape == (3, 400, 1) and metrics["done"].shape == (3, 400, 1)
    assert (out / "learning_curve.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "episodes completed" in printed and "learning_curve.png" in printed
    # the per-chunk reward rate in metrics.jsonl equals the saved per-step rewards
    first = json.loads(lines[0])
    assert first["reward_per_step"] == pytest.approx(metrics["reward"][:, :150].mean())


@pytest.mark.parametrize("argv, message", [
    (["train", "dyna-q", "--epsilon", "2"], "epsilon"),
    (["train", "dyna-q", "--planning-steps", "-3"], "planning_steps"),
    (["train", "dyna-q", "--env", "Nope-v0"], "known ids"),
    (["train", "dyna-q", "--env", "CartPole-v1"], "cannot index a table"),
    (["train", "dyna-q", "--env-kw", "bogus=1"], "bogus"),
    (["train", "dyna-q", "--env", "BlockingMaze", "--env-kw", "change_step=-5"], "change_step"),
    (["train", "dyna-q", "--env", "DynaMaze", "--env-kw", "change_step=5"], "change_step"),
    (["train", "dyna-q", "--env-kw", "map_name=9x9"], "map_name"),
    (["train", "dyna-q+", "--kappa", "nan"], "kappa"),
    (["train", "dyna-q", "--seeds", "0"], "must be positive"),
    (["train", "dyna-q", "--env-kw", "novalue"], "KEY=VALUE"),
    (["train", "sarsa"], "invalid choice"),
    (["train", "dyna-q", "--kappa", "1e-3"], "unrecognized arguments: --kappa"),
    (["train", "dyna-q", "--no-untried-actions"],
     "unrecognized arguments: --no-untried-actions"),
    (["train", "dyna-q", "--planning-draw", "random"], "invalid choice"),
    (["train", "dyna-q", "--alpha", "fast"], "expected float"),
    (["train", "dyna-q", "--env-kw", "is_slippery=maybe"], "true or false"),
    (["train", "dyna-q", "--env", "DynaMaze", "--steps", "1e12"], "int32"),
    (["train", "dyna-q", "--steps", "2.5"], "whole number"),
])
def test_bad_options_exit_cleanly(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--out", str(tmp_path / "x"), "--no-progress"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "dyna-q+", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--env", "--env-kw", "--seeds", "--steps", "--planning-steps", "--alpha",
                   "--gamma", "--epsilon", "--kappa", "--planning-draw", "--no-untried-actions",
                   "--chunk-steps", "--out"):
        assert option in text


def test_envs_lists_which_algorithms_accept_each_id(capsys, monkeypatch):
    from mbrl_jax import envs

    monkeypatch.setattr(envs, "registered_envs", lambda: ["DynaMaze", "CartPole-v1"])
    assert main(["envs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines[1:3]}
    # Dreamer takes vector or [H, W, C] observations; DynaMaze's is a scalar cell index.
    assert table == {"DynaMaze": "dyna-q, dyna-q+, muzero", "CartPole-v1": "dreamer, muzero"}


def test_envs_listing_agrees_with_what_each_trainer_accepts(capsys):
    """`mbrl-jax envs` lists an algorithm for an env id exactly when building its trainer there
    (the registry's test sizes, `--env ID`) succeeds; every other build is refused with a
    ConfigError or NotTabularError, never a crash."""
    from mbrl_jax import envs
    from mbrl_jax.cli import _env_table, build_parser

    rows = _env_table().split("\n\n")[0].splitlines()[1:]
    table = {line.split()[0]: line.split(maxsplit=1)[1] for line in rows}
    checked = 0
    for env_id, listed in table.items():
        if listed.startswith("(cannot be built"):
            continue
        env, env_params = envs.make(env_id)
        for name, spec in registry().items():
            args = build_parser().parse_args(["train", name, *spec.test_args, "--env", env_id])
            try:
                spec.build(args, env, env_params)
                built = True
            except (ConfigError, envs.NotTabularError):
                built = False
            assert built == (name in listed.split(", ")), (env_id, name, listed)
            checked += 1
    capsys.readouterr()  # builds may print their update schedule
    assert checked >= 5 * 25  # every algorithm against every buildable id
    assert "muzero" not in table["Pendulum-v1"] and "sac" in table["Pendulum-v1"]


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    for out, message in [(afile, "existing file"), (afile / "sub", "cannot be written"),
                         ("/proc/mbrl-jax-run", "cannot be written")]:
        with pytest.raises(SystemExit) as info:
            main(["train", "dyna-q", "--env", "DynaMaze", "--steps", "10", "--out", str(out),
                  "--no-progress"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and message in err and "Traceback" not in err


def test_steps_in_scientific_notation():
    from mbrl_jax.cli.common import positive_int

    assert positive_int("2e4") == positive_int("20_000") == 20000


@pytest.mark.slow  # `mbrl-jax envs` probes every id with every algorithm: about 15 s
def test_envs_into_a_closed_pipe_exits_quietly():
    import subprocess
    import sys

    run = subprocess.run(f"{sys.executable} -m mbrl_jax envs | head -1", shell=True,
                         capture_output=True, text=True, check=True)
    assert run.stdout.startswith("env id") and "Traceback" not in run.stderr
    assert "BrokenPipe" not in run.stderr


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "mbrl_jax", "--help"], capture_output=True,
                         text=True, check=True)
    assert "train" in out.stdout and "envs" in out.stdout


@pytest.mark.parametrize("name", [  # mbpo, muzero, dreamer compile for 20 s each: slow
    n if n in ("dyna-q", "dyna-q+", "sac") else pytest.param(n, marks=pytest.mark.slow)
    for n in registry()])
def test_every_registered_algorithm_trains_from_the_cli(name, tmp_path):

    spec = registry()[name]
    out = tmp_path / name
    assert main(["train", name, *spec.test_args, "--seeds", "2", "--out", str(out),
                 "--no-progress"]) == 0
    metrics = np.load(out / "metrics.npz")
    assert metrics["reward"].shape[0] == 2 and np.isfinite(metrics["reward"]).all()


def test_a_run_too_large_for_memory_is_a_usage_error(tmp_path, capsys):
    """Refused before it starts: exit status 2 and one line naming what to change (the chunks
    are whole evaluation intervals, so --chunk-steps alone cannot shrink them)."""
    with pytest.raises(SystemExit) as info:
        main(["train", "dyna-q", "--steps", "2000000000", "--seeds", "1024", "--out",
              str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("mbrl-jax: error: the run cannot fit")
    assert "--chunk-steps" in err and "--eval-every" in err and "Traceback" not in err
