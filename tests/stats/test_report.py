import json

import numpy as np
import pytest

from mbrl_jax.cli import progress
from mbrl_jax.stats import report


def test_chunk_record_is_strict_json_and_matches_hand_numbers():
    reward = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    done = np.array([[False, True, False, False], [False, False, False, False]])
    record = report.chunk_record(4, {"reward": reward, "done": done}, 1.5)
    assert record["reward_per_step"] == 0.125  # seed means 0.25 and 0
    assert record["episodes_per_seed"] == 0.5
    assert record["mean_return_of_episodes_ended"] == 1.0
    empty = report.chunk_record(4, {"reward": reward * 0, "done": done & False}, 1.5)
    assert empty["mean_return_of_episodes_ended"] is None
    json.loads(json.dumps(empty, allow_nan=False))  # raises on NaN


def test_eta_leaves_out_the_first_chunk_that_holds_compilation():
    # first chunk ends at t = 300 s (compilation) after 100 of 1000 steps; at t = 302 s, 200 done:
    # 2 s per 100 steps, 800 left -> 16 s (tqdm's own estimate would say 1208 s)
    assert progress.eta_seconds(None, (300.0, 100), 1000) is None
    assert progress.eta_seconds((300.0, 100), (302.0, 200), 1000) == pytest.approx(16.0)
    assert progress.eta_seconds((300.0, 100), (310.0, 1000), 1000) == 0.0


def test_panels_follow_what_the_run_shows():
    done = np.zeros((2, 6), bool)
    assert report.choose_panels(np.zeros((2, 6)), done) == ("cumulative",)
    done[:, [2, 5]] = True
    maze = np.where(done, 1.0, 0.0)  # every episode pays exactly 1
    assert report.choose_panels(maze, done) == ("length", "cumulative")
    assert report.choose_panels(maze * [[1], [2]], done) == ("return", "length")
    done[1] = False  # one seed without an episode: per-episode curves would have no point
    assert report.choose_panels(maze, done) == ("cumulative",)


def test_run_without_episodes_prints_no_nan_and_plots(tmp_path):
    import warnings

    reward, done = np.zeros((3, 50)), np.zeros((3, 50), bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "mean of empty slice" would fail here
        rows = report.summary_rows(reward, done)
        table = report.format_table(rows, 3)
        png = report.save_learning_curve(tmp_path / "c.png", "x", reward, done, 10, "t")
    assert "nan" not in table.lower() and png.stat().st_size > 5000
    assert "no episode ended in 50 steps" in report.episode_note(done)
    assert report.episode_note(done | True) is None
