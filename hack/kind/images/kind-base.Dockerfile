# kind's node base image (sigs.k8s.io/kind images/base), rebuilt without a registry or GitHub:
# FROM the debootstrapped Debian bookworm instead of debian:trixie-slim, kind's own static files
# (images/base/files from the kind Go module), the same apt packages, containerd/runc/crictl built
# from their Go modules (hack/kind/build-binaries.sh) and the CNI plugins from Debian's
# containernetworking-plugins. Two changes for these machines, both in /etc/containerd/config.toml:
#   restrict_oom_score_adj = true   (no CAP_SYS_RESOURCE: writing oom_score_adj below the
#                                    parent's fails, and with it every static pod)
#   sandbox_image = pause:3.10.2    (the pause kubeadm v1.36 names, which we build)
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/LICENSES/ /LICENSES/
COPY files/etc/ /etc/
RUN set -eux; chmod 0755 /kind /kind/bin /kind/bin/* /usr/local/bin/*; \
    find /etc/containerd /etc/default /etc/sysctl.d /etc/systemd/system /etc/crictl.yaml -type f -exec chmod 0644 {} +; \
    clean-install \
      systemd \
      conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
      libseccomp2 pigz fuse-overlayfs \
      nfs-common open-iscsi \
      e2fsprogs \
      bash ca-certificates curl jq procps \
      containernetworking-plugins ipset; \
    find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete; \
    rm -f /lib/systemd/system/multi-user.target.wants/*; \
    rm -f /etc/systemd/system/*.wants/*; \
    rm -f /lib/systemd/system/local-fs.target.wants/*; \
    rm -f /lib/systemd/system/sockets.target.wants/*udev*; \
    rm -f /lib/systemd/system/sockets.target.wants/*initctl*; \
    rm -f /lib/systemd/system/basic.target.wants/*; \
    echo "ReadKMsg=no" >> /etc/systemd/journald.conf; \
    ln -sf /usr/lib/systemd/systemd /sbin/init; \
    systemctl enable kubelet.service; systemctl enable containerd.service; systemctl enable undo-mount-hacks.service; \
    systemctl mask systemd-binfmt.service; \
    mkdir -p /etc/kubernetes/manifests /opt/cni/bin; \
    cp -a /usr/lib/cni/* /opt/cni/bin/
COPY bin/containerd bin/ctr bin/containerd-shim-runc-v2 bin/crictl /usr/local/bin/
COPY bin/runc /usr/local/sbin/runc
RUN set -eux; chmod 0755 /usr/local/bin/containerd /usr/local/bin/ctr /usr/local/bin/containerd-shim-runc-v2 /usr/local/bin/crictl /usr/local/sbin/runc; \
    ctr oci spec \
      | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json; \
    containerd --version; runc --version; crictl --version; \
    sed -i -e 's#^\( *\)restrict_oom_score_adj = false#\1restrict_oom_score_adj = true#' \
           -e 's#^\( *\)sandbox_image = .*#\1sandbox_image = "registry.k8s.io/pause:3.10.2"#' /etc/containerd/config.toml; \
    grep -q 'restrict_oom_score_adj = true' /etc/containerd/config.toml; \
    grep -q 'sandbox_image = "registry.k8s.io/pause:3.10.2"' /etc/containerd/config.toml
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
