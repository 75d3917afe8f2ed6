#!/usr/bin/env bash
# bench/peer.sh (npm run bench:peer) - the same sipp load against sipreg (Redis store) and against Kamailio
# (Debian kamailio + kamailio-redis-modules: credentials read from Redis and each binding written to Redis,
# ../shared/peer-bench's kamailio-redis.cfg with WITH_REDIS_LOC), alternated run by run, then both figures and
# their ratio. Everything on 127.0.0.1; every sipp run is bounded in count and time (../shared/peer-bench/run.sh).
#
# usage: bench/peer.sh [-r "2000 4000"] [-n REPS] [-d SECONDS] [-s auth|refresh] [-t u1|t1] [-c KAM_CHILDREN]
#                      [-k redis-loc|redis|file] [-w SIPREG_WORKERS] [-N]
#   -r RATES      sipp calls per second, one step per rate (default "1000 2000")
#   -n REPS       runs per rate and target, alternating which target goes first (default 2)
#   -d SECONDS    duration of each run (default 10)
#   -s SCENARIO   auth = bench/sipp/reg-auth.xml (full digest registration, default);
#                 refresh = bench/sipp/reg-refresh.xml (one full registration + 3 one-round-trip refreshes per call)
#   -t TRANSPORT  u1 = UDP (default), t1 = one TCP connection
#   -c CHILDREN   Kamailio worker processes (default 2, the best Redis-backed setting on this 2-vCPU box)
#   -k VARIANT    Kamailio variant (default redis-loc: HGET creds + SET binding in Redis per registration)
#   -w WORKERS    sipreg SIP worker processes (default 1)
#   -N            do not apt-get install missing tools (fail instead)
# Installs kamailio, kamailio-redis-modules, sip-tester, redis-server with apt-get when missing (unless -N).
# Results: a Markdown table on stdout and in bench/results/<stamp>-peer-<scenario>-<transport>.md (+ .json).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEER_SRC="$(cd "$ROOT/../shared/peer-bench" 2>/dev/null && pwd)" || { echo "peer.sh: ../shared/peer-bench not found" >&2; exit 2; }
RATES="1000 2000" REPS=2 DUR=10 SCEN=auth TRANSPORT=u1 KAM_CHILDREN=2 KAM_VARIANT=redis-loc INSTALL=1 WORKERS=1
while getopts "r:n:d:s:t:c:k:w:Nh" o; do
  case "$o" in
    r) RATES=$OPTARG ;; n) REPS=$OPTARG ;; d) DUR=$OPTARG ;; s) SCEN=$OPTARG ;; t) TRANSPORT=$OPTARG ;;
    c) KAM_CHILDREN=$OPTARG ;; k) KAM_VARIANT=$OPTARG ;; w) WORKERS=$OPTARG ;; N) INSTALL=0 ;;
    h|*) sed -n '2,22p' "$0"; exit 2 ;;
  esac
done
case "$SCEN" in auth|refresh) ;; *) echo "peer.sh: -s auth|refresh" >&2; exit 2 ;; esac
case "$TRANSPORT" in u1|t1) ;; *) echo "peer.sh: -t u1|t1" >&2; exit 2 ;; esac
(( REPS >= 1 && REPS <= 5 && DUR >= 1 && DUR <= 60 )) || { echo "peer.sh: REPS 1..5, DUR 1..60" >&2; exit 2; }
SCEN_FILE="$HERE/sipp/reg-$SCEN.xml"

# ---- tools
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v kamailio >/dev/null || need+=(kamailio)
command -v redis-server >/dev/null || need+=(redis-server)
compgen -G "/usr/lib/*/kamailio/modules/ndb_redis.so" >/dev/null || need+=(kamailio-redis-modules)
if (( ${#need[@]} > 0 )); then
  if [[ $INSTALL == 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
  else
    echo "peer.sh: missing ${need[*]} (apt-get install ${need[*]})" >&2; exit 2
  fi
fi
[[ -f "$ROOT/dist/main.js" ]] || { echo "peer.sh: run npm run build first (npm run bench:peer does)" >&2; exit 2; }

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# ---- work area: a private copy of the peer harness (its generated files must not land in ../shared)
WORK="$(mktemp -d /tmp/sipreg-bench-peer.XXXXXX)"
PEER="$WORK/peer-bench"
cp -r "$PEER_SRC" "$PEER"; chmod -R u+w "$PEER"
# Same 10,000 accounts for both: u00000..u09999 / bench-pass-00000.. (sipreg refuses passwords under 12 chars).
( cd "$PEER" && PW_PREFIX=bench-pass- ./gen-users.sh 10000 >/dev/null )

KAM_PORT="$(free_port)"; KAM_REDIS_PORT="$(free_port)"; SERVE_PID=""
cleanup() {
  set +e
  [[ -n "$SERVE_PID" ]] && kill -TERM "$SERVE_PID" 2>/dev/null && for _ in $(seq 1 150); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
  "$PEER/stop-kamailio.sh" "$KAM_PORT" >/dev/null 2>&1
  "$PEER/stop-redis.sh" "$KAM_REDIS_PORT" >/dev/null 2>&1
  rm -f /tmp/bench-peer/kamailio-"$KAM_PORT".log* /tmp/bench-peer/kamailio_ctl_"$KAM_PORT" /tmp/bench-peer/redis-"$KAM_REDIS_PORT".log
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting Kamailio ($KAM_VARIANT, $KAM_CHILDREN children) on 127.0.0.1:$KAM_PORT, its Redis on :$KAM_REDIS_PORT"
"$PEER/start-redis.sh" "$KAM_REDIS_PORT" >/dev/null
"$PEER/start-kamailio.sh" "$KAM_VARIANT" "$KAM_PORT" "$KAM_CHILDREN" \
  "REDIS_SRV=\"name=bench;addr=127.0.0.1;port=$KAM_REDIS_PORT;db=0\"" >/dev/null
KAM_PIDS="$(cat /tmp/bench-peer/kamailio-$KAM_PORT.pid),$(cat /tmp/bench-peer/redis-$KAM_REDIS_PORT.pid)"

echo "== starting sipreg ($WORKERS worker(s), Redis store, MD5 challenges for sipp) and loading 10,000 accounts"
node "$HERE/serve.mjs" --info "$WORK/sipreg.env" --accounts 10000 --algorithms MD5 --workers "$WORKERS" --max-seconds 3600 \
  >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 600); do [[ -s "$WORK/sipreg.env" ]] && break; kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.2; done
[[ -s "$WORK/sipreg.env" ]] || { echo "peer.sh: sipreg did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$WORK/sipreg.env"
SIPREG_PORT=$UDP_PORT; [[ $TRANSPORT == t1 ]] && SIPREG_PORT=$TCP_PORT
echo "   sipreg pid $SIPREG_PID on 127.0.0.1:$SIPREG_PORT (redis pid $REDIS_PID)"

# Warm both up (JIT, connections, first bindings) outside the measurement: one short run each.
for t in sipreg kamailio; do
  if [[ $t == sipreg ]]; then tgt="127.0.0.1:$SIPREG_PORT"; else tgt="127.0.0.1:$KAM_PORT"; fi
  "$PEER/run.sh" -q -s "$SCEN_FILE" -u "$PEER/users.csv" -t "$TRANSPORT" -r 500 -d 2 -o "$WORK/warm" -l "warm-$t" "$tgt" >/dev/null || true
done

LIST="$WORK/runs.txt"; : >"$LIST"
for rate in $RATES; do
  for rep in $(seq 1 "$REPS"); do
    order="sipreg kamailio"; (( rep % 2 == 0 )) && order="kamailio sipreg"
    for t in $order; do
      if [[ $t == sipreg ]]; then tgt="127.0.0.1:$SIPREG_PORT" pids="$PIDS"; else tgt="127.0.0.1:$KAM_PORT" pids="$KAM_PIDS"; fi
      label="$t-$SCEN-$TRANSPORT-r$rate-n$rep"
      line="$("$PEER/run.sh" -q -s "$SCEN_FILE" -u "$PEER/users.csv" -t "$TRANSPORT" -r "$rate" -d "$DUR" \
        -p "$pids" -o "$WORK/runs" -l "$label" "$tgt" 2>&1 | tail -1)" || true
      echo "   $line"
      dir="$(ls -d "$WORK"/runs/*-"$label" 2>/dev/null | tail -1)"
      echo "$t $rate $rep $dir/summary.json" >>"$LIST"
    done
  done
done

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$HERE/results"
node "$HERE/lib/peer-report.mjs" "$LIST" "$SCEN" "$TRANSPORT" "$KAM_VARIANT" "$KAM_CHILDREN" \
  "$HERE/results/$STAMP-peer-$SCEN-$TRANSPORT"
