#!/usr/bin/python3
"""One Kubernetes pod through containerd's CRI plugin, the calls kubelet makes, with a runtime handler.

Usage: cri_pod.py --handler runc|hardrun [--proto /hardrun-test/cri-api/api.proto]
The stubs are generated first from the CRI API (kubernetes/cri-api v0.25.16, tests/data/cri-api/) with Debian's
protoc and grpc_python_plugin, without its Go-only gogoproto lines. Each step prints "STEP name" and what it
checked; a failed check prints "FAIL: step: why" and exits 1 after removing what it made.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

SOCK = "unix:///run/containerd/containerd.sock"
MIB = 1024 * 1024


def generate(proto, out):
    os.makedirs(out, exist_ok=True)
    text = open(proto).read()
    text = re.sub(r'^import "github.com/gogo/protobuf/gogoproto/gogo.proto";\n', "", text, flags=re.M)
    text = re.sub(r"^option \(gogoproto\.[a-z_]+\)\s*=\s*[a-z]+;\n", "", text, flags=re.M)
    with open(os.path.join(out, "api.proto"), "w") as f:
        f.write(text)
    subprocess.run(["protoc", "-I", out, "--python_out", out, "--grpc_out", out,
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", os.path.join(out, "api.proto")], check=True)
    sys.path.insert(0, out)


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


def status_lines(text):
    return {k: " ".join(v.split()) for k, _, v in (l.partition(":") for l in text.splitlines()) if v}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--handler", required=True)
    ap.add_argument("--proto", default="/hardrun-test/cri-api/api.proto")
    a = ap.parse_args()
    generate(a.proto, "/tmp/cri-stubs")
    import grpc
    import api_pb2 as pb
    import api_pb2_grpc as pbg

    rt = pbg.RuntimeServiceStub(grpc.insecure_channel(SOCK))
    step = "connect"
    made = {"pod": None, "ctr": None}
    parent = f"/hrtest-{a.handler}/pod-{a.handler}"   # kubelet's cgroupfs pod cgroup, /kubepods/... in a cluster
    pids = []

    def call(name, fn, req):
        nonlocal step
        step = name
        t0 = time.monotonic()
        resp = fn(req, timeout=120)
        print(f"STEP {name} ({time.monotonic() - t0:.1f}s)")
        return resp

    try:
        v = call("Version", rt.Version, pb.VersionRequest())
        print(f"  runtime {v.runtime_name} {v.runtime_version}, CRI {v.runtime_api_version}")
        meta = pb.PodSandboxMetadata(name=f"pod-{a.handler}", uid=f"uid-{a.handler}", namespace="default", attempt=0)
        pod_cfg = pb.PodSandboxConfig(
            metadata=meta, log_directory=f"/tmp/pod-{a.handler}-logs",
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=parent,
                security_context=pb.LinuxSandboxSecurityContext(
                    # no CNI plugin in the guest: the pod uses the node's network, as hostNetwork: true does
                    namespace_options=pb.NamespaceOption(network=pb.NODE),
                    seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))))
        os.makedirs(f"/tmp/pod-{a.handler}-logs", exist_ok=True)
        pod = call("RunPodSandbox", rt.RunPodSandbox, pb.RunPodSandboxRequest(config=pod_cfg, runtime_handler=a.handler))
        made["pod"] = pod.pod_sandbox_id
        st = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod.pod_sandbox_id, verbose=True))
        check(st.status.state == pb.SANDBOX_READY, f"sandbox state {st.status.state}")
        info = json.loads(st.info.get("info", "{}"))
        check(info.get("runtimeHandler") == a.handler, f"sandbox handler {info.get('runtimeHandler')!r}")
        pids.append(info.get("pid"))
        print(f"  sandbox {pod.pod_sandbox_id[:12]} pid {info.get('pid')} handler {info.get('runtimeHandler')}")

        probe = os.environ["PROBE"]
        ctr_cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="app", attempt=0),
            image=pb.ImageSpec(image="docker.io/library/hrtest:1"),
            command=["sh", "-c", os.environ["SERVE"]], log_path="app.log",
            linux=pb.LinuxContainerConfig(
                resources=pb.LinuxContainerResources(memory_limit_in_bytes=256 * MIB, cpu_period=100000, cpu_quota=100000),
                security_context=pb.LinuxContainerSecurityContext(
                    run_as_user=pb.Int64Value(value=10001), run_as_group=pb.Int64Value(value=10001),
                    readonly_rootfs=True, no_new_privs=True,
                    capabilities=pb.Capability(drop_capabilities=["ALL"]),
                    seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault),
                    apparmor=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))),
            mounts=[])
        # a writable /tmp, as an emptyDir volume would give
        os.makedirs(f"/tmp/pod-{a.handler}-tmp", exist_ok=True)
        os.chown(f"/tmp/pod-{a.handler}-tmp", 10001, 10001)
        ctr_cfg.mounts.append(pb.Mount(container_path="/tmp", host_path=f"/tmp/pod-{a.handler}-tmp"))
        c = call("CreateContainer", rt.CreateContainer, pb.CreateContainerRequest(
            pod_sandbox_id=pod.pod_sandbox_id, config=ctr_cfg, sandbox_config=pod_cfg))
        made["ctr"] = c.container_id
        call("StartContainer", rt.StartContainer, pb.StartContainerRequest(container_id=c.container_id))
        cs = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=c.container_id, verbose=True))
        check(cs.status.state == pb.CONTAINER_RUNNING, f"container state {cs.status.state}")
        cpid = json.loads(cs.info["info"]).get("pid")
        pids.append(cpid)
        print(f"  container {c.container_id[:12]} pid {cpid}")

        r = call("ExecSync", rt.ExecSync, pb.ExecSyncRequest(container_id=c.container_id, cmd=["sh", "-c", probe], timeout=60))
        out = r.stdout.decode()
        print("  " + out.replace("\n", "\n  ") + r.stderr.decode())
        check(r.exit_code == 0, f"exit code {r.exit_code}: {r.stderr.decode().strip()}")
        s = status_lines(out)
        want = {"Uid": "10001 10001 10001 10001", "CapEff": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
                "label": "cri-containerd.apparmor.d (enforce)", "memory.max": str(256 * MIB),
                "cpu.max": "100000 100000", "root": "read-only", "tmp": "writable"}
        for k, v in want.items():
            check(s.get(k) == v, f"{k}: expected {v!r}, got {s.get(k)!r}")

        call("UpdateContainerResources", rt.UpdateContainerResources, pb.UpdateContainerResourcesRequest(
            container_id=c.container_id,
            linux=pb.LinuxContainerResources(memory_limit_in_bytes=128 * MIB, cpu_period=100000, cpu_quota=50000)))
        cg = "/sys/fs/cgroup" + open(f"/proc/{cpid}/cgroup").read().split("::", 1)[1].strip()
        got = open(cg + "/memory.max").read().strip()
        check(got == str(128 * MIB), f"memory.max after UpdateContainerResources: {got}")
        got = open(cg + "/cpu.max").read().strip()
        check(got == "50000 100000", f"cpu.max after UpdateContainerResources: {got}")
        print(f"  {cg}: memory.max {128 * MIB}, cpu.max 50000 100000")

        st = call("ContainerStats", rt.ContainerStats, pb.ContainerStatsRequest(container_id=c.container_id))
        ws = st.stats.memory.working_set_bytes.value
        check(ws > 0, "no memory working set in ContainerStats")
        check(st.stats.cpu.usage_core_nano_seconds.value > 0, "no cpu usage in ContainerStats")
        print(f"  working set {ws}, cpu {st.stats.cpu.usage_core_nano_seconds.value} ns")

        t0 = time.monotonic()
        call("StopContainer", rt.StopContainer, pb.StopContainerRequest(container_id=c.container_id, timeout=10))
        check(time.monotonic() - t0 < 8, "StopContainer waited for the SIGKILL: SIGTERM did not end the workload")
        cs = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=c.container_id))
        check(cs.status.state == pb.CONTAINER_EXITED and cs.status.exit_code == 0,
              f"after stop: state {cs.status.state}, exit code {cs.status.exit_code}")
        call("RemoveContainer", rt.RemoveContainer, pb.RemoveContainerRequest(container_id=c.container_id))
        made["ctr"] = None
        call("StopPodSandbox", rt.StopPodSandbox, pb.StopPodSandboxRequest(pod_sandbox_id=pod.pod_sandbox_id))
        call("RemovePodSandbox", rt.RemovePodSandbox, pb.RemovePodSandboxRequest(pod_sandbox_id=pod.pod_sandbox_id))
        made["pod"] = None

        step = "nothing left"
        left = rt.ListPodSandbox(pb.ListPodSandboxRequest()).items
        check(not left, f"pods left: {[p.id for p in left]}")
        for pid in pids:
            check(pid and not os.path.exists(f"/proc/{pid}"), f"process {pid} of the pod is still there")
        mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if pod.pod_sandbox_id in l or c.container_id in l]
        check(not mounts, f"mounts of the pod are left: {mounts}")
        pcg = "/sys/fs/cgroup" + parent
        kids = [d for d in os.listdir(pcg) if os.path.isdir(os.path.join(pcg, d))] if os.path.isdir(pcg) else []
        check(not kids, f"cgroups of the pod are left in {pcg}: {kids}")
        print(f"STEP {step}: no pod, process, mount or cgroup left")
    except (Fail, Exception) as e:
        msg = e.details() if hasattr(e, "details") and callable(e.details) else str(e)
        print(f"FAIL: {step}: {msg}")
        return 1
    finally:
        if made["ctr"]:
            try:
                rt.RemoveContainer(pb.RemoveContainerRequest(container_id=made["ctr"]), timeout=60)
            except Exception as e:
                print(f"cleanup: RemoveContainer: {e}")
        if made["pod"]:
            for fn, req in ((rt.StopPodSandbox, pb.StopPodSandboxRequest), (rt.RemovePodSandbox, pb.RemovePodSandboxRequest)):
                try:
                    fn(req(pod_sandbox_id=made["pod"]), timeout=60)
                except Exception as e:
                    print(f"cleanup: {fn}: {e}")
        # kubelet removes the pod's cgroup once the pod is gone; so does the test
        for d in (parent, os.path.dirname(parent)):
            try:
                os.rmdir("/sys/fs/cgroup" + d)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
