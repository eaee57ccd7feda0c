#!/usr/bin/env bash
# test.sh — run flatsweep-sweep.sbatch and flatsweep-workers.sbatch on a real
# one-node Slurm cluster started here, and check the sweeps' results.
#
#   sudo FLATSWEEP_BIN=bin/flatsweep-static scripts/slurm/test.sh     # or: make slurm-test
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge
# (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge).
# It starts munged, slurmctld and slurmd with their configuration, keys, state
# and logs in a temporary directory (nothing under /etc is read or changed),
# then
#   1. submits flatsweep-sweep.sbatch with a sweep of 8 trials and a job array
#      of 2 workers, and FLATSWEEP_STAY=1 so that the coordinator stays;
#   2. waits for the sweep, and checks that each of its trials was recorded
#      exactly once, by workers of that array;
#   3. stops the array, submits a second sweep of 8 trials, adds workers with
#      flatsweep-workers.sbatch (an array of 2), and checks the same of them;
#   4. cancels the coordinator's job, which stops the coordinator.
# Every daemon it started is stopped by its PID on every way out.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

fail() { echo "slurm test: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (slurmd starts job steps as their users)"
for b in munged slurmctld slurmd sbatch squeue scancel scontrol setpriv; do
  command -v "$b" >/dev/null || fail "$b not found: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge"
done
bin=${FLATSWEEP_BIN:-bin/flatsweep}
[ -x "$bin" ] || fail "no flatsweep binary at $bin (make static, or set FLATSWEEP_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tmp=$(mktemp -d /tmp/flatsweep-slurm.XXXXXX)
pids=()
cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ ${#pids[@]} -ge 3 ]; then
    # Jobs first, while slurmd still runs (it ends their steps): cancel
    # them, wait for the queue to empty, then kill any process left in a step.
    scancel --user=root 2>/dev/null || true
    for _ in $(seq 60); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
    scancel --user=root --signal=KILL --full 2>/dev/null || true
    for p in $(scontrol listpids 2>/dev/null | awk 'NR > 1 {print $1}'); do kill -KILL "$p" 2>/dev/null || true; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do # slurmd, slurmctld, then munged
    kill -TERM "${pids[i]}" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  if [ "$status" != 0 ]; then
    for f in "$tmp"/log/* "$tmp"/run/*.log; do
      [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

chmod 711 "$tmp" # munged (the munge user) reaches its directory inside
mkdir -p "$tmp"/{munge/private,state,spool,log,work}
chown -R munge: "$tmp/munge"
chmod 755 "$tmp/munge"          # the socket's directory: everyone may connect
chmod 700 "$tmp/munge/private"  # the key, seed, PID and log: munge's only

# munge: a fresh key, the daemon run as the munge user, its socket in $tmp.
m=$tmp/munge/private
dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 status=none
chown munge: "$m/munge.key"
chmod 400 "$m/munge.key"
setpriv --reuid=munge --regid=munge --init-groups \
  munged --foreground --key-file="$m/munge.key" --socket="$tmp/munge/munge.sock" \
  --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/seed" \
  2>"$tmp/log/munged.err" &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$tmp/munge/munge.sock" ] || fail "munged did not start: $(cat "$tmp/log/munged.err")"

# slurm: one node of 2 CPUs, everything in $tmp, ports chosen free.
free_port() {
  local p
  for p in $(shuf -i 20000-40000 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  fail "no free port"
}
host=$(hostname -s)
ctld_port=$(free_port)
slurmd_port=$(free_port)
coord_port=$(free_port)
cat >"$tmp/slurm.conf" <<EOF
ClusterName=flatsweeptest
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerParameters=sched_interval=2
KillWait=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -D -f "$SLURM_CONF" 2>"$tmp/log/slurmctld.err" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" 2>"$tmp/log/slurmd.err" &
pids+=($!)
for _ in $(seq 100); do
  sinfo -h -N -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
  sleep 0.2
done
sinfo -h -N -o %t | grep -qE '^(idle|mix|alloc)' || fail "the node did not come up: $(sinfo -N 2>&1)"
echo "slurm: node $host up (slurmctld :$ctld_port, slurmd :$slurmd_port)"

# The sweeps: 8 short trials each of the embedded synthetic task. sweep NAME
# SEED [WRITTEN]: the file of sweep NAME, its name written as WRITTEN (the
# first sweep is renamed NAME by the --set that flatsweep-sweep.sbatch passes
# on to submit).
sweep() {
  cat >"$tmp/work/$1.yaml" <<EOF
name: ${3:-$1}
dataset: {name: synthetic, n: 512, n_test: 256, label_noise: 0.1, seed: 3}
model: {arch: mlp, hidden: [32, 32]}
train: {epochs: 60}
curvature: {examples: 256, lanczos_steps: 10}
grid: {batch_size: [16, 64], lr: [0.05, 0.1], seed: [$2, $(($2 + 1))]}
EOF
  echo "$tmp/work/$1.yaml"
}

# job_state JOB: the job's state (array: the first task's), or nothing once it is gone.
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n1; }

# wait_for SECONDS WHAT COMMAND...: poll until COMMAND succeeds (COMMAND is
# run anew each time: give a function, or eval and a string).
wait_for() {
  local secs=$1 what=$2
  shift 2
  for _ in $(seq $((secs * 2))); do
    "$@" && return 0
    sleep 0.5
  done
  fail "$what: not within ${secs}s"
}

run=$tmp/run
# Submitted from the repository, as the scripts' comments show.
# Workers dial the node's host name, as on a real cluster, if it resolves here.
coord_host=$(hostname)
getent hosts "$coord_host" >/dev/null || coord_host=127.0.0.1
job=$(FLATSWEEP_BIN=$bin FLATSWEEP_DIR=$run FLATSWEEP_WORKERS=2 FLATSWEEP_PORT=$coord_port FLATSWEEP_STAY=1 \
  FLATSWEEP_HOST=$coord_host \
  FLATSWEEP_WORKER_ARGS="--cpus-per-task=1 --time=10" \
  sbatch --parsable --output="$tmp/log/sweep-job.log" --time=20 \
  "$root/scripts/slurm/flatsweep-sweep.sbatch" "$(sweep first 1 first-as-written)" --set name=first)
echo "submitted flatsweep-sweep.sbatch: job $job"
# alive JOB: the job is pending or running (fails the test once it ended).
alive() {
  local st
  st=$(job_state "$1")
  case $st in PENDING | CONFIGURING | RUNNING) return 0 ;; esac
  fail "job $1 ended (${st:-gone})"
}
wait_for 60 "the coordinator's job writes $run/env" eval 'alive "$job" && test -s "$run/env"'

# shellcheck disable=SC1091 # written by the job
. "$run/env"

# finished SWEEP: every trial of SWEEP is finished (total = done in status).
finished() {
  local line total done
  line=$("$bin" status "$1" 2>/dev/null | awk -v n="$1" '$1 == n') || return 1
  read -r _ _ total done _ <<<"$line"
  [ -n "$total" ] && [ "$total" = "$done" ]
}

# check SWEEP JOB: each of the sweep's 8 trials succeeded and was recorded
# exactly once, every one by a worker of the Slurm job JOB.
check() {
  local sweep=$1 job=$2 log=$run/coordinator.log
  # Worker IDs registered by the job's workers (named slurm-JOB-TASK-PROCID@node).
  local ids
  ids=$(grep '"msg":"worker registered"' "$log" | grep "\"name\":\"slurm-$job-" |
    sed 's/.*"worker":"\([^"]*\)".*/\1/' | sort -u)
  [ -n "$ids" ] || fail "$sweep: no worker of job $job registered"
  local recorded
  recorded=$(grep '"msg":"trial succeeded"' "$log" | grep "\"sweep\":\"$sweep\"")
  local n once
  n=$(printf '%s\n' "$recorded" | sed 's/.*"trial":"\([^"]*\)".*/\1/' | sort | uniq -c | wc -l)
  once=$(printf '%s\n' "$recorded" | sed 's/.*"trial":"\([^"]*\)".*/\1/' | sort | uniq -c | awk '$1 == 1' | wc -l)
  [ "$n" = 8 ] || fail "$sweep: $n trials recorded, want 8"
  [ "$once" = 8 ] || fail "$sweep: $((8 - once)) trials recorded more than once"
  local by
  by=$(printf '%s\n' "$recorded" | sed 's/.*"worker":"\([^"]*\)".*/\1/' | sort -u)
  for w in $by; do
    grep -qx "$w" <<<"$ids" || fail "$sweep: a trial was recorded from worker $w, not one of job $job"
  done
  # The output is read whole before grep looks at it: `cmd | grep -q` under
  # pipefail fails when grep exits at the first match and cmd then writes.
  local st
  st=$("$bin" status "$sweep")
  grep -q "succeeded 8" <<<"$st" || fail "$sweep: status does not say succeeded 8: $st"
  echo "$sweep: 8 trials, each recorded once, by $(wc -w <<<"$by") worker(s) of job $job"
}

wait_for 300 "sweep first finishes" eval 'alive "$job" && finished first'
workers_job=$(cat "$run/workers.job")
check first "$workers_job"

# Stop the first array (its workers drain), then add workers to the running
# coordinator with the second script, for a second sweep.
scancel --signal=TERM "$workers_job"
# ended JOB: no task of the job is pending, running or completing.
ended() { [ -z "$(squeue -h -j "$1" -t PD,CF,R,S,CG -o %i 2>/dev/null)" ]; }
wait_for 60 "the first worker array ends" ended "$workers_job"
submitted=$("$bin" submit "$(sweep second 3)")
grep -q "8 added" <<<"$submitted" || fail "submit of the second sweep: $submitted"
# As documented: the address and the worker token's file come from the env file.
added=$(FLATSWEEP_BIN=$bin \
  sbatch --parsable --array=1-2 --cpus-per-task=1 --time=10 --output="$tmp/log/added-%A_%a.log" \
  "$root/scripts/slurm/flatsweep-workers.sbatch")
added=${added%%;*}
echo "submitted flatsweep-workers.sbatch: job array $added"
wait_for 300 "sweep second finishes" eval 'alive "$job" && finished second'
check second "$added"
grep '"msg":"trial succeeded"' "$run/coordinator.log" | grep '"sweep":"first"' >/dev/null || fail "lost the first sweep"

# Cancelling the coordinator's job stops the coordinator.
scancel --signal=TERM "$added"
scancel "$job"
wait_for 60 "the coordinator's job ends" ended "$job"
grep -q '"msg":"coordinator listening"' "$run/coordinator.log" || fail "no coordinator log"
if "$bin" status >/dev/null 2>&1; then fail "the coordinator still answers after its job was cancelled"; fi
echo "slurm test: OK (sweeps first and second, 16 trials, each recorded once)"
