"""Sutton & Barto (2nd ed.) chapter 8 grid mazes as gymnax environments.

Cells are (row, col) from the top-left; the observation is the scalar cell index
`row * cols + col` (int32), like gymnax's FrozenLake. Actions: 0 up, 1 down, 2 left, 3 right.
Moving into a wall or off the grid leaves the agent in place. Reward is 0 except +1 on reaching
the goal, which terminates the episode (gymnax then auto-resets to the start).

A maze may change its walls once, at a given *global* step (steps since `reset`, counted across
episodes). That counter lives in the env state and is carried through gymnax's auto-reset, so the
change happens exactly at `change_step` whatever the episode boundaries are. An agent standing in a
cell that becomes a wall stays there and can move out of it (the book does not say; it is rare).
"""

from collections import deque
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

Cell = tuple[int, int]

# (d_row, d_col) per action: up, down, left, right.
_MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)], dtype=np.int32)
# Effectively no time limit, as in the book; gymnax needs one.
_NO_LIMIT = 1_000_000


class MazeLayout(NamedTuple):
    """A static maze: grid size, start, goal and wall cells."""

    rows: int
    cols: int
    start: Cell
    goal: Cell
    walls: tuple[Cell, ...]

    def wall_grid(self) -> np.ndarray:
        """Boolean [rows, cols] array, True on walls."""
        grid = np.zeros((self.rows, self.cols), dtype=bool)
        for r, c in self.walls:
            grid[r, c] = True
        return grid

    def validate(self) -> None:
        cells = [self.start, self.goal, *self.walls]
        for r, c in cells:
            if not (0 <= r < self.rows and 0 <= c < self.cols):
                raise ValueError(f"cell {(r, c)} lies outside the {self.rows}x{self.cols} grid")
        if self.start in self.walls or self.goal in self.walls:
            raise ValueError("start and goal must not be walls")


def shortest_path_length(layout: MazeLayout) -> int:
    """Fewest steps from start to goal by breadth-first search (-1 if unreachable)."""
    walls = layout.wall_grid()
    frontier, dist = deque([layout.start]), {layout.start: 0}
    while frontier:
        r, c = frontier.popleft()
        if (r, c) == layout.goal:
            return dist[(r, c)]
        for dr, dc in _MOVES:
            nr, nc = r + int(dr), c + int(dc)
            if 0 <= nr < layout.rows and 0 <= nc < layout.cols and not walls[nr, nc]:
                if (nr, nc) not in dist:
                    dist[(nr, nc)] = dist[(r, c)] + 1
                    frontier.append((nr, nc))
    return -1


@struct.dataclass
class MazeState(environment.EnvState):
    """Agent cell index, steps in this episode (`time`) and steps since reset (`global_step`)."""

    position: jax.Array
    global_step: jax.Array


@struct.dataclass
class MazeParams(environment.EnvParams):
    max_steps_in_episode: int = _NO_LIMIT


class GridMaze(environment.Environment[MazeState, MazeParams]):
    """A deterministic grid maze whose walls may change once at global step `change_step`.

    Args:
      layout: the maze before the change (and forever, if `changed_layout` is None).
      changed_layout: the maze from global step `change_step` on; same size, start and goal.
      change_step: global step (0-based) from which `changed_layout` applies.
      name: the id reported by `env.name`.
    """

    def __init__(
        self,
        layout: MazeLayout,
        changed_layout: MazeLayout | None = None,
        change_step: int | None = None,
        name: str = "GridMaze",
    ):
        layout.validate()
        if (changed_layout is None) != (change_step is None):
            raise ValueError("give both changed_layout and change_step, or neither")
        if changed_layout is not None:
            changed_layout.validate()
            same = (layout.rows, layout.cols, layout.start, layout.goal)
            if (changed_layout.rows, changed_layout.cols, changed_layout.start,
                    changed_layout.goal) != same:
                raise ValueError("changed_layout must keep the grid size, start and goal")
            if change_step < 0:
                raise ValueError(f"change_step must be >= 0, got {change_step}")
        self.layout = layout
        self.changed_layout = changed_layout if changed_layout is not None else layout
        self.change_step = int(change_step) if change_step is not None else _NO_LIMIT
        self._name = name
        self.rows, self.cols = layout.rows, layout.cols
        self.n_cells = layout.rows * layout.cols
        self._walls = jnp.asarray(
            np.stack([layout.wall_grid(), self.changed_layout.wall_grid()])
        )  # [2, rows, cols]
        self._start = layout.start[0] * layout.cols + layout.start[1]
        self._goal = layout.goal[0] * layout.cols + layout.goal[1]

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> MazeParams:
        return MazeParams()

    @property
    def num_actions(self) -> int:
        return 4

    def walls_at(self, global_step: jax.Array) -> jax.Array:
        """The [rows, cols] wall grid in force at a global step."""
        return self._walls[(global_step >= self.change_step).astype(jnp.int32)]

    def step_env(self, key, state: MazeState, action, params: MazeParams):
        del key
        walls = self.walls_at(state.global_step)
        row, col = jnp.divmod(state.position, self.cols)
        move = jnp.asarray(_MOVES)[jnp.asarray(action, jnp.int32)]
        new_row, new_col = row + move[0], col + move[1]
        inside = (new_row >= 0) & (new_row < self.rows) & (new_col >= 0) & (new_col < self.cols)
        free = inside & ~walls[jnp.clip(new_row, 0, self.rows - 1),
                               jnp.clip(new_col, 0, self.cols - 1)]
        position = jnp.where(free, new_row * self.cols + new_col, state.position).astype(jnp.int32)
        terminated = position == self._goal
        reward = terminated.astype(jnp.float32)
        next_state = MazeState(time=state.time + 1, position=position,
                               global_step=state.global_step)
        return position, next_state, reward, terminated, {}

    def reset_env(self, key, params: MazeParams):
        del key, params
        state = MazeState(time=0, position=jnp.int32(self._start), global_step=jnp.int32(0))
        return state.position, state

    def step(self, key, state: MazeState, action, params: MazeParams | None = None):
        """gymnax `step` (auto-reset included), with the global step carried across resets."""
        obs, next_state, reward, terminated, truncated, info = super().step(
            key, state, action, params
        )
        next_state = next_state.replace(global_step=state.global_step + 1)
        return obs, next_state, reward, terminated, truncated, info

    def is_terminated(self, state: MazeState, params: MazeParams) -> jax.Array:
        del params
        return state.position == self._goal

    def observation_space(self, params: MazeParams) -> spaces.Discrete:
        del params
        return spaces.Discrete(self.n_cells)

    def action_space(self, params: MazeParams | None = None) -> spaces.Discrete:
        del params
        return spaces.Discrete(4)

    def state_space(self, params: MazeParams) -> spaces.Dict:
        return spaces.Dict({
            "position": spaces.Discrete(self.n_cells),
            "time": spaces.Discrete(params.max_steps_in_episode + 1),
        })

    def describe(self, global_step: int = 0) -> str:
        """ASCII picture of the maze in force at `global_step` (S start, G goal, # wall)."""
        layout = self.layout if global_step < self.change_step else self.changed_layout
        grid = [["." for _ in range(self.cols)] for _ in range(self.rows)]
        for r, c in layout.walls:
            grid[r][c] = "#"
        grid[layout.start[0]][layout.start[1]] = "S"
        grid[layout.goal[0]][layout.goal[1]] = "G"
        return "\n".join("".join(row) for row in grid)


DYNA_MAZE = MazeLayout(
    rows=6, cols=9, start=(2, 0), goal=(0, 8),
    walls=((1, 2), (2, 2), (3, 2), (0, 7), (1, 7), (2, 7), (4, 5)),
)


def _row3_wall(cols: range) -> tuple[Cell, ...]:
    return tuple((3, c) for c in cols)


BLOCKING_BEFORE = MazeLayout(6, 9, start=(5, 3), goal=(0, 8), walls=_row3_wall(range(0, 8)))
BLOCKING_AFTER = MazeLayout(6, 9, start=(5, 3), goal=(0, 8), walls=_row3_wall(range(1, 9)))
SHORTCUT_BEFORE = MazeLayout(6, 9, start=(5, 3), goal=(0, 8), walls=_row3_wall(range(1, 9)))
SHORTCUT_AFTER = MazeLayout(6, 9, start=(5, 3), goal=(0, 8), walls=_row3_wall(range(1, 8)))


def DynaMaze(**kwargs: Any) -> GridMaze:  # noqa: N802 (reads as a class at call sites)
    """Example 8.1: 6x9, start (2,0), goal (0,8), 7 wall cells; shortest path 14."""
    return GridMaze(DYNA_MAZE, name="DynaMaze", **kwargs)


def BlockingMaze(change_step: int = 1000) -> GridMaze:  # noqa: N802
    """Example 8.2: the gap moves from the right to the left end at `change_step`; 10 -> 16."""
    return GridMaze(BLOCKING_BEFORE, BLOCKING_AFTER, change_step, name="BlockingMaze")


def ShortcutMaze(change_step: int = 3000) -> GridMaze:  # noqa: N802
    """Example 8.3: a shortcut opens at the right end at `change_step`; 16 -> 10."""
    return GridMaze(SHORTCUT_BEFORE, SHORTCUT_AFTER, change_step, name="ShortcutMaze")
