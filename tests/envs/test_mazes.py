"""Maze layouts against the book, via breadth-first search over the env's own step function."""

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.envs.mazes import MazeState


def bfs_through_env(env, params, global_step):
    """Shortest start->goal path using only env.step transitions (walls as at global_step)."""
    step = jax.jit(lambda state, action: env.step(jax.random.key(0), state, action, params))
    _, start = env.reset(jax.random.key(0), params)
    start_pos = int(start.position)
    frontier, dist = deque([start_pos]), {start_pos: 0}
    while frontier:
        pos = frontier.popleft()
        for action in range(4):
            state = MazeState(time=jnp.int32(0), position=jnp.int32(pos),
                              global_step=jnp.int32(global_step))
            _, _, reward, terminated, _, info = step(state, action)
            nxt = int(info["final_observation"])
            if bool(terminated):
                assert float(reward) == 1.0
                return dist[pos] + 1
            if nxt not in dist:
                dist[nxt] = dist[pos] + 1
                frontier.append(nxt)
    return -1


@pytest.mark.parametrize("env_id, change, before, after", [
    ("DynaMaze", None, 14, 14),
    ("BlockingMaze", 1000, 10, 16),
    ("ShortcutMaze", 3000, 16, 10),
])
def test_shortest_paths_match_the_book(env_id, change, before, after):
    env, params = envs.make(env_id)
    assert bfs_through_env(env, params, 0) == before
    if change is not None:
        assert bfs_through_env(env, params, change - 1) == before
        assert bfs_through_env(env, params, change) == after
    assert envs.shortest_path_length(env.layout) == before
    assert envs.shortest_path_length(env.changed_layout) == after


def test_dyna_maze_layout_is_example_8_1():
    env, _ = envs.make("DynaMaze")
    walls = {(1, 2), (2, 2), (3, 2), (0, 7), (1, 7), (2, 7), (4, 5)}
    assert set(env.layout.walls) == walls
    assert (env.rows, env.cols, env.layout.start, env.layout.goal) == (6, 9, (2, 0), (0, 8))
    assert env.rows * env.cols - len(walls) == 47


def _run(env, params, actions, key=0):
    """Step the env through a fixed action sequence; returns per-step (obs, reward, term, state)."""
    def body(carry, action):
        state, key = carry
        key, step_key = jax.random.split(key)
        obs, state, reward, terminated, truncated, info = env.step(step_key, state, action, params)
        return (state, key), (obs, reward, terminated, state.global_step, info["final_observation"])

    _, state = env.reset(jax.random.key(key), params)
    _, out = jax.lax.scan(body, (state, jax.random.key(key)), jnp.asarray(actions))
    return jax.tree.map(np.asarray, out)


def test_blocking_wall_moves_at_global_step_across_auto_resets():
    env, params = envs.make("BlockingMaze", change_step=20)
    # Start (5,3): right x5 -> (5,8), up x5 -> goal (0,8) through the right-hand gap: 10 steps.
    episode = [3] * 5 + [0] * 5
    obs, reward, terminated, global_step, final_obs = _run(env, params, episode * 3)
    # Episodes 1 and 2 (steps 0-19) reach the goal in 10 steps and auto-reset to the start.
    assert terminated[9] and terminated[19]
    assert obs[9] == 5 * 9 + 3 and final_obs[9] == 8  # reset obs vs true final observation
    np.testing.assert_array_equal(global_step, np.arange(1, 31))  # not reset by the auto-reset
    # From global step 20 the gap at (3,8) is closed: moving up from (4,8) stays at (4,8).
    assert not terminated[20:].any()
    assert final_obs[26] == 4 * 9 + 8 and np.all(final_obs[26:] == 4 * 9 + 8)


def test_shortcut_opens_at_global_step():
    env, params = envs.make("ShortcutMaze", change_step=7)
    right_then_up = [3] * 5 + [0] * 5
    _, _, terminated, _, final_obs = _run(env, params, right_then_up)
    assert not terminated.any()  # before step 7 ... the change lands mid-episode
    # steps 0-4 reach (5,8); step 5 up -> (4,8); step 6 up is blocked (global step 6 < 7) ...
    assert final_obs[6] == 4 * 9 + 8
    # ... step 7 up passes the new gap at (3,8)
    assert final_obs[7] == 3 * 9 + 8


def test_walls_and_edges_leave_agent_in_place():
    env, params = envs.make("DynaMaze")
    # From start (2,0): left is the edge; right x1 -> (2,1); right again -> wall (2,2).
    _, _, _, _, final_obs = _run(env, params, [2, 3, 3])
    np.testing.assert_array_equal(final_obs, [18, 19, 19])


def test_maze_validation_errors():
    layout = envs.MazeLayout(3, 3, start=(0, 0), goal=(2, 2), walls=((5, 5),))
    with pytest.raises(ValueError, match="outside"):
        envs.GridMaze(layout)
    ok = envs.MazeLayout(3, 3, start=(0, 0), goal=(2, 2), walls=((1, 1),))
    moved_goal = envs.MazeLayout(3, 3, start=(0, 0), goal=(1, 2), walls=())
    with pytest.raises(ValueError, match="start and goal"):
        envs.GridMaze(ok, moved_goal, change_step=3)
    with pytest.raises(ValueError, match="both"):
        envs.GridMaze(ok, ok)
