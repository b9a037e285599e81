#!/usr/bin/env bash
# Runs a real Kubernetes control plane on this machine for the end-to-end test: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and KWOK, built by scripts/cluster.sh.
# KWOK plays the kubelets: it makes fake nodes Ready and takes pods through their lifecycle
# (podIP, Running, Ready, Succeeded) without pulling or running anything.
#
#   scripts/cluster-up.sh start DIR   start a cluster in the run folder DIR (created if missing);
#                                     returns when the nodes are Ready and the CRDs Established
#   scripts/cluster-up.sh stop DIR    stop exactly the processes started for DIR (idempotent)
#   scripts/cluster-up.sh env DIR     print `export KUBECONFIG=DIR/kubeconfig`, for eval
#
# DIR holds kubeconfig (cluster-admin), cluster.env (ports and paths), pki/, etcd/ (the data:
# starting the same DIR again brings the same cluster back), logs/<name>.log and pids/<name>.pid.
#
# Every server listens on 127.0.0.1 only. Addresses the cluster hands out are records, never
# contacted: services in 10.96.0.0/16, node pod ranges in 10.244.0.0/16; node addresses are
# loopback (127.0.1.x), so that even a stray `kubectl logs` stays on this machine.
#
# Environment:
#   HERD_CLUSTER_PORT      first of 5 consecutive ports on 127.0.0.1 (default 26443, below the
#                          kernel's ephemeral range, where an outgoing connection of the API
#                          server could take a port before the controllers bind it): API server,
#                          etcd client, etcd peer, controller-manager, scheduler
#   HERD_CLUSTER_NODES     number of fake nodes kwok-node-0..N-1 (default 3)
#   HERD_CLUSTER_ZONES     zones zone-a, zone-b… the nodes are spread over (default 3)
#   HERD_CLUSTER_TIMEOUT   seconds each wait may take (default 60)
#   HERD_CLUSTER_POD_STAGES  KWOK's pod stages: fast (default; Ready at once, as kwokctl does) or
#                          general (lifelike delays of 1-6 s per step)
set -euo pipefail

readonly SERVICE_CIDR=10.96.0.0/16
readonly CLUSTER_CIDR=10.244.0.0/16
# The order processes are started in; stopped in reverse.
readonly COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# PodMonitor and PrometheusRule (monitoring.coreos.com/v1), from scripts/cluster.sh's cache.
readonly CRDS=(podmonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com)

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
    printf 'cluster: ERROR: %s\n' "$*" >&2
    exit 1
}
usage() {
    sed -n '7,10p' "$0" | sed 's/^# //' >&2
    exit 2
}

[ "$#" -eq 2 ] || usage
command=$1
run_dir=$2
case "$run_dir" in /*) ;; *) run_dir="$PWD/$run_dir" ;; esac
scripts=$(cd "$(dirname "$0")" && pwd)

# --- Processes --------------------------------------------------------------------------------

# Whether PID is alive and still the program started from the binary $2: a PID is reused once
# its process is gone, and another program must never be signalled. A zombie counts as gone.
owns() {
    local pid=$1 binary=$2 argv0 state
    [ -r "/proc/$pid/cmdline" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] || return 1
    argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)
    [ "$argv0" = "$binary" ]
}

# Stops the processes recorded in DIR/pids: TERM, up to 15 s to exit, then KILL. A pid file whose
# process is gone or is another program is just removed.
stop_all() {
    local pids_dir="$run_dir/pids" bin="" name pid live=() deadline i
    [ -d "$pids_dir" ] || return 0
    if [ -f "$run_dir/cluster.env" ]; then
        bin=$(sed -n 's/^HERD_CLUSTER_BIN=//p' "$run_dir/cluster.env")
    fi
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
        name=${COMPONENTS[i]}
        [ -f "$pids_dir/$name.pid" ] || continue
        pid=$(cat "$pids_dir/$name.pid")
        if [[ $pid =~ ^[0-9]+$ ]] && [ -n "$bin" ] && owns "$pid" "$bin/$name"; then
            log "stopping $name (PID $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$name:$pid")
        else
            log "$name: PID $pid is gone (or now another program's): not signalled"
            rm -f "$pids_dir/$name.pid"
        fi
    done
    deadline=$((SECONDS + 15))
    local entry remaining
    while [ "${#live[@]}" -gt 0 ]; do
        remaining=()
        for entry in "${live[@]}"; do
            if owns "${entry#*:}" "$bin/${entry%%:*}"; then
                remaining+=("$entry")
            else
                rm -f "$pids_dir/${entry%%:*}.pid"
            fi
        done
        live=("${remaining[@]+"${remaining[@]}"}")
        [ "${#live[@]}" -gt 0 ] || break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for entry in "${live[@]}"; do
                log "${entry%%:*} (PID ${entry#*:}) did not exit within 15 s: KILL"
                kill -KILL "${entry#*:}" 2>/dev/null || true
                rm -f "$pids_dir/${entry%%:*}.pid"
            done
            break
        fi
        sleep 0.2
    done
}

# --- Start ------------------------------------------------------------------------------------

# Writes a key and a certificate signed by the cluster CA. $1 name, $2 subject, $3 extensions.
issue() {
    local name=$1 subject=$2 extensions=$3 pki="$run_dir/pki"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
    openssl req -new -config "$pki/req.cnf" -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr"
    printf '%s\n' "$extensions" >"$pki/$name.ext"
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile "$pki/$name.ext" \
        -out "$pki/$name.crt" 2>/dev/null
    rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# The CA, the API server's serving certificate, the service-account key pair and one client
# certificate per identity. Kept in DIR: a restart of the same DIR reuses them.
make_pki() {
    local pki="$run_dir/pki"
    [ -f "$pki/done" ] && return 0
    command -v openssl >/dev/null || die "openssl is not installed (apt-get install -y openssl)"
    rm -rf "$pki"
    mkdir -p "$pki"
    chmod 700 "$pki"
    printf '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n' >"$pki/req.cnf"
    printf '[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3\n[dn]\nCN = herd-cluster-ca\n[v3]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier = hash\n' >"$pki/ca.cnf"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
    openssl req -x509 -new -config "$pki/ca.cnf" -key "$pki/ca.key" -days 3650 -out "$pki/ca.crt"
    local client='basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth'
    # 10.96.0.1 is the `kubernetes` Service's address (a record): in-cluster clients check it.
    issue apiserver /CN=kube-apiserver "basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    issue admin "/O=system:masters/CN=kubernetes-admin" "$client"
    # The identities RBAC's bootstrap roles are bound to.
    issue controller-manager /CN=system:kube-controller-manager "$client"
    issue scheduler /CN=system:kube-scheduler "$client"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
    openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
    touch "$pki/done"
}

# Writes a kubeconfig for the client certificate $2 to $1.
kubeconfig() {
    local file=$1 name=$2 pki="$run_dir/pki"
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: herd
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 <"$pki/$name.crt")
    client-key-data: $(base64 -w0 <"$pki/$name.key")
contexts:
- name: herd
  context:
    cluster: herd
    user: $name
current-context: herd
EOF
    chmod 600 "$file"
}

# Whether something listens on 127.0.0.1:$1 (a connection succeeds).
port_taken() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The component whose log explains a failure, for on_exit.
current=""
# When start began ($EPOCHREALTIME).
t0=""
started_ok=0

on_exit() {
    local rc=$?
    [ "$started_ok" = 1 ] && return 0
    if [ -n "$current" ] && [ -f "$run_dir/logs/$current.log" ]; then
        printf 'cluster: the last lines of %s:\n' "$run_dir/logs/$current.log" >&2
        tail -n 25 "$run_dir/logs/$current.log" | sed 's/^/cluster: | /' >&2
    fi
    log "start failed: stopping what it started"
    stop_all
    exit "$((rc == 0 ? 1 : rc))"
}

launched=()

# Starts a component in the background (its own session: the caller's Ctrl-C or hang-up does not
# reach it; `stop` does) and records its PID.
launch() {
    local name=$1
    shift
    setsid "$bin/$name" "$@" >"$run_dir/logs/$name.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$run_dir/pids/$name.pid"
    launched+=("$name")
    log "started $name (PID $pid, log $run_dir/logs/$name.log)"
}

# Seconds since start, for the progress lines.
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Runs a check until it succeeds, at most $timeout s. $1 is the component whose log explains a
# failure, $2 what is awaited. Fails at once if a started component has exited.
wait_for() {
    local who=$1 what=$2 deadline=$((SECONDS + timeout)) name
    shift 2
    current=$who
    until "$@" >/dev/null 2>&1; do
        for name in "${launched[@]}"; do
            if ! owns "$(cat "$run_dir/pids/$name.pid")" "$bin/$name"; then
                current=$name
                die "$name exited while waiting for $what"
            fi
        done
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after $timeout s waiting for $what (HERD_CLUSTER_TIMEOUT)"
        sleep 0.2
    done
    log "  $what: ok at $(elapsed) s"
}

kubectl_() { "$bin/kubectl" --kubeconfig "$run_dir/kubeconfig" "$@"; }
healthz() { curl -skf --max-time 2 "https://127.0.0.1:$1/healthz"; }
# No node still carries a taint (node.kubernetes.io/not-ready until the node lifecycle
# controller has seen it Ready): the nodes are schedulable.
untainted() {
    local taints
    taints=$(kubectl_ get nodes -l type=kwok -o jsonpath='{range .items[*]}{.spec.taints}{end}') || return 1
    [ -z "$taints" ]
}
established() {
    local crd
    for crd in "${CRDS[@]}"; do
        [ "$(kubectl_ get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ] || return 1
    done
}

# The Node objects KWOK takes over (by the annotation and label it selects on).
nodes_yaml() {
    local i zone letters=abcdefghijklmnopqrstuvwxyz
    for ((i = 0; i < nodes; i++)); do
        zone="zone-${letters:i % zones:1}"
        cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: $zone
status:
  addresses:
  - type: InternalIP
    address: 127.0.1.$((i + 1))
  - type: Hostname
    address: kwok-node-$i
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
EOF
    done
}

# Whether $1 is a whole number from $2 to $3.
in_range() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

start() {
    t0=$EPOCHREALTIME
    base=${HERD_CLUSTER_PORT:-26443}
    nodes=${HERD_CLUSTER_NODES:-3}
    zones=${HERD_CLUSTER_ZONES:-3}
    timeout=${HERD_CLUSTER_TIMEOUT:-60}
    local pod_stages=${HERD_CLUSTER_POD_STAGES:-fast}
    in_range "$base" 1024 65530 || die "HERD_CLUSTER_PORT must be a port from 1024 to 65530, not '$base'"
    # A port in the ephemeral range can be taken, between the checks below and the bind, by the
    # client side of any connection (the API server's to etcd, say): refuse such a base.
    local ephemeral_low ephemeral_high
    read -r ephemeral_low ephemeral_high </proc/sys/net/ipv4/ip_local_port_range
    if [ "$((base + 4))" -ge "$ephemeral_low" ] && [ "$base" -le "$ephemeral_high" ]; then
        die "HERD_CLUSTER_PORT=$base: ports $base..$((base + 4)) overlap the kernel's ephemeral range $ephemeral_low-$ephemeral_high (net.ipv4.ip_local_port_range), where outgoing connections could take them; choose a first port below $((ephemeral_low - 4))"
    fi
    in_range "$nodes" 1 250 || die "HERD_CLUSTER_NODES must be from 1 to 250, not '$nodes'"
    in_range "$zones" 1 26 || die "HERD_CLUSTER_ZONES must be from 1 to 26, not '$zones'"
    [[ $timeout =~ ^[0-9]+$ ]] || die "HERD_CLUSTER_TIMEOUT must be a number of seconds, not '$timeout'"
    case "$pod_stages" in fast | general) ;; *) die "HERD_CLUSTER_POD_STAGES must be fast or general, not '$pod_stages'" ;; esac
    command -v curl >/dev/null || die "curl is not installed (apt-get install -y curl): it checks the controllers' health"

    api_port=$base
    local etcd_port=$((base + 1)) peer_port=$((base + 2)) kcm_port=$((base + 3)) sched_port=$((base + 4))

    # One message, before anything starts: a running cluster in DIR, or a port already taken.
    local name pid
    for name in "${COMPONENTS[@]}"; do
        [ -f "$run_dir/pids/$name.pid" ] || continue
        pid=$(cat "$run_dir/pids/$name.pid")
        if [ -f "$run_dir/cluster.env" ] && owns "$pid" "$(sed -n 's/^HERD_CLUSTER_BIN=//p' "$run_dir/cluster.env")/$name"; then
            die "a cluster is already running in $run_dir ($name is PID $pid): scripts/cluster-up.sh stop $run_dir"
        fi
    done
    local port what
    for entry in "$api_port:the API server" "$etcd_port:etcd (client)" "$peer_port:etcd (peer)" \
        "$kcm_port:the controller manager" "$sched_port:the scheduler"; do
        port=${entry%%:*}
        what=${entry#*:}
        if port_taken "$port"; then
            die "port $port on 127.0.0.1 (for $what) is already in use; set HERD_CLUSTER_PORT to another first port (the cluster uses HERD_CLUSTER_PORT..+4, now $base..$((base + 4)))"
        fi
    done

    local cache
    cache=$("$scripts/cluster.sh") || die "scripts/cluster.sh could not provide the binaries"
    bin="$cache/bin"

    mkdir -p "$run_dir/logs" "$run_dir/pids" "$run_dir/etcd" "$run_dir/run" "$run_dir/kwok-home"
    chmod 700 "$run_dir/etcd"
    trap on_exit EXIT
    trap 'exit 130' INT TERM
    make_pki
    kubeconfig "$run_dir/kubeconfig" admin
    kubeconfig "$run_dir/run/controller-manager.kubeconfig" controller-manager
    kubeconfig "$run_dir/run/scheduler.kubeconfig" scheduler
    # Written before any process starts: `stop` checks PIDs against HERD_CLUSTER_BIN.
    cat >"$run_dir/cluster.env" <<EOF
HERD_CLUSTER_BIN=$bin
HERD_CLUSTER_CACHE_DIR=$cache
KUBECONFIG=$run_dir/kubeconfig
HERD_CLUSTER_API=https://127.0.0.1:$api_port
HERD_CLUSTER_ETCD=http://127.0.0.1:$etcd_port
HERD_CLUSTER_NODES=$nodes
EOF
    local pki="$run_dir/pki"

    # etcd: plain HTTP on loopback; no fsync, the data is a test's.
    launch etcd --name herd --data-dir "$run_dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "herd=http://127.0.0.1:$peer_port" --initial-cluster-state new \
        --unsafe-no-fsync --log-level warn
    wait_for etcd "etcd on 127.0.0.1:$etcd_port" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

    # The endpoint reconciler would publish the advertise address (loopback, which Endpoints
    # refuse) as the `kubernetes` Service's endpoint: nothing in the cluster calls it, so none.
    launch kube-apiserver \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
        --etcd-servers="http://127.0.0.1:$etcd_port" \
        --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
        --client-ca-file="$pki/ca.crt" \
        --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --authorization-mode=Node,RBAC \
        --allow-privileged=true \
        --endpoint-reconciler-type=none \
        --cert-dir="$run_dir/run/kube-apiserver"
    # The controllers give up if the API server answers before its RBAC roles are bootstrapped:
    # they start once it is ready, together with KWOK (on a small machine the start-up of each is
    # seconds of CPU).
    wait_for kube-apiserver "the API server on https://127.0.0.1:$api_port/readyz" kubectl_ get --raw /readyz

    launch kube-controller-manager \
        --kubeconfig="$run_dir/run/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$run_dir/run/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$run_dir/run/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$run_dir/run/kube-controller-manager" \
        --use-service-account-credentials=true \
        --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
        --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
        --controllers='*' --leader-elect=false --cluster-name=herd \
        --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 \
        --service-cluster-ip-range="$SERVICE_CIDR"

    launch kube-scheduler \
        --kubeconfig="$run_dir/run/scheduler.kubeconfig" \
        --authentication-kubeconfig="$run_dir/run/scheduler.kubeconfig" \
        --authorization-kubeconfig="$run_dir/run/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$run_dir/run/kube-scheduler" \
        --leader-elect=false

    # KWOK: its server is off (no --server-address, --node-port 0), it renews node leases (the node
    # lifecycle controller reads them as heartbeats) and plays the stages given; HOME is moved so
    # that a ~/.kwok/kwok.yaml of the user is not read.
    local stages="$cache/kwok-stages"
    local configs
    configs=$(printf '%s,' "$stages/node/fast/node-initialize.yaml" \
        "$stages/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" "$stages/pod/$pod_stages"/*.yaml)
    HOME="$run_dir/kwok-home" launch kwok \
        --kubeconfig="$run_dir/kubeconfig" \
        --config="${configs%,}" \
        --manage-all-nodes=false \
        --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
        --manage-nodes-with-label-selector=type=kwok \
        --node-lease-duration-seconds=40 \
        --node-port=0 \
        --cidr=10.0.0.0/24

    nodes_yaml | kubectl_ apply -f - >"$run_dir/logs/apply-nodes.log" 2>&1 ||
        die "could not create the nodes: $(cat "$run_dir/logs/apply-nodes.log")"
    kubectl_ apply --server-side --force-conflicts -f "$cache/crds/" >"$run_dir/logs/apply-crds.log" 2>&1 ||
        die "could not install the CRDs: $(cat "$run_dir/logs/apply-crds.log")"

    wait_for kube-controller-manager "the controller manager's health on 127.0.0.1:$kcm_port" healthz "$kcm_port"
    wait_for kube-scheduler "the scheduler's health on 127.0.0.1:$sched_port" healthz "$sched_port"
    wait_for kwok "$nodes KWOK nodes to be Ready" kubectl_ wait node -l type=kwok --for=condition=Ready --timeout=2s
    wait_for kube-controller-manager "the nodes' not-ready taints to be lifted" untainted
    wait_for kube-apiserver "the CRDs ${CRDS[*]} to be Established" established
    # Pods need their namespace's default ServiceAccount (made by the controller manager).
    wait_for kube-controller-manager "the default ServiceAccount" kubectl_ -n default get serviceaccount default

    started_ok=1
    log "ready in $(elapsed) s: $nodes nodes, API server https://127.0.0.1:$api_port"
    log "  eval \"\$(scripts/cluster-up.sh env $run_dir)\"; kubectl get nodes"
}

case "$command" in
    start) start ;;
    stop) stop_all ;;
    env) printf 'export KUBECONFIG=%q\n' "$run_dir/kubeconfig" ;;
    *) usage ;;
esac
