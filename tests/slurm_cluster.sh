#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for tests: slurmctld, slurmd and munge from Debian,
# two fake GPUs (gres). Needs root and the packages slurmctld slurmd slurm-client munge.
# Usage: slurm_cluster.sh start | stop        (ROOT defaults to /tmp/rankgap-slurm)
set -euo pipefail
ROOT=${ROOT:-/tmp/rankgap-slurm}

start() {
  rm -rf "$ROOT/state" "$ROOT/spool"
  mkdir -p "$ROOT"/{etc,state,spool,log,run,dev,munge}
  chmod 755 "$ROOT/munge"  # munged wants o+x on its socket's folder
  local node mem cpus
  node=$(hostname -s)
  cpus=$(getconf _NPROCESSORS_ONLN)  # not nproc, which OMP_NUM_THREADS lowers
  mem=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 2048 ))
  # gres/gpu drops File-less GPUs, and File must be a character or block device
  for i in 0 1; do [ -e "$ROOT/dev/gpu$i" ] || mknod "$ROOT/dev/gpu$i" c 1 3; done
  cat > "$ROOT/etc/slurm.conf" <<CONF
ClusterName=rankgap
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$ROOT/munge/munge.socket.2
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
# no slurmdbd: finished jobs must stay visible to squeue, which the executor polls instead of sacct
MinJobAge=300
GresTypes=gpu
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  echo "NodeName=${node} Name=gpu File=$ROOT/dev/gpu[0-1]" > "$ROOT/etc/gres.conf"
  # the default path: the executor's job step strips SLURM_CONF before its inner srun
  mkdir -p /etc/slurm
  ln -sf "$ROOT/etc/slurm.conf" /etc/slurm/slurm.conf
  ln -sf "$ROOT/etc/gres.conf" /etc/slurm/gres.conf
  [ -f "$ROOT/munge/munge.key" ] || mungekey --create --keyfile="$ROOT/munge/munge.key"
  munged --key-file="$ROOT/munge/munge.key" --socket="$ROOT/munge/munge.socket.2" \
         --pid-file="$ROOT/run/munged.pid" --log-file="$ROOT/log/munged.log" --seed-file="$ROOT/munge/munged.seed"
  slurmctld -i
  slurmd
  for _ in $(seq 60); do
    [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ] && return 0
    sleep 1
  done
  echo "the SLURM node did not become idle:" >&2
  sinfo >&2 || true
  return 1
}

stop() {
  scancel --user=root 2>/dev/null || true
  for daemon in slurmd slurmctld munged; do
    [ -f "$ROOT/run/$daemon.pid" ] && kill "$(cat "$ROOT/run/$daemon.pid")" 2>/dev/null || true
  done
  sleep 2
  rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
}

"$1"
