#!/usr/bin/env bash
# scripts/soak.sh [MINUTES]: a soak run of `ccm serve` (default 10 minutes;
# not part of CI; docs/testing.md, "Soak").
#
# ccm serves the Linux kernel tree (bench/.cache/linux-source-6.1, or
# SOAK_TREE) on 127.0.0.1 with a rescan every 30 s (a scan that takes
# longer is followed by the next one as soon as it ends), while 100
# WebSocket clients (SOAK_CLIENTS; scripts/soak/ws_clients.js, npm `ws`
# from tests/node) stay subscribed to `tasks` and `findings`. The daemon's
# RSS is sampled every 10 s. Warm-up lasts until the first scan has been
# stored and a fifth of the run (at least 1 minute) has passed; the first
# sample after it is the baseline.
#
# It prints RSS first/last/max, the growth of the last sample over the
# baseline, the number of scans, the errors (client errors and closes,
# `level=error` records in ccm's log, ccm dying or not exiting 0 on
# SIGTERM) and the events each client received; it exits 1 when the RSS
# grew more than 5% after warm-up or there was any error.
#
#   CCM_BIN=build/app/ccm scripts/soak.sh 10
set -euo pipefail

minutes=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
ccm=${CCM_BIN:-$root/build/app/ccm}
tree=${SOAK_TREE:-$root/bench/.cache/linux-source-6.1}
nclients=${SOAK_CLIENTS:-100}
[ -x "$ccm" ] || { echo "soak: no ccm at $ccm (set CCM_BIN)" >&2; exit 2; }
[ -d "$tree" ] || { echo "soak: no tree at $tree (set SOAK_TREE)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ccm-soak.XXXXXX")
ccm_pid='' node_pid=''
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  [ -n "$ccm_pid" ] && kill "$ccm_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/ccm.yaml" <<YAML
listen: 127.0.0.1:0
data_dir: $work/data
repos:
  - path: $tree
    scan_interval: 30s
scan:
  use_git: false   # the tree sits in ccm's own, ignored, bench/.cache
log:
  level: info
YAML

now() { date +%s; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

start=$(now)
"$ccm" serve --config "$work/ccm.yaml" > "$work/ccm.log" 2>&1 &
ccm_pid=$!

# The bound address, from the log (bounded).
url=''
for _ in $(seq 600); do
  url=$(grep -o 'event=web.listening[^"]*"[^"]*" url=http://127.0.0.1:[0-9]*' \
        "$work/ccm.log" | grep -o '127.0.0.1:[0-9]*' | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$ccm_pid" 2>/dev/null || { cat "$work/ccm.log"; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "soak: ccm did not listen" >&2; exit 1; }

NODE_PATH="$root/tests/node/node_modules" node "$root/scripts/soak/ws_clients.js" \
  "ws://$url/ws" "$nclients" > "$work/clients.json" 2> "$work/clients.err" &
node_pid=$!

warmup=$(( minutes * 60 / 5 ))
[ "$warmup" -lt 60 ] && warmup=60
end=$(( start + minutes * 60 ))
samples=() baseline='' died=0 mark=''
echo "soak: ccm $("$ccm" version 2>/dev/null | head -1) on $tree, $nclients clients, $minutes min, pid $ccm_pid"
while [ "$(now)" -lt "$end" ]; do
  sleep 10
  if ! kill -0 "$ccm_pid" 2>/dev/null; then died=1; break; fi
  rss=$(rss_kib "$ccm_pid")
  samples+=("$rss")
  t=$(( $(now) - start ))
  if [ -z "$baseline" ] && [ "$t" -ge "$warmup" ] && grep -q 'event=scan.done' "$work/ccm.log"; then
    baseline=$rss
    mark=' (baseline)'
  fi
  printf 'soak: t=%4ds rss=%6.1f MiB%s\n' "$t" "$(echo "$rss" | awk '{print $1 / 1024}')" "$mark"
  mark=''
done

kill -TERM "$node_pid" 2>/dev/null || true
wait "$node_pid" || true
node_pid=''
status=0
if [ "$died" = 0 ]; then
  kill -TERM "$ccm_pid"
  wait "$ccm_pid" || status=$?
else
  wait "$ccm_pid" || status=$?
fi
ccm_pid=''

first=${samples[0]:-0} last=${samples[${#samples[@]}-1]:-0} max=0
for s in "${samples[@]}"; do [ "$s" -gt "$max" ] && max=$s; done
scans=$(grep -c 'event=scan.done' "$work/ccm.log" || true)
log_errors=$(grep -c 'level=error' "$work/ccm.log" || true)
ws=$(cat "$work/clients.json")
ws_errors=$(echo "$ws" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).errors)}catch(e){console.log(1)}})')
errors=$(( ws_errors + log_errors + died + (status != 0) ))
growth=$(echo "${baseline:-0} ${last}" | awk '{ if ($1 > 0) printf "%.1f", ($2 - $1) * 100 / $1; else print "n/a" }')
mib() { echo "$1" | awk '{printf "%.1f", $1 / 1024}'; }

echo "soak: $minutes min, $scans scans stored, ${#samples[@]} RSS samples"
echo "soak: RSS first $(mib "$first") MiB, last $(mib "$last") MiB, max $(mib "$max") MiB, baseline $(mib "${baseline:-0}") MiB (after ${warmup}s warm-up)"
echo "soak: RSS growth after warm-up: $growth%"
echo "soak: errors: $errors (ws clients $ws_errors, log level=error $log_errors, ccm died $died, exit status $status)"
echo "$ws" | node -e '
let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
  const r = JSON.parse(s), ev = r.events.slice().sort((a, b) => a - b);
  const sum = ev.reduce((a, b) => a + b, 0);
  console.log(`soak: clients ${r.opened}/${r.clients} opened; events per client: ` +
              `min ${ev[0]}, median ${ev[ev.length >> 1]}, max ${ev[ev.length - 1]}, total ${sum}`);
  console.log(`soak: slow_consumer reconnections with resume_from: ${r.resumes}`);
  for (const e of r.first_errors) console.log(`soak: error: ${e}`);
});' || echo "soak: no client report: $(cat "$work/clients.err")"
if [ "$log_errors" -gt 0 ]; then grep 'level=error' "$work/ccm.log" | head -5 | sed 's/^/soak: log: /'; fi

fail=0
[ "$errors" -gt 0 ] && fail=1
if [ -z "$baseline" ]; then
  echo "soak: FAIL: no sample after warm-up"; fail=1
elif awk -v g="$growth" 'BEGIN { exit !(g > 5) }'; then
  echo "soak: FAIL: RSS grew more than 5% after warm-up"; fail=1
fi
[ "$fail" = 0 ] && echo "soak: PASS"
exit "$fail"
