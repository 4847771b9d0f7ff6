"""Runs that survive: exact resume for every registered algorithm, refusals, Ctrl-C, a process
killed mid-save, memory planning. Subprocesses stand in for new processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.cli import build_parser, main
from mbrl_jax.cli.registry import registry
from mbrl_jax.driver import checkpoint, memory
from mbrl_jax.driver.loop import init_run_state
from mbrl_jax.driver.run import RunError, RunSettings, plan_memory
from tests.conftest import tree_equal

ROOT = Path(__file__).resolve().parents[1]


def _cli(*argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "mbrl_jax", *argv], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _trainer_for(argv):
    args = build_parser().parse_args(argv)
    spec = registry()[args.algorithm]
    env, env_params = envs.make(args.env, **dict(args.env_kw))
    return spec.build(args, env, env_params)[0], args


def _final_state(run_dir: Path, argv):
    trainer, args = _trainer_for(argv)
    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    abstract = jax.eval_shape(jax.vmap(
        lambda k: init_run_state(trainer, k, trainer.default_hparams)), keys)
    ckpt = checkpoint.Checkpointer(run_dir / "checkpoints")
    meta = ckpt.read_meta()
    state, host, _ = ckpt.restore(abstract, {k: meta[k] for k in ("algorithm", "config")})
    ckpt.close()
    return checkpoint._keys_to_data(state), host


def _jsonl(path: Path):
    return [{k: v for k, v in json.loads(x).items() if k != "elapsed_s"}
            for x in path.read_text().splitlines()]


@pytest.mark.parametrize("name", [  # the neural algorithms' resumes take 20-50 s each: slow
    n if n == "dyna-q" else pytest.param(n, marks=pytest.mark.slow) for n in registry()])
def test_resume_is_exact_for_every_algorithm(name, tmp_path):
    """2N steps in one go == N steps (--stop-at), saved, then a new process continuing to 2N.
    The chunk program does not depend on the run length, so with the session's compilation cache
    (conftest.py) the three runs compile it once."""
    spec = registry()[name]
    trainer, _ = _trainer_for(["train", name, *spec.test_args])
    per_iter = trainer.env_steps_per_iteration
    every = max(1, trainer.num_iterations // 10)  # iterations between evaluations, per chunk
    n = 5 * every * per_iter
    total = 2 * n
    evaluation = ["--eval-every", str(every * per_iter)] if trainer.evaluate else []
    common = [*spec.test_args, "--seeds", "2", *evaluation, "--chunk-steps",
              str(every * per_iter), "--no-progress"]
    whole, half = tmp_path / "whole", tmp_path / "half"
    assert main(["train", name, *common, "--steps", str(total), "--out", str(whole)]) == 0
    assert main(["train", name, *common, "--steps", str(total), "--stop-at", str(n),
                 "--out", str(half)]) == 0
    assert json.loads((half / "run.json").read_text())["env_steps"] == n
    _cli("train", name, *common, "--steps", str(total), "--resume", str(half))
    argv = ["train", name, *common, "--steps", str(total)]
    state_whole, host_whole = _final_state(whole, argv)
    state_half, host_half = _final_state(half, argv)
    assert tree_equal(state_whole, state_half)
    assert tree_equal(host_whole, host_half)  # per-step metrics and evaluations so far
    for npz in ("metrics.npz", "eval.npz") if trainer.evaluate else ("metrics.npz",):
        a, b = np.load(whole / npz), np.load(half / npz)
        assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert _jsonl(whole / "metrics.jsonl") == _jsonl(half / "metrics.jsonl")
    if trainer.evaluate:
        assert _jsonl(whole / "eval.jsonl") == _jsonl(half / "eval.jsonl")
    assert json.loads((half / "run.json").read_text())["env_steps"] == total


def test_checkpoint_of_another_run_is_refused_saying_what_differs(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    base = ["--env", "DynaMaze", "--steps", "60", "--planning-steps", "2", "--seeds", "2",
            "--no-progress", "--eval-every", "0"]
    assert main(["train", "dyna-q", *base, "--out", str(run)]) == 0
    cases = [(["train", "dyna-q+", *base], "algorithm: checkpoint has 'dyna-q', this run has "
                                           "'dyna-q+'"),
             (["train", "dyna-q", *base, "--alpha", "0.5"], "config.alpha: checkpoint has 0.1, "
                                                           "this run has 0.5"),
             (["train", "dyna-q", *base, "--seeds", "3"], "seeds: checkpoint has 2")]
    for argv, message in cases:
        with pytest.raises(SystemExit) as info:
            main([*argv, "--resume", str(run)])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 2)
    with pytest.raises(SystemExit):
        main(["train", "dyna-q", *base, "--resume", str(run)])
    assert "checkpoint format version 1, this mbrl-jax reads version 2" in capsys.readouterr().err


_SLOW_SAVE = """
import sys, time
import jax.numpy as jnp
from pathlib import Path
from orbax.checkpoint._src.path import atomicity
from mbrl_jax.driver.checkpoint import Checkpointer

directory, marker = Path(sys.argv[1]), Path(sys.argv[2])
ckpt = Checkpointer(directory)
ckpt.save(1, {"w": jnp.arange(4.0)}, {}, {"algorithm": "x"})

async def stalled_finalize(self, *args, **kwargs):  # data written, folder not yet renamed
    marker.write_text("saving")
    time.sleep(120)

atomicity.AtomicRenameTemporaryPath.finalize = stalled_finalize
ckpt.save(2, {"w": jnp.arange(4.0) + 10}, {}, {"algorithm": "x"})
"""


def test_a_process_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    directory, marker = tmp_path / "ckpt", tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(directory), str(marker)],
                             env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.2)
    child.kill()
    child.wait()
    assert any("tmp" in p.name for p in directory.iterdir())  # the half-written step 2
    ckpt = checkpoint.Checkpointer(directory)
    assert ckpt.latest_step() == 1
    state, _, meta = ckpt.restore({"w": jax.ShapeDtypeStruct((4,), np.float32)},
                                  {"algorithm": "x"})
    np.testing.assert_array_equal(state["w"], np.arange(4.0))
    assert meta["step"] == 1


def test_ctrl_c_saves_at_the_chunk_end_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    argv = ["train", "dyna-q", "--env", "DynaMaze", "--planning-steps", "2", "--seeds", "2",
            "--steps", "400000", "--chunk-steps", "2000", "--eval-every", "0",
            "--checkpoint-every", "1000000", "--no-progress", "--out", str(run)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "mbrl_jax", *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text():
        assert child.poll() is None and time.time() < deadline  # streamed as chunks finish
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err[-2000:]
    assert "Traceback" not in err and f"--resume {run}" in out
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "interrupted" and 0 < status["env_steps"] < 400_000
    step = status["env_steps"]
    assert checkpoint.Checkpointer(run / "checkpoints").latest_step() == step
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == step
    assert np.load(run / "metrics.npz")["reward"].shape == (2, step, 1)


def test_memory_plan_keeps_long_runs_off_the_host_and_refuses_what_cannot_fit(monkeypatch):
    trainer, _ = _trainer_for(["train", "dyna-q", "--env", "DynaMaze", "--steps", "1e9"])
    settings = RunSettings(out=Path("unused"), meta={}, host_metrics_budget=2**30)
    chunk, keep, est = plan_memory(trainer, 32, settings)
    # per env step: reward f32 + done bool + terminated bool = 6 bytes per seed
    assert est.step_metrics_per_seed == 6 and est.run_metrics_per_seed == 6 * 10**9
    assert not keep  # 192 GB of per-step metrics stay off the host
    assert chunk * 6 * 32 <= 256 * 2**20  # a chunk's metrics fit the per-chunk budget
    monkeypatch.setattr(memory, "device_capacity", lambda device: 10_000)
    with pytest.raises(RunError, match=r"cannot fit: memory estimate: state .*/seed"):
        plan_memory(trainer, 32, settings)


def test_a_checkpoint_of_other_shapes_is_refused(tmp_path):
    ckpt = checkpoint.Checkpointer(tmp_path / "ckpt")
    ckpt.save(5, {"buffer": np.zeros((2, 50), np.float32)}, {}, {"algorithm": "x"})
    with pytest.raises(checkpoint.CheckpointMismatchError,
                       match=r"buffer: checkpoint \(2, 50\), this run \(2, 100\)"):
        ckpt.restore({"buffer": jax.ShapeDtypeStruct((2, 100), np.float32)}, {"algorithm": "x"})
