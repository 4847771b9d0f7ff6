"""`mbrl-jax train sac`: bad options are refused before anything is traced, naming the field."""

import pytest

from mbrl_jax.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--env", "CartPole-v1"], "env: SAC needs a continuous (Box) action space"),
    (["--tau", "0"], "tau"),
    (["--gamma", "1.5"], "gamma"),
    (["--batch-size", "0"], "batch_size"),
    (["--hidden-sizes", "64,0"], "hidden_sizes"),
    (["--hidden-sizes", "a,b"], "expected int"),
    (["--num-envs", "0"], "num_envs"),
    (["--planning", "5"], "unrecognized arguments: --planning"),
])
def test_bad_sac_options_exit_cleanly(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["train", "sac", *argv, "--out", str(tmp_path / "x"), "--no-progress"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
