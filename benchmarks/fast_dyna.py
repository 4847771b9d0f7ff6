"""Stronger Dyna-Q baselines than the textbook one, for the same algorithm (Sutton & Barto's box).

Both keep, beside the model table, a list of visited states and per state a list of the actions
tried in it, so a planning draw (a uniform visited state, then a uniform action tried in it) is
O(1). The environment is gymnasium's FrozenLake-v1 (4x4, deterministic), stepped through its own
transition table `P` with its 100-step time limit, so no env wrapper overhead is timed.

  * `run_python_dyna_q`: one seed, plain Python lists and floats (no numpy in the loop).
  * `run_numpy_dyna_q`: N seeds in one numpy program; every array op steps all seeds. A real step's
    n planning draws are made at once (the model does not change during planning), the n
    Q-updates then run in sequence, as in the book.
"""

import random
import time

import numpy as np

TIME_LIMIT = 100  # gymnasium FrozenLake-v1's max_episode_steps (gymnax FrozenLake-misc: also 100)


def frozen_lake_table(is_slippery: bool = False):
    """Deterministic FrozenLake-v1 4x4 as lists: next_state, reward, terminated, each [S][A]."""
    import gymnasium

    env = gymnasium.make("FrozenLake-v1", is_slippery=is_slippery)
    p = env.unwrapped.P
    num_states, num_actions = env.observation_space.n, env.action_space.n
    if any(len(p[s][a]) != 1 for s in range(num_states) for a in range(num_actions)):
        raise ValueError("the fast baselines need a deterministic FrozenLake (is_slippery=False)")
    nxt = [[p[s][a][0][1] for a in range(num_actions)] for s in range(num_states)]
    rew = [[float(p[s][a][0][2]) for a in range(num_actions)] for s in range(num_states)]
    term = [[bool(p[s][a][0][3]) for a in range(num_actions)] for s in range(num_states)]
    return nxt, rew, term


def run_python_dyna_q(steps: int, planning_steps: int, seed: int = 0, alpha: float = 0.1,
                      gamma: float = 0.95, epsilon: float = 0.1):
    """One seed of Dyna-Q in plain Python. Returns (Q as a [S][A] list, planning updates, seconds).
    """
    env_next, env_rew, env_term = frozen_lake_table()
    num_states, num_actions = len(env_next), len(env_next[0])
    rng = random.Random(seed)
    rand, randrange = rng.random, rng.randrange
    q = [[0.0] * num_actions for _ in range(num_states)]
    m_rew = [[0.0] * num_actions for _ in range(num_states)]
    m_next = [[0] * num_actions for _ in range(num_states)]
    m_term = [[False] * num_actions for _ in range(num_states)]
    tried = [[False] * num_actions for _ in range(num_states)]
    visited: list[int] = []  # states with at least one tried action, first-seen order
    actions: list[list[int]] = [[] for _ in range(num_states)]  # tried actions of each state
    state, t = 0, 0
    updates = 0
    start = time.perf_counter()
    for _ in range(steps):
        qs = q[state]
        if rand() < epsilon:
            action = randrange(num_actions)
        else:
            best = max(qs)
            ties = [a for a in range(num_actions) if qs[a] == best]
            action = ties[randrange(len(ties))] if len(ties) > 1 else ties[0]
        nxt, r, term = env_next[state][action], env_rew[state][action], env_term[state][action]
        t += 1
        qs[action] += alpha * (r + (0.0 if term else gamma * max(q[nxt])) - qs[action])
        if not tried[state][action]:
            tried[state][action] = True
            if not actions[state]:
                visited.append(state)
            actions[state].append(action)
        m_rew[state][action], m_next[state][action], m_term[state][action] = r, nxt, term
        for _ in range(planning_steps):
            s = visited[int(rand() * len(visited))]
            acts = actions[s]
            a = acts[int(rand() * len(acts))]
            s2 = m_next[s][a]
            row = q[s]
            row[a] += alpha * (m_rew[s][a] + (0.0 if m_term[s][a] else gamma * max(q[s2]))
                               - row[a])
        updates += planning_steps
        if term or t >= TIME_LIMIT:
            state, t = 0, 0
        else:
            state = nxt
    return q, updates, time.perf_counter() - start


def run_numpy_dyna_q(num_seeds: int, steps: int, planning_steps: int, seed: int = 0,
                     alpha: float = 0.1, gamma: float = 0.95, epsilon: float = 0.1):
    """`num_seeds` independent Dyna-Q runs in one numpy program.

    Returns (Q [N, S, A] float64, planning updates over all seeds, seconds).
    """
    env_next, env_rew, env_term = (np.array(x) for x in frozen_lake_table())
    num_states, num_actions = env_next.shape
    n = num_seeds
    rng = np.random.default_rng(seed)
    seeds = np.arange(n)
    q = np.zeros((n, num_states, num_actions))
    m_rew = np.zeros((n, num_states, num_actions))
    m_next = np.zeros((n, num_states, num_actions), np.int64)
    m_term = np.zeros((n, num_states, num_actions), bool)
    tried = np.zeros((n, num_states, num_actions), bool)
    visited = np.zeros((n, num_states), np.int64)
    num_visited = np.zeros(n, np.int64)
    actions = np.zeros((n, num_states, num_actions), np.int64)
    num_actions_tried = np.zeros((n, num_states), np.int64)
    state = np.zeros(n, np.int64)
    t = np.zeros(n, np.int64)
    ps_seed = np.repeat(seeds[None], planning_steps, 0)  # [n_plan, N] seed index of each draw
    start = time.perf_counter()
    for _ in range(steps):
        qs = q[seeds, state]  # [N, A]
        # greedy with uniform tie-breaking: the largest random key among the maximising actions
        keys = np.where(qs == qs.max(1, keepdims=True), rng.random((n, num_actions)), -1.0)
        action = np.where(rng.random(n) < epsilon, rng.integers(num_actions, size=n),
                          keys.argmax(1))
        nxt, r, term = env_next[state, action], env_rew[state, action], env_term[state, action]
        t += 1
        target = r + np.where(term, 0.0, gamma * q[seeds, nxt].max(1))
        q[seeds, state, action] += alpha * (target - q[seeds, state, action])
        new = ~tried[seeds, state, action]
        new_state = new & (num_actions_tried[seeds, state] == 0)
        visited[seeds[new_state], num_visited[new_state]] = state[new_state]
        num_visited += new_state
        actions[seeds[new], state[new], num_actions_tried[seeds[new], state[new]]] = action[new]
        num_actions_tried[seeds[new], state[new]] += 1
        tried[seeds, state, action] = True
        m_rew[seeds, state, action] = r
        m_next[seeds, state, action] = nxt
        m_term[seeds, state, action] = term
        # all n draws at once: [n_plan, N]
        u = rng.random((2, planning_steps, n))
        ps = visited[ps_seed, (u[0] * num_visited).astype(np.int64)]
        pa = actions[ps_seed, ps, (u[1] * num_actions_tried[ps_seed, ps]).astype(np.int64)]
        p_rew, p_next = m_rew[ps_seed, ps, pa], m_next[ps_seed, ps, pa]
        p_live = ~m_term[ps_seed, ps, pa]
        for i in range(planning_steps):
            s, a = ps[i], pa[i]
            target = p_rew[i] + p_live[i] * gamma * q[seeds, p_next[i]].max(1)
            q[seeds, s, a] += alpha * (target - q[seeds, s, a])
        reset = term | (t >= TIME_LIMIT)
        state = np.where(reset, 0, nxt)
        t = np.where(reset, 0, t)
    return q, n * steps * planning_steps, time.perf_counter() - start
