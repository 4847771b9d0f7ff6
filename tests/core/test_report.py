import json

import numpy as np

from mbrl_jax.core import report


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
