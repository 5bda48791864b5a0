#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests and for trying the
# sweep scripts: munged, slurmctld and slurmd started by hand (no systemd),
# no cgroups, no accounting. Needs root; installs Debian's slurm-wlm and munge
# when they are missing.
#
#   scripts/slurm/local-cluster.sh start    # idempotent; waits until the node is idle
#   scripts/slurm/local-cluster.sh stop     # stops what `start` started (by PID file)
#   scripts/slurm/local-cluster.sh status
#
# State, logs and PID files live under $SLURM_LOCAL_DIR (default /tmp/inference-lab-slurm).
set -euo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/inference-lab-slurm}
CONF=/etc/slurm/slurm.conf
say() { echo "[local-cluster] $*" >&2; }
die() { say "error: $*"; exit 1; }

# alive PIDFILE NAME: the PID file names a running process called NAME.
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc '0-9' < "$1")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

install_packages() {
  local missing=""
  for bin in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch; do
    [ -x "$bin" ] || missing=1
  done
  [ -z "$missing" ] && return 0
  say "installing slurm-wlm, slurm-client and munge"
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not try to start services: there is no init system.
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; added=1; fi
  apt-get install -y -q --no-install-recommends slurm-wlm slurm-client munge \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm slurm-client munge; } \
    || { [ -n "$added" ] && rm -f "$policy"; die "cannot install Slurm"; }
  [ -n "$added" ] && rm -f "$policy"
  return 0
}

start_munge() {
  # Debian expects systemd to create /run/munge: do it here.
  mkdir -p /run/munge /var/lib/munge /var/log/munge /etc/munge "$DIR/run"
  chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge
  chmod 755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged --force --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$DIR/run/munged.pid" 2>/dev/null || true
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "munged does not answer"
}

write_config() {
  local node hw cpus sockets cores threads memory
  node=$(hostname -s 2>/dev/null || hostname)
  # The node's shape as slurmd itself detects it, so the node is never drained
  # for a mismatch; memory slightly under what it reports.
  hw=$(slurmd -C | head -n 1)
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<< "$hw"; }
  cpus=$(field CPUs); sockets=$(field SocketsPerBoard); cores=$(field CoresPerSocket)
  threads=$(field ThreadsPerCore); memory=$(( $(field RealMemory) * 9 / 10 ))
  mkdir -p /etc/slurm "$DIR/state" "$DIR/spool" "$DIR/log"
  chown slurm:slurm "$DIR/state" "$DIR/log"
  cat > "$CONF" <<CONF
# Written by scripts/slurm/local-cluster.sh: one node, no cgroups, no accounting.
ClusterName=inference-lab
SlurmctldHost=$node(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  chmod 644 "$CONF"
  echo "$node" > "$DIR/node"
}

start() {
  [ "$(id -u)" = 0 ] || die "run as root"
  install_packages
  mkdir -p "$DIR/run"
  chmod 755 "$DIR" "$DIR/run"
  chown slurm:slurm "$DIR/run"
  start_munge
  write_config
  if ! alive "$DIR/run/slurmctld.pid" slurmctld; then
    say "starting slurmctld"
    /usr/sbin/slurmctld -f "$CONF"
  fi
  if ! alive "$DIR/run/slurmd.pid" slurmd; then
    say "starting slurmd"
    /usr/sbin/slurmd -f "$CONF"
  fi
  local node state
  node=$(cat "$DIR/node")
  for _ in $(seq 120); do
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle|mix|alloc) say "node $node is $state"; return 0 ;;
      down*|drain*) scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
  die "node $node did not become idle (state: ${state:-none})"
}

stop_one() {
  local pidfile=$1 name=$2 pid
  alive "$pidfile" "$name" || return 0
  pid=$(tr -dc '0-9' < "$pidfile")
  say "stopping $name ($pid)"
  kill -TERM "$pid"
  for _ in $(seq 100); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  scancel --quiet --user="$(id -un)" 2>/dev/null || true
  stop_one "$DIR/run/slurmd.pid" slurmd
  stop_one "$DIR/run/slurmctld.pid" slurmctld
  stop_one "$DIR/run/munged.pid" munged
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo && squeue ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
