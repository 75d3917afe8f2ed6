#!/usr/bin/env bash
# bench/side-by-side.sh - two builds of sipreg under the same sipp load at the same time, each on its own Redis, and
# their CPU per registration as a ratio. Runs one after the other move by 15-30 % on a shared VM; two servers loaded
# at once share its noise, so their ratio moves by about 4 % (one build against itself read 1.03; changes with no effect
# read 0.98-1.04).
# Everything on 127.0.0.1; every sipp run is bounded in count and time (../shared/peer-bench/run.sh).
#
# usage: bench/side-by-side.sh [-r RATE] [-d SECONDS] [-n REPS] [-s auth|refresh] REF_A REF_B
#   REF_A, REF_B  git commits (or branches, tags); each is checked out in a temporary worktree and built there
#   -r RATE       sipp registrations per second, per server (default 1000: two servers and two sipps on 2 cores)
#   -d SECONDS    duration of each run (default 15)
#   -n REPS       runs (default 2); A and B swap which sipp starts first every other run
#   -s SCENARIO   auth = bench/sipp/reg-auth.xml (default); refresh = bench/sipp/reg-refresh.xml
# Prints per run: sipreg CPU-µs per registration and its Redis's, p99 and failures for A and B, and B/A.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEER_SRC="$(cd "$ROOT/../shared/peer-bench" 2>/dev/null && pwd)" || { echo "side-by-side: ../shared/peer-bench not found" >&2; exit 2; }
RATE=1000 DUR=15 REPS=2 SCEN=auth
while getopts "r:d:n:s:h" o; do
  case "$o" in
    r) RATE=$OPTARG ;; d) DUR=$OPTARG ;; n) REPS=$OPTARG ;; s) SCEN=$OPTARG ;;
    h|*) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 2 )) || { sed -n '8,8p' "$0" >&2; exit 2; }
case "$SCEN" in auth|refresh) ;; *) echo "side-by-side: -s auth|refresh" >&2; exit 2 ;; esac
(( RATE >= 1 && RATE <= 5000 && DUR >= 1 && DUR <= 60 && REPS >= 1 && REPS <= 6 )) || {
  echo "side-by-side: RATE 1..5000, SECONDS 1..60, REPS 1..6" >&2; exit 2; }
command -v sipp >/dev/null || { echo "side-by-side: sipp missing (apt-get install sip-tester)" >&2; exit 2; }
SCEN_FILE="$HERE/sipp/reg-$SCEN.xml"

WORK="$(mktemp -d /tmp/sipreg-side-by-side.XXXXXX)"
PIDS_TO_STOP=()
cleanup() {
  set +e
  for p in "${PIDS_TO_STOP[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS_TO_STOP[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  for wt in "$WORK/a" "$WORK/b"; do [[ -d $wt ]] && git -C "$ROOT" worktree remove --force "$wt" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PEER="$WORK/peer-bench"
cp -r "$PEER_SRC" "$PEER"; chmod -R u+w "$PEER"
( cd "$PEER" && PW_PREFIX=bench-pass- ./gen-users.sh 10000 >/dev/null )

# ---- the two builds, each in a worktree sharing this checkout's node_modules
for side in a b; do
  ref=$1; shift
  git -C "$ROOT" worktree add --detach "$WORK/$side" "$ref" >/dev/null 2>&1 || { echo "side-by-side: no such ref: $ref" >&2; exit 2; }
  ln -s "$ROOT/node_modules" "$WORK/$side/node_modules"
  ( cd "$WORK/$side" && npx tsc -p tsconfig.build.json ) || { echo "side-by-side: $ref does not build" >&2; exit 1; }
  echo "$side = $ref ($(git -C "$WORK/$side" log -1 --format='%h %s' | cut -c1-80))"
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
start() { # side -> sets ${side}_UDP, ${side}_SIPREG, ${side}_REDIS
  node "$WORK/$1/bench/serve.mjs" --info "$WORK/$1.env" --accounts 10000 --algorithms MD5 --max-seconds 1800 \
    >"$WORK/$1.log" 2>&1 &
  PIDS_TO_STOP+=($!)
  for _ in $(seq 1 600); do [[ -s "$WORK/$1.env" ]] && break; sleep 0.2; done
  [[ -s "$WORK/$1.env" ]] || { echo "side-by-side: $1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1; }
  # shellcheck disable=SC1090
  . "$WORK/$1.env"
  eval "${1}_UDP=$UDP_PORT ${1}_SIPREG=$SIPREG_PID ${1}_REDIS=$REDIS_PID"
}
start a; start b
run() { # side label -> background sipp run
  local port; eval "port=\$${1}_UDP"
  "$PEER/run.sh" -q -s "$SCEN_FILE" -u "$PEER/users.csv" -r "$2" -d "$3" -o "$WORK/runs" -l "$1-$4" "127.0.0.1:$port" \
    >"$WORK/out-$1" 2>&1
}
run a 500 2 warm & w=$!; run b 500 2 warm; wait $w

field() { grep -o "$2=[0-9]*" "$WORK/out-$1" | head -1 | cut -d= -f2; } # side name -> value from run.sh's line
hz=$(getconf CLK_TCK)
us() { echo $(( ($2 - $1) * 1000000 / hz / $3 )); } # ticks before, after, registrations -> CPU-µs each
echo "| run | A µs/reg (sipreg + Redis) | A p99 ms | A failed | B µs/reg (sipreg + Redis) | B p99 ms | B failed | B/A |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for rep in $(seq 1 "$REPS"); do
  first=a second=b; (( rep % 2 == 0 )) && first=b second=a
  a0=$(ticks "$a_SIPREG"); ar0=$(ticks "$a_REDIS"); b0=$(ticks "$b_SIPREG"); br0=$(ticks "$b_REDIS")
  run "$first" "$RATE" "$DUR" "n$rep" & w=$!; run "$second" "$RATE" "$DUR" "n$rep"; wait $w
  a1=$(ticks "$a_SIPREG"); ar1=$(ticks "$a_REDIS"); b1=$(ticks "$b_SIPREG"); br1=$(ticks "$b_REDIS")
  oka=$(field a ok); okb=$(field b ok)
  [[ -n $oka && -n $okb && $oka -gt 0 && $okb -gt 0 ]] || { echo "side-by-side: a run failed:" >&2; cat "$WORK/out-a" "$WORK/out-b" >&2; exit 1; }
  na=$(us "$a0" "$a1" "$oka"); ra=$(us "$ar0" "$ar1" "$oka"); nb=$(us "$b0" "$b1" "$okb"); rb=$(us "$br0" "$br1" "$okb")
  ratio=$(awk -v a=$((na + ra)) -v b=$((nb + rb)) 'BEGIN { printf "%.3f", b / a }')
  echo "| $rep | $((na + ra)) ($na + $ra) | $(field a p99) | $(field a failed) | $((nb + rb)) ($nb + $rb) | $(field b p99) | $(field b failed) | $ratio |"
done
