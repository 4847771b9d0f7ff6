#!/usr/bin/env bash
# The GPU checks of one lent-GPU session, in one go (the lead ran this on the H200 named in the
# results). Installs the wheels carried in .whl/ (gymnax, distrax and their needs, mctx), then:
#   A. benchmarks, one at a time, alone on the GPU: MCTS vs mctx, Dreamer throughput, seed scaling;
#   B. learning runs, concurrently (4 processes sharing the GPU, so their wall-clocks are upper
#      bounds): Dreamer CartPole and Pendulum, MuZero CartPole, MBPO at the paper's sizes.
# Every job has its own time limit; results are packed into $OUT/gpu_results.tgz with the log.
set -u
cd "$(dirname "$0")/.."
source benchmarks/gpu_common.sh
job mcts_throughput 130 python3 benchmarks/mcts_throughput.py --preset gpu --out $R/mcts
job dreamer_throughput 90 python3 benchmarks/dreamer_throughput.py --preset gpu --out $R/dreamer_bench
job seed_scaling 100 python3 benchmarks/seed_scaling.py --quick --out $R/seed_scaling
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
job dreamer_cartpole 225 python3 scripts/dreamer_results.py --env CartPole-v1 --seeds 5 \
  --steps 50000 --preset gpu --out $R/dreamer_cartpole &
job dreamer_pendulum 225 python3 scripts/dreamer_results.py --env Pendulum-v1 --seeds 5 \
  --steps 50000 --preset gpu --out $R/dreamer_pendulum &
job muzero_cartpole 225 python3 scripts/muzero_results.py --preset cartpole-gpu --seeds 5 \
  --out $R/muzero_cartpole &
(cd scripts && job mbpo_gpu 225 python3 exercise3_mbpo.py --preset gpu --steps 3000 --seeds 5 \
  --out $R/mbpo_gpu) &
wait
tar czf "$OUT/gpu_results.tgz" -C $R .
echo "=== done $(date +%T)" >> "$LOG"
