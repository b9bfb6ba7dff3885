#!/bin/sh
# The cold coincidence job from two checkouts in turns, on the same input.
#
#   sh bench/cold_ab.sh OTHER_CHECKOUT INPUT [PAIRS]
#
# Runs `python -m spark_jobs.coincidence ... --master local[2]` in a new process from
# OTHER_CHECKOUT (e.g. `git archive <commit> | tar -x -C DIR`) and from this checkout, taking
# turns (each first every other pair), one uncounted run each first (numba's cache), then PAIRS
# pairs (default 7). Both use this checkout's virtualenv; a checkout's own packages come first
# on the path because the command runs from its directory. Prints one line per run: which,
# pair, process wall (s), job wall (s), prepare / search / candidates (s), triggered anchors,
# candidates. Workload parameters are the cold section's (bench/coincidence_spark.py, metro).
set -eu
other=$(cd "$1" && pwd); input=$2; pairs=${3:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
python=$here/.venv/bin/python
out=$(mktemp -d)
run() {  # name dir pair
  start=$(date +%s.%N)
  (cd "$2" && "$python" -m spark_jobs.coincidence --input "$input" --output "$out/$1" \
    --window-ms 100 --radius-m 1000 --min-devices 4 --master 'local[2]' > "$out/$1.log" 2>&1)
  end=$(date +%s.%N)
  "$python" -c "import json, sys; s = json.load(open(sys.argv[1])); t = s['timings']; \
print(sys.argv[2], sys.argv[3], round(float(sys.argv[5]) - float(sys.argv[4]), 2), s['wall_s'], \
t['prepare_s'], t['search_s'], t['candidates_s'], s['triggered_anchors'], s['candidates'], flush=True)" \
    "$out/$1/summary.json" "$1" "$3" "$start" "$end"
  rm -rf "${out:?}/$1"
}
run other "$other" 0 > /dev/null; run this "$here" 0 > /dev/null
i=1
while [ "$i" -le "$pairs" ]; do
  if [ $((i % 2)) = 1 ]; then run other "$other" "$i"; run this "$here" "$i"
  else run this "$here" "$i"; run other "$other" "$i"; fi
  i=$((i + 1))
done
rm -rf "$out"
