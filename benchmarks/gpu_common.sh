# Sourced by the gpu_session*.sh scripts: installs the wheels carried in .whl/ into /tmp/site,
# sets R (results), OUT and LOG, records the card, and defines `job NAME SECONDS CMD...` (run CMD
# under a time limit, its output in $R/NAME.log and its tail in $LOG; returns CMD's status).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
R=/tmp/gpu_results; mkdir -p $R
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/nvidia_smi.txt
job() {  # job NAME SECONDS CMD...
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s) $(date +%T)" >> "$LOG"
  timeout "$limit" "$@" > "$R/$name.log" 2>&1; local rc=$?
  echo "=== $name exit $rc $(date +%T)" >> "$LOG"
  tail -n 25 "$R/$name.log" >> "$LOG"
  return $rc
}
