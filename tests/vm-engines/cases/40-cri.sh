# A Kubernetes pod through containerd's CRI plugin (the calls kubelet makes, client/cri_pod.py), with the runtime
# handler runc (containerd's default) or hardrun (containerd-hardrun.toml: runtime_type io.containerd.runc.v2,
# BinaryName /usr/bin/hardrun). containerd's default cgroup driver for the runc shim is cgroupfs.

cri_pod() {
  PROBE=$PROBE SERVE=$SERVE python3 "$(dirname "${BASH_SOURCE[0]}")/../client/cri_pod.py" --handler "$1"
}
test_pod_lifecycle_runc() { cri_pod runc; }
test_pod_lifecycle_hardrun() { cri_pod hardrun; }
