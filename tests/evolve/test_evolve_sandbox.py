"""The sandbox against real hostile programs, layer by layer.

Every hostile case must come back as a failure with its reason. Where a layer cannot block a case
on this machine the test skips and says exactly why (it never passes silently); hostile programs
that would do harm if not blocked (writing into the repository, a fork bomb without a process cap)
are not run at all in that case.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path

import pytest

from readingroom.evolve.sandbox import (
    LAYERS, SandboxResult, available_layers, process_cap, run_sandboxed, sandbox_layer,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = available_layers()
CAP = process_cap()
UID = os.geteuid()

LAYER_PARAMS = [
    pytest.param(layer, id=layer, marks=pytest.mark.skipif(
        layer not in HERE, reason=f"the {layer!r} layer does not work on this machine"))
    for layer in LAYERS
]
FAST = dict(timeout_s=5.0, memory_mb=256, max_procs=16)


def _no_files(layer: str) -> None:
    if layer != "bwrap":
        pytest.skip(f"the {layer!r} layer does not limit file access: the candidate reads and "
                    f"writes whatever uid {UID} may (only 'bwrap' hides the repo and $HOME)")


def _procs_in(folder: Path) -> list[int]:
    """Processes whose working directory lies in ``folder`` (the sandbox runs there)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/cwd").startswith(str(folder)):
                    found.append(int(name))
            except OSError:
                continue
    return found


def _group_gone(pgid: int) -> bool:
    """No live process is left in the process group ``pgid``.

    Killed processes whose parent died with them are zombies (dead, holding only a pid) until
    the machine's init reaps them, which on these machines takes a moment: they do not count.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return False
    return True


def test_layer_detection_and_report():
    assert HERE[-1] == "rlimits-only" and set(HERE) <= set(LAYERS)
    assert sandbox_layer() == HERE[0]
    r = run_sandboxed("def main():\n    return 1\n")
    assert r.ok and r.layer == sandbox_layer()
    assert CAP in ("cgroup", "rlimit", "none") and r.limits["process_cap"] == CAP


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_normal_program_returns_its_value(layer):
    code = "import math\ndef score(xs, k):\n    return {'s': sum(xs) * k, 'pi': math.pi}\n"
    r = run_sandboxed(code, entry="score", args=([1, 2, 3], 2), layer=layer, **FAST)
    assert isinstance(r, SandboxResult)
    assert r.ok and r.reason == "" and r.value["s"] == 12 and r.layer == layer
    json.dumps(r.to_dict())  # the whole result is JSON-able


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_exception_is_recorded_with_its_message(layer):
    code = "def main():\n    print('working'); raise ValueError('no good: 42')\n"
    r = run_sandboxed(code, layer=layer, **FAST)
    assert not r.ok and r.reason == "exception: ValueError: no good: 42"
    assert "working" in r.stdout


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_bad_output_missing_entry_and_silent_exit(layer):
    r = run_sandboxed("def main():\n    return object()\n", layer=layer, **FAST)
    assert not r.ok and r.reason.startswith("bad output")
    r = run_sandboxed("def other():\n    return 1\n", layer=layer, **FAST)
    assert not r.ok and r.reason == "missing entry: main"
    r = run_sandboxed("import os\ndef main():\n    os._exit(0)\n", layer=layer, **FAST)
    assert not r.ok and r.reason == "bad output: no result written"
    r = run_sandboxed("def main(:\n", layer=layer, **FAST)
    assert not r.ok and r.reason.startswith("exception: SyntaxError")


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_infinite_loop_times_out_and_the_group_is_killed(layer, tmp_path):
    # the loop also forks a child that leaves the process group (setsid): it must die too
    code = ("import os, time\n"
            "def main():\n"
            "    if os.fork() == 0:\n"
            "        os.setsid()\n"
            "        while True: time.sleep(0.1)\n"
            "    while True: pass\n")
    if layer == "rlimits-only" and CAP != "cgroup":
        pytest.skip("rlimits-only without a pids cgroup cannot kill a child that left the "
                    "process group with setsid() (no pid namespace)")
    r = run_sandboxed(code, layer=layer, timeout_s=1.0, tmp_dir=tmp_path)
    assert not r.ok and r.reason == "timeout" and 1.0 <= r.wall_s < 4.0
    assert _group_gone(r.pid), "the process group survived the timeout"
    assert _procs_in(tmp_path) == [], "a sandboxed process survived the timeout"
    assert list(tmp_path.iterdir()) == [], "the temporary folder was not deleted"


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_cpu_limit_even_if_sigxcpu_is_ignored(layer):
    code = ("import signal\n"
            "def main():\n"
            "    signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
            "    while True: pass\n")
    r = run_sandboxed(code, layer=layer, timeout_s=8.0, cpu_s=1, memory_mb=256)
    assert not r.ok and r.reason == "cpu" and r.wall_s < 8.0


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_unbounded_allocation_is_a_memory_failure(layer):
    code = "def main():\n    xs = []\n    while True:\n        xs.append(bytearray(10**7))\n"
    r = run_sandboxed(code, layer=layer, **FAST)
    assert not r.ok and r.reason == "memory"
    r = run_sandboxed("def main():\n    return len(bytearray(10**10))\n", layer=layer, **FAST)
    assert not r.ok and r.reason == "memory"


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_fork_bomb_is_contained_and_killed(layer, tmp_path):
    if CAP == "none":
        pytest.skip("nothing caps processes here: running as root (RLIMIT_NPROC does not apply "
                    "to root) without a writable pids cgroup, so the fork bomb is not run")
    # the stubborn kind: ignores every failed fork and keeps going until killed
    code = ("import os\n"
            "def main():\n"
            "    while True:\n"
            "        try:\n"
            "            os.fork()\n"
            "        except OSError:\n"
            "            pass\n")
    r = run_sandboxed(code, layer=layer, timeout_s=1.0, memory_mb=256, max_procs=16,
                      tmp_dir=tmp_path)
    assert not r.ok and r.reason in ("timeout", "cpu"), r.reason
    # the machine is unharmed: no process of the bomb is left, in its group or in its folder (a
    # machine-wide process count would also count whatever else runs beside the test)
    assert _group_gone(r.pid) and _procs_in(tmp_path) == []
    # the plain kind: its own fork fails once the cap is reached
    plain = "import os\ndef main():\n    while True:\n        os.fork()\n"
    r = run_sandboxed(plain, layer=layer, timeout_s=2.0, memory_mb=256, max_procs=16,
                      tmp_dir=tmp_path)
    assert not r.ok and (r.reason == "timeout" or "BlockingIOError" in r.reason), r.reason
    assert _group_gone(r.pid) and _procs_in(tmp_path) == []


@pytest.mark.enable_socket
@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_network_is_refused(layer):
    if layer == "rlimits-only":
        pytest.skip("the 'rlimits-only' layer has no network namespace: the candidate may open "
                    "any connection the machine allows")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        for host, p in (("127.0.0.1", port), ("1.1.1.1", 80)):
            code = ("import socket\n"
                    "def main(host, port):\n"
                    "    socket.create_connection((host, port), timeout=2).close()\n"
                    "    return 'connected'\n")
            r = run_sandboxed(code, args=(host, p), layer=layer, **FAST)
            assert not r.ok and r.reason.startswith("exception:") and "Error" in r.reason, (
                host, r.reason)
            assert r.value is None
    finally:
        server.close()


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_reading_outside_its_folder_is_refused(layer):
    _no_files(layer)
    for path in (ROOT / "README.md", Path.home() / ".bashrc", ROOT / "pyproject.toml"):
        code = "def main(path):\n    return open(path).read()\n"
        r = run_sandboxed(code, args=(str(path),), layer=layer, **FAST)
        assert not r.ok and r.reason.startswith("exception:"), (path, r.reason, r.value)
        assert "FileNotFoundError" in r.reason or "PermissionError" in r.reason


@pytest.mark.parametrize("layer", LAYER_PARAMS)
def test_writing_outside_its_folder_is_refused(layer, tmp_path):
    _no_files(layer)
    tag = uuid.uuid4().hex
    targets = [Path("/tmp") / f"escape-{tag}", ROOT / f"escape-{tag}.txt", tmp_path / "escape.txt",
               Path.home() / f"escape-{tag}"]
    code = "def main(path):\n    open(path, 'w').write('escaped')\n    return 'written'\n"
    try:
        for target in targets:
            r = run_sandboxed(code, args=(str(target),), layer=layer, **FAST)
            assert not r.ok and r.reason.startswith("exception:"), (target, r.reason)
            assert not target.exists(), target
        # its own folder is writable (and deleted afterwards)
        ok = run_sandboxed("def main():\n    open('mine.txt', 'w').write('x')\n    return 1\n",
                           layer=layer, **FAST)
        assert ok.ok and ok.value == 1
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("READINGROOM_SECRET", "hunter2")
    code = "import os\ndef main():\n    return dict(os.environ)\n"
    r = run_sandboxed(code, **FAST)
    assert r.ok
    env = r.value
    assert "READINGROOM_SECRET" not in env
    assert {"PATH", "LANG", "PYTHONHASHSEED", "HOME"} <= set(env) <= {
        "PATH", "LANG", "PYTHONHASHSEED", "HOME", "PWD", "SHLVL", "_", "LC_CTYPE"}
    r = run_sandboxed("import os\ndef main():\n    return os.getcwd() == os.environ['HOME']\n",
                      **FAST)
    assert r.ok and r.value is True
