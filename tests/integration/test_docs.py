"""Man pages and built-in help: the pages build lint-clean, and every command's --help lists exactly the
options its man page documents (and the other way round), so neither can drift from the code.

Man page convention (man/*.scd, scdoc): a command is documented under a level-2 heading "## hardrun CMD..."
whose option entries are lines starting with "*-". The options shared by run, check and seccomp record are
the level-1 section "# RUN OPTIONS"; a command section that mentions "RUN OPTIONS" accepts all of them.
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

from conftest import HARDRUN, ROOT, ROOTFS

BUILD = os.environ.get("HARDRUN_BUILD", os.path.dirname(HARDRUN))
MAN_SRC = os.path.join(ROOT, "man")
PAGES = ["hardrun.1", "hardrun-check.1", "hardrun-seccomp.5"]
FLAG = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[a-zA-Z0-9])(?![\w-])")
IGNORED = {"-h", "--help"}  # every command has them; documented once under "## hardrun"


# --- the pages ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_man_page_built_and_lint_clean(page):
    path = os.path.join(BUILD, "man", page)
    assert os.path.exists(path), f"{path} not built (scdoc missing? see cmake/Install.cmake)"
    assert os.path.exists(path + ".gz")
    p = subprocess.run(["mandoc", "-Tlint", path], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout + p.stderr == "", p.stdout + p.stderr


@pytest.mark.parametrize("page", PAGES)
def test_man_page_renders_without_groff_warnings(page):
    if not shutil.which("man"):
        pytest.skip("man-db is not installed")
    path = os.path.join(BUILD, "man", page)
    p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", p.stderr
    assert "NAME" in p.stdout and "SEE ALSO" in p.stdout


@pytest.mark.parametrize("page", PAGES)
def test_man_page_is_current(page):
    # the built page is what scdoc makes of the source today (a stale build would hide a lint problem)
    src = os.path.join(MAN_SRC, page + ".scd")
    built = os.path.join(BUILD, "man", page)
    assert os.path.getmtime(built) >= os.path.getmtime(src), f"rebuild: cmake --build {BUILD} --target man"


def test_every_page_has_the_standard_sections():
    for page in PAGES:
        text = open(os.path.join(MAN_SRC, page + ".scd")).read()
        for section in ("# NAME", "# DESCRIPTION", "# SEE ALSO"):
            assert re.search("^" + re.escape(section) + "$", text, re.M), (page, section)
    main = open(os.path.join(MAN_SRC, "hardrun.1.scd")).read()
    for section in ("# SYNOPSIS", "# EXIT STATUS", "# ENVIRONMENT", "# FILES", "# EXAMPLES", "# SECURITY",
                    "# SYSTEMD"):
        assert re.search("^" + re.escape(section) + "$", main, re.M), section


# --- help versus man ----------------------------------------------------------------------------------

def help_text(path):
    p = subprocess.run([HARDRUN] + path + ["--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (path, p.stderr)
    return p.stdout


def help_flags(text):
    """Option names of one --help page (CLI11: option lines are indented two spaces and start with '-')."""
    flags = set()
    for line in text.splitlines():
        m = re.match(r"^  (-\S+)", line)
        if m:
            # a flag with a value when given bare shows it in braces (CLI11): --read-write{layer}
            flags.update(n.split("{")[0] for n in m.group(1).split(",") if n.startswith("-"))
    return flags


def help_subcommands(text):
    subs, section = [], None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line
            continue
        m = re.match(r"^  ([a-z][a-z0-9-]*)\b", line)
        if section == "Subcommands:" and m:
            subs.append(m.group(1))
    return subs


def all_commands():
    """Every command path hardrun has, from its own help: [[], ["run"], ["seccomp"], ["seccomp", "record"]...]"""
    out, todo = [], [[]]
    while todo:
        path = todo.pop(0)
        out.append(path)
        todo.extend(path + [s] for s in help_subcommands(help_text(path)))
    return out


def man_sections():
    """{"hardrun run": {flags}, ..., "RUN OPTIONS": {flags}} and the set of commands including RUN OPTIONS."""
    docs, includes_run = {}, set()
    for src in sorted(glob.glob(os.path.join(MAN_SRC, "*.scd"))):
        current = None
        for line in open(src):
            line = line.rstrip("\n")
            if line.startswith("# "):
                current = "RUN OPTIONS" if line == "# RUN OPTIONS" else None
                if current:
                    docs.setdefault(current, set())
                continue
            m = re.match(r"^## (hardrun(?: [a-z][a-z0-9-]*)*)$", line)
            if m:
                current = m.group(1)
                assert current not in docs, f"{current} is documented twice"
                docs[current] = set()
                continue
            if line.startswith("## ") and current != "RUN OPTIONS":
                current = None
                continue
            if current is None:
                continue
            if current != "RUN OPTIONS" and "RUN OPTIONS" in line:
                includes_run.add(current)
            if line.startswith("*-"):
                # the term of a definition: "*-v*, *--volume* _SRC_:_DST_" -> -v, --volume
                names = re.findall(r"\*(-[^*\s]+)\*", line)
                assert names, line
                for n in names:
                    assert FLAG.fullmatch(n), (src, line)
                docs[current].update(names)
    return docs, includes_run


def test_every_command_is_documented_and_nothing_else():
    docs, _ = man_sections()
    commands = {" ".join(["hardrun"] + p) for p in all_commands()}
    documented = {k for k in docs if k != "RUN OPTIONS"}
    assert commands - documented == set(), "commands missing from the man pages"
    assert documented - commands == set(), "man pages document commands hardrun does not have"


@pytest.mark.parametrize("path", all_commands() if os.path.exists(HARDRUN) else [], ids=lambda p: " ".join(p) or "hardrun")
def test_help_and_man_list_the_same_options(path):
    docs, includes_run = man_sections()
    name = " ".join(["hardrun"] + path)
    assert name in docs, f"no '## {name}' section in man/*.scd"
    documented = set(docs[name])
    if name in includes_run:
        documented |= docs["RUN OPTIONS"]
    helped = help_flags(help_text(path))
    if path:
        helped -= IGNORED
        documented -= IGNORED
    assert helped - documented == set(), f"{name}: in --help but not in the man page"
    assert documented - helped == set(), f"{name}: in the man page but not in --help"


def test_the_parser_really_reads_the_pages():
    # guards the guard: the run section and the shared options are found and non-trivial
    docs, includes_run = man_sections()
    assert "hardrun run" in includes_run
    assert {"--rootfs", "--volume", "-v", "--security-opt", "--memory"} <= docs["RUN OPTIONS"]
    assert "--sd-notify" in docs["hardrun run"]
    assert "--rootfs" in help_flags(help_text(["run"]))


# --- bash completion -----------------------------------------------------------------------------------

COMPLETION = os.path.join(ROOT, "contrib", "bash-completion", "hardrun")


def complete(*words):
    """COMPREPLY for the command line `words` (the last one is being completed), as bash would ask."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              'COMP_LINE="$*"; _hardrun; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", script, "bash", COMPLETION, HARDRUN] + list(words), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.splitlines() if w]


def test_completion_commands_and_options():
    top = complete("")
    assert "run" in top
    assert set(top) == set(help_subcommands(help_text([])))
    assert complete("run", "--ro") == ["--rootfs"]
    assert "--sd-notify" in complete("run", "--sd")
    assert set(complete("run", "-")) == help_flags(help_text(["run"]))


def test_completion_values():
    assert complete("run", "--network", "") == ["none", "host"]
    assert complete("run", "--sd-notify", "=", "h") == ["hardrun"]  # bash splits --sd-notify=h at '='
    assert complete("run", "--cap-add", "net_bind") == ["NET_BIND_SERVICE"]
    assert "seccomp=unconfined" in complete("run", "--security-opt", "sec")


def test_completion_stops_at_the_workload_command():
    # after the command, the words belong to the workload: no hardrun options offered
    assert complete("run", "--rootfs", "/srv/r", "sh", "--ro") == []


def test_completion_offers_container_ids(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("creates a container under the default --root")
    import json
    import uuid
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    os.chmod(tmp_path, 0o755)
    subprocess.run([HARDRUN, "spec", "--bundle", str(bundle)], check=True, capture_output=True)
    config = json.loads((bundle / "config.json").read_text())
    config["root"]["path"] = ROOTFS
    config["process"]["args"] = ["true"]
    (bundle / "config.json").write_text(json.dumps(config))
    cid = "completion-" + uuid.uuid4().hex[:8]
    # the created container keeps its stdio: give it /dev/null, not pipes this test would wait on
    p = subprocess.run([HARDRUN, "create", "--bundle", str(bundle), cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0
    try:
        assert cid in complete("state", "completion-")
        assert cid in complete("delete", "")
    finally:
        subprocess.run([HARDRUN, "delete", "--force", cid], capture_output=True, timeout=60)
