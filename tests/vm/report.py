#!/usr/bin/python3
"""Turns the guest's status channel (the second serial port, a file on the host) into a summary and JUnit XML.

The guest writes (tests/vm/run-tests):
  HRVM BEGIN <kernel>
  HRVM CASE <suite> <name>
  HRVM OUT <line>                      (the test's output, for failures)
  HRVM END <suite> <name> <pass|fail|skip> <milliseconds> [message]
  HRVM DONE <passed> <failed> <skipped>
A run without DONE (boot failure, panic, timeout) is reported as a failed test "vm.boot" (--name sets the "vm").
Exit status: 0 only when the guest finished and nothing failed.
"""
import argparse
import sys
import xml.etree.ElementTree as ET


def clean(s):
    """Text JUnit XML can hold: no control characters but tab and newline."""
    return "".join(ch for ch in s if ch in "\t\n" or ord(ch) >= 0x20)


def parse(text):
    cases, current, out, done, kernel = [], None, [], None, None
    for raw in text.splitlines():
        line = clean(raw.rstrip("\r"))
        if not line.startswith("HRVM "):
            continue
        kind, _, rest = line[5:].partition(" ")
        if kind == "BEGIN":
            kernel = rest
        elif kind == "CASE":
            current, out = rest, []
        elif kind == "OUT":
            out.append(rest)
        elif kind == "END":
            parts = rest.split(" ", 4)
            if len(parts) < 4:
                continue
            suite, name, status, ms = parts[:4]
            msg = parts[4] if len(parts) > 4 else ""
            cases.append({"suite": suite, "name": name, "status": status, "ms": int(ms) if ms.isdigit() else 0,
                          "message": msg, "output": "\n".join(out)})
            current, out = None, []
        elif kind == "DONE":
            done = rest
    return kernel, cases, done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--status", required=True)
    ap.add_argument("--console", required=True)
    ap.add_argument("--junit")
    ap.add_argument("--qemu-rc", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=0)
    ap.add_argument("--name", default="vm", help="the test suite's name and the testcases' prefix")
    a = ap.parse_args()
    try:
        status_text = open(a.status, errors="replace").read()
    except FileNotFoundError:
        status_text = ""
    try:
        console = open(a.console, errors="replace").read()
    except FileNotFoundError:
        console = ""
    kernel, cases, done = parse(status_text)

    if done is None:
        why = "the VM did not finish its tests"
        if a.qemu_rc == 124:
            why += f" (timed out after {a.timeout}s)"
        elif a.qemu_rc:
            why += f" (qemu exited with {a.qemu_rc})"
        elif kernel is None:
            why += " (the guest never started the test runner)"
        cases.append({"suite": "boot", "name": "boot_and_run", "status": "fail", "ms": 0, "message": why,
                      "output": "console (last 60 lines):\n" + clean("\n".join(console.splitlines()[-60:]))})

    passed = sum(c["status"] == "pass" for c in cases)
    failed = sum(c["status"] == "fail" for c in cases)
    skipped = sum(c["status"] == "skip" for c in cases)
    for c in cases:
        print(f"[{c['status']}] {a.name}.{c['suite']}.{c['name']} ({c['ms'] / 1000:.1f}s)"
              + (f" {c['message']}" if c["message"] else ""))
        if c["status"] == "fail":
            for line in c["output"].splitlines()[-40:]:
                print("    " + line)
    print(f"{a.name}: {passed} passed, {failed} failed, {skipped} skipped" + (f" (guest kernel {kernel})" if kernel else ""))

    if a.junit:
        suite = ET.Element("testsuite", name=a.name, tests=str(len(cases)), failures=str(failed),
                           skipped=str(skipped), time=f"{sum(c['ms'] for c in cases) / 1000:.3f}")
        for c in cases:
            tc = ET.SubElement(suite, "testcase", classname=f"{a.name}.{c['suite']}", name=c["name"],
                               time=f"{c['ms'] / 1000:.3f}")
            if c["status"] == "fail":
                f = ET.SubElement(tc, "failure", message=c["message"] or "failed")
                f.text = c["output"]
            elif c["status"] == "skip":
                ET.SubElement(tc, "skipped", message=c["message"])
            if c["output"]:
                ET.SubElement(tc, "system-out").text = c["output"]
        root = ET.Element("testsuites")
        root.append(suite)
        ET.ElementTree(root).write(a.junit, encoding="utf-8", xml_declaration=True)
    return 0 if done is not None and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
