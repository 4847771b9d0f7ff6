"""Baseline: a plain textbook Dyna-Q (Sutton & Barto's box), the way it is usually written.

Python loop, dict model {state: {action: (reward, next_state, terminated)}}, numpy Q-table,
gymnasium's FrozenLake. Planning draws a previously observed state, then an action taken in it.
"""

import random
import time

import numpy as np


def run_textbook_dyna_q(steps: int, planning_steps: int, seed: int = 0, alpha: float = 0.1,
                        gamma: float = 0.95, epsilon: float = 0.1, is_slippery: bool = False):
    """Run Dyna-Q for `steps` real steps; returns (Q, planning updates done, seconds)."""
    import gymnasium

    env = gymnasium.make("FrozenLake-v1", is_slippery=is_slippery)
    rng = np.random.default_rng(seed)
    random.seed(seed)
    q = np.zeros((env.observation_space.n, env.action_space.n))
    model: dict[int, dict[int, tuple[float, int, bool]]] = {}
    state, _ = env.reset(seed=seed)
    updates = 0
    start = time.perf_counter()
    for _ in range(steps):
        if rng.random() < epsilon:
            action = int(rng.integers(q.shape[1]))
        else:
            best = np.flatnonzero(q[state] == q[state].max())
            action = int(rng.choice(best))
        next_state, reward, terminated, truncated, _ = env.step(action)
        target = reward + (0.0 if terminated else gamma * np.max(q[next_state]))
        q[state, action] += alpha * (target - q[state, action])
        model.setdefault(state, {})[action] = (reward, next_state, terminated)
        for _ in range(planning_steps):
            s = random.choice(list(model.keys()))
            a = random.choice(list(model[s].keys()))
            r, s2, term = model[s][a]
            target = r + (0.0 if term else gamma * np.max(q[s2]))
            q[s, a] += alpha * (target - q[s, a])
            updates += 1
        state = env.reset()[0] if (terminated or truncated) else next_state
    return q, updates, time.perf_counter() - start
