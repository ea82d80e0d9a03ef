#!/usr/bin/env bash
# A sharded sweep on a real one-node Slurm cluster, merged and compared with the unsharded run.
#
#   sudo scripts/slurm-test.sh          # the issue's run: 16K, 2 x 2 grid, 4 examples, 4 shards
#   SLURM_TEST_LENGTH=2k scripts/slurm-test.sh   # a quicker run while developing
#
# 1. installs Debian's slurmctld, slurmd, slurm-client and munge if they are missing (idempotent);
# 2. runs the sweep unsharded, for reference and its wall time;
# 3. starts munged, slurmctld and slurmd as root on this host, in a temporary state folder, with
#    their own ports and munge socket (nothing under /etc is changed);
# 4. `biasprobe slurm sweep --shards 4`: a 4-task job array plus a merge job (afterok); waits,
#    then compares the merged file with the unsharded one (scripts/compare-sweeps.py);
# 5. runs shard 2 again in another folder (the other parts copied) and kills it mid-run (SIGKILL):
#    the merge is refused naming the missing items, `biasprobe slurm resubmit` re-runs only
#    shard 2 (it resumes its part), and the merge that follows equals the unsharded run too;
# 6. runs a small claims run (`claims --quick --examples 4`) unsharded, then as
#    `biasprobe slurm claims --shards 2` (array plus merge job): claims.json must be byte-identical,
#    claims.md identical but for its timing line, examples.jsonl but for each example's `seconds`;
# 7. cancels its jobs and stops the three daemons it started, by PID.
#
# The CI test command (scripts/test.sh) does not need any of this: the merge logic is tested there.
set -euo pipefail
cd "${BIASPROBE_ROOT:-$(dirname "$0")/..}"   # BIASPROBE_ROOT: run a copy of this script against a checkout
ROOT=$PWD
LENGTH=${SLURM_TEST_LENGTH:-16k}
SHARDS=4
PORT=${SLURM_TEST_PORT:-6917}
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk "BEGIN { print $(now) - $1 }"; }   # seconds since a `now` stamp

[ "$(id -u)" = 0 ] || { echo "slurm-test.sh: run as root: it starts munged, slurmctld and slurmd" >&2; exit 1; }

say "packages"
missing=()
for p in slurmctld slurmd slurm-client munge; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "slurm $(slurmctld -V | awk '{print $2}'), $(munged -V 2>&1 | head -1)"
MODEL=${BIASPROBE_MODEL:-${BIASPROBE_CACHE:-$HOME/.cache/biasprobe}/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$MODEL" ] || bash scripts/setup.sh
[ "${BIASPROBE_SKIP_BUILD:-0}" = 1 ] || swift build -c release --product biasprobe
B=$ROOT/.build/release/biasprobe

D=$(mktemp -d /tmp/biasprobe-slurm.XXXXXX)
PIDS=()
JOBS_STARTED=0
cleanup() {
    status=$?
    set +e
    if [ "$JOBS_STARTED" = 1 ]; then
        ids=$(squeue -h -o %A 2>/dev/null | sort -u)
        [ -n "$ids" ] && scancel $ids
        for _ in $(seq 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
    fi
    # Only the daemons this script started, newest first.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[$i]}" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ "$status" = 0 ] && [ "${SLURM_TEST_KEEP:-0}" != 1 ]; then rm -rf "$D"; else echo "state and outputs kept in $D"; fi
    exit "$status"
}
trap cleanup EXIT

# Small settings: sentence-cut 384-token chunks, as retrieval evaluations on this model use.
ARGS=(--length "$LENGTH" --chunk-tokens 384 --split-by sentences --tasks passkey,niah --depths 0.25,0.75
      --vary keep-chunks=1,2 --vary capacity=off,256 --quiet)

# The reference runs with one thread, as each array task does (--cpus-per-task 1): the kernels
# split sums by thread count, so a 2-thread run differs in the 6th-7th significant digit.
say "unsharded sweep: $LENGTH, 2 x 2 grid, 4 examples, one process, 1 thread"
t0=$(now)
"$B" sweep "${ARGS[@]}" --threads 1 -o "$D/unsharded/sweep.h5" > "$D/unsharded.txt"
UNSHARDED=$(since "$t0")
cat "$D/unsharded.txt"

CLAIMS_ARGS=(--quick --examples 4 --quiet)
say "unsharded claims: claims ${CLAIMS_ARGS[*]}, one process, 1 thread"
t0=$(now)
"$B" claims "${CLAIMS_ARGS[@]}" --threads 1 --out-dir "$D/claims-unsharded" > /dev/null
CLAIMS_UNSHARDED=$(since "$t0")
ls "$D/claims-unsharded"

say "one-node Slurm cluster in $D/cluster"
C=$D/cluster
mkdir -p "$C/state" "$C/spool" "$C/munge" "$C/munge-key"
chmod 755 "$C/munge"          # the socket's folder: every client must reach it
chmod 700 "$C/munge-key"
dd if=/dev/urandom of="$C/munge-key/munge.key" bs=1024 count=1 status=none
chmod 400 "$C/munge-key/munge.key"
HOST=$(hostname -s)
MEM=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
cat > "$C/slurm.conf" <<EOF
ClusterName=biasprobe-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/munge/munge.socket
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/slurmctld.log
SlurmdLogFile=$C/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$HOST CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$C/slurm.conf
munged -F --force --socket="$C/munge/munge.socket" --key-file="$C/munge-key/munge.key" --pid-file="$C/munge-key/munged.pid" \
    --log-file="$C/munge-key/munged.log" --seed-file="$C/munge-key/munge.seed" > "$C/munged.stdout" 2>&1 &
PIDS+=($!)
for _ in $(seq 20); do [ -S "$C/munge/munge.socket" ] && break; sleep 0.5; done
slurmctld -D -c -f "$C/slurm.conf" > "$C/slurmctld.stdout" 2>&1 &
PIDS+=($!)
sleep 1
slurmd -D -f "$C/slurm.conf" > "$C/slurmd.stdout" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break; sleep 1; done
[ "$(sinfo -h -o %t)" = idle ] || { echo "the node did not come up:"; tail -5 "$C/slurmctld.log" "$C/slurmd.log"; exit 1; }
echo "daemons started: munged ${PIDS[0]}, slurmctld ${PIDS[1]}, slurmd ${PIDS[2]}"
sinfo
JOBS_STARTED=1

# Waits until none of the given jobs is in the queue.
wait_jobs() { while [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; do sleep 2; done; }
# Array and merge job ids of the last submission recorded in a manifest.
job_ids() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["arrayJobs"][-1], m["mergeJobs"][-1])' "$1"; }
# Waits for the array and merge jobs of a manifest's last submission.
wait_submission() { local a m; read -r a m < <(job_ids "$1"); wait_jobs "$a,$m"; }

say "sharded sweep: biasprobe slurm sweep --shards $SHARDS --cpus-per-task 1"
t0=$(now)
"$B" slurm sweep --shards "$SHARDS" --cpus-per-task 1 "${ARGS[@]}" -o "$D/sharded/sweep.h5"
wait_submission "$D/sharded/sweep.slurm.json"
SHARDED=$(since "$t0")
"$B" slurm status "$D/sharded"
[ -f "$D/sharded/sweep.h5" ] || { echo "no merged file:"; cat "$D/sharded/logs/"*; exit 1; }
cat "$D/sharded/logs/sweep.merge.out"
say "compare merged (sharded) with unsharded"
python3 scripts/compare-sweeps.py "$D/unsharded/sweep.h5" "$D/sharded/sweep.h5"

say "killed shard: shard 2 again, killed (SIGKILL) after its first item, then resubmitted"
# To keep the test short only shard 2 runs again: parts 1, 3 and 4 are the clean run's, and
# `slurm resubmit` queues just the shards that are neither done nor queued, then the merge.
"$B" slurm sweep --shards "$SHARDS" --cpus-per-task 1 --dry-run "${ARGS[@]}" -o "$D/killed/sweep.h5" > /dev/null
for i in $(seq "$SHARDS"); do [ "$i" = 2 ] || cp "$D/sharded/sweep.part-$i-of-$SHARDS.h5" "$D/killed/"; done
t0=$(now)
"$B" slurm resubmit "$D/killed"
read -r A M < <(job_ids "$D/killed/sweep.slurm.json")
killed=0
for _ in $(seq 1200); do
    read -r done_items total < <("$B" slurm status "$D/killed" --json 2>/dev/null | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
j = next((r for r in rows if r.get("shard") == "2/'"$SHARDS"'"), {})
print(j.get("items_done", 0), j.get("items") or 0)')
    if [ "$done_items" -ge 1 ] && [ "$done_items" -lt "$total" ]; then
        scancel --signal=KILL "${A}_2"
        echo "killed array task ${A}_2 (SIGKILL) with $done_items of $total items in its part"
        killed=1
        break
    fi
    [ "$total" -gt 0 ] && [ "$done_items" -ge "$total" ] && break
    sleep 1
done
[ "$killed" = 1 ] || { echo "shard 2 finished before it could be killed: use a longer --length"; exit 1; }
wait_jobs "$A,$M"
"$B" slurm status "$D/killed"
echo "merging now is refused:"
if "$B" sweep merge "$D/killed/sweep.h5" --quiet; then echo "merge of an incomplete sweep succeeded"; exit 1; fi
say "resubmit the unfinished shard"
"$B" slurm resubmit "$D/killed"
wait_submission "$D/killed/sweep.slurm.json"
KILLED=$(since "$t0")
"$B" slurm status "$D/killed"
[ -f "$D/killed/sweep.h5" ] || { echo "no merged file after resubmitting:"; cat "$D/killed/logs/"*; exit 1; }
python3 scripts/compare-sweeps.py "$D/unsharded/sweep.h5" "$D/killed/sweep.h5"

say "sharded claims: biasprobe slurm claims --shards 2 --cpus-per-task 1 ${CLAIMS_ARGS[*]}"
t0=$(now)
"$B" slurm claims --shards 2 --cpus-per-task 1 "${CLAIMS_ARGS[@]}" --out-dir "$D/claims-sharded"
wait_submission "$D/claims-sharded/examples.slurm.json"
CLAIMS_SHARDED=$(since "$t0")
"$B" slurm status "$D/claims-sharded"
[ -f "$D/claims-sharded/claims.json" ] || { echo "no merged claims:"; cat "$D/claims-sharded/logs/"*; exit 1; }
cmp "$D/claims-unsharded/claims.json" "$D/claims-sharded/claims.json" || { echo "claims.json differs between the sharded and unsharded claims runs"; exit 1; }
echo "claims.json: byte-identical"
# claims.md ends with the run's wall time and peak RSS ("Run: ... s wall"): every other line must match.
if diff <(grep -v '^Run: ' "$D/claims-unsharded/claims.md") <(grep -v '^Run: ' "$D/claims-sharded/claims.md"); then
    echo "claims.md: identical but for its 'Run:' timing line"
else
    echo "claims.md differs between the sharded and unsharded claims runs"; exit 1
fi
python3 - "$D/claims-unsharded/examples.jsonl" "$D/claims-sharded/examples.jsonl" <<'PY'
import json, sys
rows = [[json.loads(l) for l in open(p) if l.strip()] for p in sys.argv[1:]]
strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}
assert len(rows[0]) == len(rows[1]), (len(rows[0]), len(rows[1]))
for a, b in zip(*rows):
    assert strip(a) == strip(b), "examples.jsonl rows differ beyond 'seconds'"
print(f"examples.jsonl: {len(rows[0])} examples, identical but for 'seconds'")
PY

say "summary"
printf 'unsharded sweep (one process, 1 thread):              %6.1f s\n' "$UNSHARDED"
printf 'sharded over %d array tasks + merge (1 core each):    %6.1f s\n' "$SHARDS" "$SHARDED"
printf 'shard 2 alone, killed, resubmitted, merged:           %6.1f s\n' "$KILLED"
echo "merged files equal the unsharded run (compare-sweeps.py): yes, both"
printf 'unsharded claims --quick --examples 4 (1 thread):     %6.1f s\n' "$CLAIMS_UNSHARDED"
printf 'slurm claims, 2 array tasks + merge (1 core each):    %6.1f s\n' "$CLAIMS_SHARDED"
echo "merged claims equal the unsharded run: claims.json byte-identical, claims.md and examples.jsonl but for timings"
