#!/usr/bin/env bash
# A real Kubernetes control plane as plain processes on 127.0.0.1 (no container engine here):
# etcd (Debian etcd-server), kube-apiserver (RBAC + Node authorization, service-account tokens,
# audit log), kube-controller-manager (garbage collector, workload controllers; no node
# lifecycle so fake nodes stay Ready and untainted), kube-scheduler, and 3 fake Ready nodes so
# StatefulSet pods get scheduled (they stay Pending: there is no kubelet).
#
# Idempotent: if it is already up and healthy, it says so and exits 0; a half-up state is torn
# down and started again. State lives in $CACHETIER_CP_DIR (default /tmp/cachetier-controlplane);
# hack/controlplane/down.sh stops everything and removes it.
#
# Prints the admin kubeconfig path on the last line of stdout.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

log() { echo "controlplane: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$K8S_BIN/$b" ] || die "$K8S_BIN/$b missing: run 'make deps-controlplane' (hack/deps-kubernetes.sh builds it)"
done
ETCD_BIN="${ETCD_BIN:-$(command -v etcd || true)}"
[ -n "$ETCD_BIN" ] || die "etcd not found: install Debian etcd-server (bash hack/deps-apt.sh)"
command -v openssl >/dev/null || die "openssl not found"
command -v curl >/dev/null || die "curl not found"

PKI="$CP_DIR/pki"
ADMIN_KUBECONFIG="$CP_DIR/admin.kubeconfig"
KUBECTL=("$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=20s)

alive() { # alive <component>: its recorded process group leader is running
  local f="$CP_DIR/run/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}
apiserver_ready() {
  curl -sf --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://$CP_HOST:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

if [ -f "$CP_DIR/ready" ]; then
  all=1
  for c in "${COMPONENTS[@]}"; do alive "$c" || all=0; done
  if [ "$all" = 1 ] && apiserver_ready; then
    log "already up (state: $CP_DIR)"
    echo "$ADMIN_KUBECONFIG"
    exit 0
  fi
  log "found a half-up control plane in $CP_DIR: tearing it down first"
fi
bash "$HERE/down.sh" >&2

for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT"; do
  if (exec 3<>"/dev/tcp/$CP_HOST/$port") 2>/dev/null; then
    die "port $CP_HOST:$port is already in use by something else (override with CP_*_PORT)"
  fi
done

mkdir -p "$PKI" "$CP_DIR/run" "$CP_DIR/logs" "$CP_DIR/etcd"
chmod 700 "$CP_DIR"
T0=$(date +%s)

# ---------------------------------------------------------------- certificates (openssl)
log "generating certificates in $PKI"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cachetier-controlplane-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt"
client_cert() { # client_cert <file> <CN> [O]
  local subj="/CN=$2"; [ -n "${3:-}" ] && subj="/O=$3/CN=$2"
  ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$PKI/$1.key" -out "$PKI/$1.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$PKI/$1.ext"
  ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 \
    -extfile "$PKI/$1.ext" -out "$PKI/$1.crt"
}
# API server serving certificate: the loopback address plus the in-cluster names.
ossl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr"
cat > "$PKI/apiserver.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$CP_HOST,IP:$SERVICE_APISERVER_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
ossl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 \
  -extfile "$PKI/apiserver.ext" -out "$PKI/apiserver.crt"
client_cert admin kubernetes-admin system:masters
client_cert kube-controller-manager system:kube-controller-manager
client_cert kube-scheduler system:kube-scheduler
# Service-account token signing key pair.
ossl genrsa -out "$PKI/sa.key" 2048
ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
chmod 600 "$PKI"/*.key

kubeconfig() { # kubeconfig <file> <user> <cert-basename>
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cachetier-controlplane
  cluster:
    server: https://$CP_HOST:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 < "$PKI/$3.crt")
    client-key-data: $(base64 -w0 < "$PKI/$3.key")
contexts:
- name: $2@cachetier-controlplane
  context: {cluster: cachetier-controlplane, user: $2}
current-context: $2@cachetier-controlplane
EOF
  chmod 600 "$1"
}
kubeconfig "$ADMIN_KUBECONFIG" kubernetes-admin admin
kubeconfig "$CP_DIR/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
kubeconfig "$CP_DIR/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
cp "$HERE/audit-policy.yaml" "$CP_DIR/audit-policy.yaml"

# ---------------------------------------------------------------- processes
start() { # start <name> <cmd...>: own session/process group, nice'd, pid recorded
  local name=$1; shift
  setsid nice -n 5 "$@" >"$CP_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$CP_DIR/run/$name.pid"
}
wait_until() { # wait_until <what> <timeout-s> <component> <cmd...>
  local what=$1 timeout=$2 comp=$3; shift 3
  local deadline=$(( $(date +%s) + timeout ))
  until "$@"; do
    if [ -n "$comp" ] && ! alive "$comp"; then
      tail -n 30 "$CP_DIR/logs/$comp.log" >&2 || true
      die "$comp exited while waiting for $what (log: $CP_DIR/logs/$comp.log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      [ -n "$comp" ] && tail -n 30 "$CP_DIR/logs/$comp.log" >&2
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.5
  done
}

log "starting etcd on $CP_HOST:$ETCD_CLIENT_PORT"
start etcd "$ETCD_BIN" --name cachetier-cp --data-dir "$CP_DIR/etcd" \
  --listen-client-urls "http://$CP_HOST:$ETCD_CLIENT_PORT" --advertise-client-urls "http://$CP_HOST:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://$CP_HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$CP_HOST:$ETCD_PEER_PORT" \
  --initial-cluster "cachetier-cp=http://$CP_HOST:$ETCD_PEER_PORT" --initial-cluster-state new \
  --quota-backend-bytes 1073741824 --snapshot-count 10000 --log-level warn
etcd_ready() { curl -sf --max-time 3 "http://$CP_HOST:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
wait_until "etcd health" 60 etcd etcd_ready

log "starting kube-apiserver on https://$CP_HOST:$APISERVER_PORT"
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://$CP_HOST:$ETCD_CLIENT_PORT" \
  --bind-address "$CP_HOST" --advertise-address "$CP_HOST" --secure-port "$APISERVER_PORT" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --endpoint-reconciler-type none \
  --audit-policy-file "$CP_DIR/audit-policy.yaml" --audit-log-path "$CP_DIR/audit.log" \
  --audit-log-format json --audit-log-mode blocking --audit-log-maxsize 0 \
  --profiling=false --v 1
wait_until "kube-apiserver /readyz" 180 kube-apiserver apiserver_ready

log "starting kube-controller-manager and kube-scheduler"
# Only the controllers this tier needs: no node lifecycle (fake nodes would be tainted NotReady
# without a kubelet), no cloud controllers; of the volume controllers only the binder (a test binds
# static PersistentVolumes to claims, as a volume expansion needs bound claims).
KCM_CONTROLLERS="${CP_KCM_CONTROLLERS:-garbage-collector-controller,statefulset-controller,deployment-controller,replicaset-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,root-ca-certificate-publisher-controller,disruption-controller,endpointslice-controller,persistentvolume-binder-controller}"
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$CP_DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CP_DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CP_DIR/kube-controller-manager.kubeconfig" \
  --bind-address "$CP_HOST" --secure-port "$KCM_PORT" \
  --controllers "$KCM_CONTROLLERS" \
  --use-service-account-credentials=true \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --leader-elect=false --v 1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig "$CP_DIR/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$CP_DIR/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$CP_DIR/kube-scheduler.kubeconfig" \
  --bind-address "$CP_HOST" --secure-port "$SCHEDULER_PORT" \
  --leader-elect=false --v 1
kcm_ready() { curl -skf --max-time 3 "https://$CP_HOST:$KCM_PORT/healthz" >/dev/null 2>&1; }
sched_ready() { curl -skf --max-time 3 "https://$CP_HOST:$SCHEDULER_PORT/healthz" >/dev/null 2>&1; }
wait_until "kube-controller-manager /healthz" 120 kube-controller-manager kcm_ready
wait_until "kube-scheduler /healthz" 120 kube-scheduler sched_ready
# The serviceaccount controller creating "default" proves the controller manager really works
# (and pods cannot be admitted in a namespace before its default ServiceAccount exists).
default_sa() { "${KUBECTL[@]}" get serviceaccount default -n default >/dev/null 2>&1; }
wait_until "the default ServiceAccount" 120 kube-controller-manager default_sa

# ---------------------------------------------------------------- fake nodes
# Ready nodes with capacity so the scheduler binds StatefulSet pods. No kubelet heartbeats them
# and the node lifecycle controller is off, so they stay Ready (and pods stay Pending).
log "registering $FAKE_NODES fake nodes"
nodes_yaml="$CP_DIR/nodes.yaml"
: > "$nodes_yaml"
now=$(date -u +%FT%TZ)
for i in $(seq 1 "$FAKE_NODES"); do
  cat >> "$nodes_yaml" <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: fake-node-$i
  labels:
    kubernetes.io/hostname: fake-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/worker: ""
    topology.kubernetes.io/zone: zone-$i
    cachetier.io/fake-node: "true"
status:
  capacity: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
  allocatable: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: "fake node (no kubelet)", lastHeartbeatTime: "$now", lastTransitionTime: "$now"}
  - {type: MemoryPressure, status: "False", reason: KubeletHasSufficientMemory, message: ok, lastHeartbeatTime: "$now", lastTransitionTime: "$now"}
  - {type: DiskPressure, status: "False", reason: KubeletHasNoDiskPressure, message: ok, lastHeartbeatTime: "$now", lastTransitionTime: "$now"}
  - {type: PIDPressure, status: "False", reason: KubeletHasSufficientPID, message: ok, lastHeartbeatTime: "$now", lastTransitionTime: "$now"}
  addresses:
  - {type: InternalIP, address: "127.0.0.1$i"}
  - {type: Hostname, address: fake-node-$i}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: $K8S_VERSION, kubeProxyVersion: $K8S_VERSION, osImage: fake, kernelVersion: fake, containerRuntimeVersion: "fake://0", machineID: fake-$i, systemUUID: fake-$i, bootID: fake-$i}
EOF
done
"${KUBECTL[@]}" create -f "$nodes_yaml" >&2
# Node status is kept on create, but make sure (a status subresource patch is what a kubelet does).
for i in $(seq 1 "$FAKE_NODES"); do
  ready=$("${KUBECTL[@]}" get node "fake-node-$i" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')
  [ "$ready" = "True" ] || die "fake-node-$i is not Ready after create (status: '$ready')"
done

touch "$CP_DIR/ready"
log "up in $(( $(date +%s) - T0 ))s: kubectl --kubeconfig $ADMIN_KUBECONFIG (state: $CP_DIR)"
echo "$ADMIN_KUBECONFIG"
