#!/usr/bin/env bash
# The suite under pressure: `make test` RUNS times in a row while two CPU-bound processes
# (stress-ng's cpu workers when installed, else two hashing loops) take both cores beside
# it. Prints each run's result and wall time; exits non-zero if any run failed.
#   bash scripts/test-under-load.sh [RUNS]       (default 3)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
hogs=()
start_hogs() {
  if command -v stress-ng >/dev/null 2>&1; then
    stress-ng --cpu 2 --quiet & hogs+=($!)
  else
    for _ in 1 2; do sha256sum /dev/zero & hogs+=($!); done
  fi
}
stop_hogs() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; }
trap stop_hogs EXIT
start_hogs
echo "load: ${#hogs[@]} CPU-bound processes beside the suite ($(nproc) cores)"
failed=0
for i in $(seq 1 "$runs"); do
  t0=$(date +%s)
  if make test >"/tmp/vextrus-under-load-$i.log" 2>&1; then verdict=passed; else verdict=FAILED; failed=1; fi
  summary=$(grep -E '[0-9]+ (passed|failed)' "/tmp/vextrus-under-load-$i.log" | tail -1)
  echo "run $i/$runs: $verdict in $(( $(date +%s) - t0 )) s: $summary (log /tmp/vextrus-under-load-$i.log)"
done
exit $failed
