#!/usr/bin/env bash
# The GPU checks of issue 8 (SAC + MBPO) in one go, for a lent GPU with jax, flax, optax and chex
# installed (the lead ran this on the card named in the results). Installs the wheels carried in
# .whl/ (gymnax, distrax, brax with mujoco, rejax and their needs; `pip download` them for the
# GPU's Python), then runs three jobs concurrently, each with its own time limit:
#   A. the exercise on Pendulum-v1 (scripts/tutorial_exercise3.py): MBPO at the paper's sizes
#      (`--mbpo-preset gpu`), three seed sets of 5 seeds (3000 env steps each), and SAC (5 seeds,
#      10k steps); then SAC against rejax at the GPU preset (1 and 16 seeds);
#   B. SAC on brax/halfcheetah (3 seeds, as far as the time limit allows);
#   C. MBPO on brax/halfcheetah (3 seeds, as far as the time limit allows).
# Jobs share the GPU, so their wall-clocks are upper bounds; the rejax comparison interleaves
# both libraries in one process, so its ratio is fair between them.
# Results are packed into $OUT/gpu_results.tgz with the log. As run on 2026-11-26 the Pendulum
# loop had two seed sets and a 120 s limit; set 1 ran out of time beside the HalfCheetah jobs,
# so sets 1 and 2 were then run alone, one after the other, with the same command.
set -u
cd "$(dirname "$0")/.."
source benchmarks/gpu_common.sh
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.25
LIMIT=${LIMIT:-400}  # seconds for each learning job (HalfCheetah stops starting chunks at 85%)
hc() {  # hc ALGO STEPS CHUNK
  job "halfcheetah_$1" "$LIMIT" python3 scripts/halfcheetah.py --algo "$1" --seeds 3 \
    --steps "$2" --chunk "$3" --time-limit $((LIMIT * 85 / 100)) --out $R/halfcheetah
}
(
  mkdir -p $R/exercise3
  for s in 0 1 2; do  # same measure as the CPU table: deterministic evaluation every 500 steps
    rm -f scripts/runs/tutorial_exercise3_mbpo.json
    job "mbpo_pendulum_seed$s" 180 python3 scripts/tutorial_exercise3.py --methods mbpo \
      --mbpo-preset gpu --seed $s &&
      cp scripts/runs/tutorial_exercise3_mbpo.json \
        $R/exercise3/tutorial_exercise3_mbpo_gpu_seed$s.json
  done
  job sac_pendulum 90 python3 scripts/tutorial_exercise3.py --methods sac
  cp scripts/runs/tutorial_exercise3_sac.json $R/exercise3/tutorial_exercise3_sac_gpu.json
  job sac_vs_rejax 150 python3 benchmarks/sac_vs_rejax.py --preset gpu --seeds 1 16 \
    --steps 5000 --out $R/sac_vs_rejax
) &
hc sac 300000 10000 &
hc mbpo 100000 2500 &
wait
python3 scripts/halfcheetah.py --plot --out $R/halfcheetah >> "$LOG" 2>&1
tar czf "$OUT/gpu_results.tgz" -C $R .
echo "=== done $(date +%T)" >> "$LOG"
