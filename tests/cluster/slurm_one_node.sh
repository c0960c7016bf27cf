#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying the SLURM profile (and for tests/test_slurm.py).
#
#   tests/cluster/slurm_one_node.sh start  [STATE_DIR]   install if missing, configure, start, wait until idle
#   tests/cluster/slurm_one_node.sh status [STATE_DIR]   daemons alive? node state
#   tests/cluster/slurm_one_node.sh env    [STATE_DIR]   prints `export SLURM_CONF=...` for sbatch/squeue/snakemake
#   tests/cluster/slurm_one_node.sh stop   [STATE_DIR]   stops the daemons by their recorded pids
#
# STATE_DIR defaults to $KERNELVIS_SLURM_DIR or /tmp/kernelvis-slurm; everything (config, munge key and
# socket, spool, logs, pids, job records) lives there. The one change outside it: while the cluster runs,
# /etc/slurm/slurm.conf is a link to its config (srun inside jobs only looks there; see link_system_config).
# Needs root (SlurmUser=root) and, the first time, Debian's packages (apt-get installs them when a command
# is missing; exit status 3 when that is impossible). The daemons are plain background processes (no
# systemd), so this works in containers.
#
# Settings (environment):
#   KERNELVIS_SLURM_CPUS  CPUs the node advertises; default max(nproc, 4): more than the machine has, on
#                         purpose, so the profile's 4-thread jobs can be scheduled on a 2-core box
#   KERNELVIS_SLURM_GPUS  stand-in GPUs (a GRES backed by /dev/null; no CUDA): `--gpus=1` requests are
#                         scheduled and counted by the real scheduler; default 1 (the only value tested)
#   KERNELVIS_SLURM_PORT  slurmctld's port, slurmd uses the next one; default 6817
set -euo pipefail

ACTION=${1:-}
STATE=${2:-${KERNELVIS_SLURM_DIR:-/tmp/kernelvis-slurm}}
CTLD_PORT=${KERNELVIS_SLURM_PORT:-6817}
SLURMD_PORT=$((CTLD_PORT + 1))
NODE=kvnode
PACKAGES="slurmctld slurmd slurm-client munge"
DAEMONS="munged slurmctld slurmd"

die() { echo "slurm_one_node: $*" >&2; exit 1; }
# Exit status 3: SLURM is missing and cannot be installed here (tests skip on it rather than fail).
cannot_install() { echo "slurm_one_node: $*" >&2; exit 3; }

pid_alive() { [[ -f "$STATE/$1.pid" ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

install_if_missing() {
    local missing=0
    for command in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol; do
        command -v "$command" >/dev/null 2>&1 || missing=1
    done
    [[ $missing == 0 ]] && return 0
    [[ $(id -u) == 0 ]] || cannot_install "SLURM is not installed and installing it needs root (apt-get install $PACKAGES)"
    command -v apt-get >/dev/null 2>&1 || cannot_install "SLURM is not installed and there is no apt-get to install it with"
    echo "slurm_one_node: installing $PACKAGES" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run may hold the dpkg lock (CI images install things in parallel): wait for it.
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
    "${apt[@]}" install $PACKAGES >"$STATE/apt.log" 2>&1 \
        || { "${apt[@]}" update >>"$STATE/apt.log" 2>&1 && "${apt[@]}" install $PACKAGES >>"$STATE/apt.log" 2>&1; } \
        || cannot_install "apt-get install $PACKAGES failed (see $STATE/apt.log)"
    return 0
}

write_config() {
    local cpus=${KERNELVIS_SLURM_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}
    local gpus=${KERNELVIS_SLURM_GPUS:-1}
    local mem_mb
    mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    local gres_node="" gres_types=""
    if [[ $gpus -gt 0 ]]; then
        gres_node="Gres=gpu:$gpus"
        gres_types="GresTypes=gpu"
        # Slurm drops a GPU without a device file; /dev/null stands in (task/none binds nothing), so
        # `--gpus=1` is scheduled and counted without a real GPU.
        for ((i = 0; i < gpus; i++)); do echo "NodeName=$NODE Name=gpu File=/dev/null"; done >"$STATE/gres.conf"
    else
        : >"$STATE/gres.conf"
    fi
    # Runs on the node after every job; SLURM_JOB_GPUS lists the GPUs it was given (empty: none).
    cat >"$STATE/epilog.sh" <<EOF
#!/bin/sh
echo "JobId=\$SLURM_JOB_ID Gpus=\${SLURM_JOB_GPUS:-}" >>"$STATE/jobgpus.txt"
EOF
    chmod 755 "$STATE/epilog.sh"
    cat >"$STATE/slurm.conf" <<EOF
# Written by tests/cluster/slurm_one_node.sh: one node, controller and node on 127.0.0.1.
ClusterName=kernelvis
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge.socket
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No accounting storage: sacct cannot answer, status comes from squeue (see docs/cluster.md).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# One line per finished job (id, state, exit code, TRES): what the tests check each job against.
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
# ... and which GPUs each job held (TRES would need slurmdbd to count GPUs).
Epilog=$STATE/epilog.sh
# Finished jobs stay visible to squeue for a minute: the SLURM executor plugin needs MinJobAge of at least
# 3x its first status-check delay to trust squeue.
MinJobAge=60
ReturnToService=2
# Advertise the CPUs/GPUs above even if the machine has fewer.
SlurmdParameters=config_overrides
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus RealMemory=$mem_mb $gres_node State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

# Inside a job, the SLURM executor plugin runs `srun` with every SLURM_* variable removed (SLURM_CONF
# included), so srun only finds the default /etc/slurm/slurm.conf. Link that to this cluster's config
# while it runs, unless a real SLURM set-up already owns the path.
SYSTEM_CONF=/etc/slurm/slurm.conf

link_system_config() {
    if [[ -L $SYSTEM_CONF && ! -e $SYSTEM_CONF ]]; then
        rm -f "$SYSTEM_CONF"  # left dangling by a one-node cluster whose directory is gone
    fi
    if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
        [[ $(readlink "$SYSTEM_CONF") == "$STATE/slurm.conf" ]] \
            || die "$SYSTEM_CONF exists (another SLURM set-up, or a one-node cluster from another directory that is still up: stop it first)"
        return 0
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -s "$STATE/slurm.conf" "$SYSTEM_CONF"
}

unlink_system_config() {
    if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$STATE/slurm.conf" ]]; then
        rm -f "$SYSTEM_CONF"
    fi
}

wait_until_idle() {
    local deadline=$((SECONDS + ${1:-60})) state=""
    while ((SECONDS < deadline)); do
        pid_alive slurmctld || die "slurmctld stopped: $(tail -n 1 "$STATE/slurmctld.log")"
        state=$(SLURM_CONF="$STATE/slurm.conf" sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
        [[ $state == idle* ]] && return 0
        sleep 0.5
    done
    die "node $NODE is not idle after ${1:-60} s (state '${state:-unknown}'); see $STATE/slurmctld.log and $STATE/slurmd.log"
}

start() {
    [[ $(id -u) == 0 ]] || die "needs root (the one-node cluster runs with SlurmUser=root)"
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    for daemon in $DAEMONS; do
        pid_alive "$daemon" && die "$daemon is already running from $STATE (pid $(cat "$STATE/$daemon.pid")); stop it first"
    done
    install_if_missing
    mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/munge"
    chmod 700 "$STATE/munge"
    write_config
    link_system_config
    [[ -f "$STATE/munge.key" ]] || mungekey --create --keyfile="$STATE/munge.key" --bits=1024
    chmod 400 "$STATE/munge.key"

    munged --force --key-file="$STATE/munge.key" --socket="$STATE/munge.socket" \
        --pid-file="$STATE/munged.pid" --log-file="$STATE/munged.log" --seed-file="$STATE/munge/seed"
    export SLURM_CONF="$STATE/slurm.conf"
    # -c: a clean start (no state from an earlier cluster in this directory); -i: ignore stale state.
    slurmctld -c -i -f "$SLURM_CONF"
    slurmd -N "$NODE" -f "$SLURM_CONF"
    # The daemons fork and write their pid files a moment later.
    local deadline=$((SECONDS + 20))
    for daemon in $DAEMONS; do
        until pid_alive "$daemon"; do
            ((SECONDS < deadline)) || die "$daemon did not start; see $STATE/$daemon.log"
            sleep 0.2
        done
    done
    wait_until_idle 60
    echo "slurm_one_node: node $NODE idle; export SLURM_CONF=$STATE/slurm.conf"
}

stop() {
    local pid
    # Reverse order: the node, then the controller, then munge.
    for daemon in slurmd slurmctld munged; do
        [[ -f "$STATE/$daemon.pid" ]] || continue
        pid=$(cat "$STATE/$daemon.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$STATE/$daemon.pid"
    done
    unlink_system_config
    echo "slurm_one_node: stopped ($STATE)"
}

status() {
    local code=0
    for daemon in $DAEMONS; do
        if pid_alive "$daemon"; then
            echo "$daemon: running (pid $(cat "$STATE/$daemon.pid"))"
        else
            echo "$daemon: not running"; code=1
        fi
    done
    [[ $code == 0 ]] && SLURM_CONF="$STATE/slurm.conf" sinfo -N -o "%N %T %C %m %G"
    return $code
}

case "$ACTION" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$STATE/slurm.conf" ;;
    *) die "usage: $0 start|stop|status|env [STATE_DIR]" ;;
esac
