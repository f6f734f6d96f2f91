# Shared settings for hack/controlplane/{up,down}.sh (sourced, not run). Everything is overridable
# from the environment; the TypeScript harness (hack/controlplane/cluster.ts) uses the same names.
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
K8S_VERSION="${K8S_VERSION:-v1.36.3}"
K8S_BIN="${K8S_BIN:-$CACHETIER_CACHE/k8s-$K8S_VERSION/bin}"
# Runtime state (certs, etcd data, logs, pids, kubeconfigs): outside the repo, one fixed place so
# up/down are idempotent and a test run can reuse a running control plane.
CP_DIR="${CACHETIER_CP_DIR:-${TMPDIR:-/tmp}/cachetier-controlplane}"
CP_HOST=127.0.0.1
ETCD_CLIENT_PORT="${CP_ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${CP_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${CP_APISERVER_PORT:-16443}"
KCM_PORT="${CP_KCM_PORT:-16457}"
SCHEDULER_PORT="${CP_SCHEDULER_PORT:-16459}"
SERVICE_CIDR="${CP_SERVICE_CIDR:-10.96.0.0/24}"
SERVICE_APISERVER_IP="${CP_SERVICE_APISERVER_IP:-10.96.0.1}"
FAKE_NODES="${CP_FAKE_NODES:-3}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
