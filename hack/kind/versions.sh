# Versions of everything the kind tier builds from Go modules (sourced by hack/kind/*.sh).
# Each was checked against the Go module proxy reachable here and builds with Go 1.26.
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
K8S_VERSION="${K8S_VERSION:-v1.36.3}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.3.4}"
RUNC_VERSION="${RUNC_VERSION:-v1.4.3}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.36.0}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.2}"
KUBE_ROUTER_VERSION="${KUBE_ROUTER_VERSION:-v2.1.0}"     # the only v2 release the proxy here serves
LOCAL_PATH_VERSION="${LOCAL_PATH_VERSION:-v0.0.33}"
