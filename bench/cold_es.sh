#!/bin/sh
# The cold coincidence job on es:// input, its hits staged as Parquet against read into Spark
# rows, in turns.
#
#   sh bench/cold_es.sh INDEX-PATTERN [PAIRS]
#
# Runs `python -m spark_jobs.coincidence --input es://INDEX-PATTERN ... --master local[2]` in a
# new process with `--es-stage-dir` a fresh temporary folder (staged, the default with a local
# master) and with `--es-stage-dir none` (Spark rows, a cluster's default), taking turns, one
# uncounted run each first (numba's cache), then PAIRS pairs (default 5). Take
# /tmp/bench.lock around it (`flock /tmp/bench.lock sh bench/cold_es.sh ...`). Prints one line
# per run: which, pair, process wall (s), the job's es_read, hits read, candidates, input /
# prepare / search (s). An index for it: bench/es_read.py --keep PREFIX builds and keeps one
# (PREFIX-hits-*).
set -eu
pattern=$1; pairs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
python=$here/.venv/bin/python
out=$(mktemp -d)
run() {  # name pair stage-dir
  start=$(date +%s.%N)
  (cd "$here" && "$python" -m spark_jobs.coincidence --input "es://$pattern" --output "$out/$1" \
    --window-ms 10 --radius-m 500 --min-devices 3 --master 'local[2]' --es-stage-dir "$3" \
    > "$out/$1.log" 2>&1)
  end=$(date +%s.%N)
  "$python" -c "import json, sys; s = json.load(open(sys.argv[1])); t = s['timings']; \
print(sys.argv[2], sys.argv[3], round(float(sys.argv[5]) - float(sys.argv[4]), 2), \
repr(s['parameters']['es_read']), s['hits_read'], s['candidates'], t['input_s'], t['prepare_s'], \
t['search_s'], flush=True)" "$out/$1/summary.json" "$1" "$2" "$start" "$end"
  rm -rf "${out:?}/$1"
}
run staged 0 "$out" > /dev/null; run rows 0 none > /dev/null
i=1
while [ "$i" -le "$pairs" ]; do
  run staged "$i" "$out"; run rows "$i" none
  i=$((i + 1))
done
rm -rf "$out"
