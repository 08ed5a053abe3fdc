"""Weights the book trains itself: a ``.safetensors`` file and a provenance record beside it.

Most chapters train their tiny models live. When a chapter needs a model that takes longer to
train than its time budget, the repo's own training script trains it once, and the repo commits
the weights (a few MB) together with a JSON record saying how they were made. The workflow:

1. **Train and save.** A chapter's training script is one seeded command with a progress bar::

       python -m readingroom.<method>.train --seed 0 --out book/data/<name>.safetensors

   and ends with :func:`save_weights`, which writes ``book/data/<name>.safetensors`` and the
   record ``book/data/<name>.json``: the command, seed, data recipe, the numbers the chapter will
   state (``metrics``, e.g. the final loss), the git commit of the checkout (and whether it had
   uncommitted changes), the torch version, the date, the file's SHA-256, the parameter count and
   every tensor's shape and dtype. Both files are committed.

2. **Load in the chapter.** The chapter builds the model from today's code and calls
   :func:`load_weights`, which checks the file against the recorded hash and loads it with clear
   errors when the architecture no longer matches. The chapter can quote the record's numbers
   with :func:`read_record` (and still runs a short live training so the reader sees the loop).
   A package's loader (e.g. ``readingroom.ocr.reader.load_reader``) does this with
   :func:`load_committed`: a missing file names the command that makes it, the model comes back
   in eval mode, and an optional check re-measures the record's metrics.

3. **Test.** A unit test loads the committed weights into today's code and checks that
   evaluating them reproduces ``record["metrics"]`` (``load_committed(..., check=...)``), so a
   change to the model code that breaks the committed weights fails CI instead of silently
   changing the book's numbers.

Tied weights. ``safetensors`` refuses tensors that share memory, and a model with tied embeddings
(e.g. ``TinyTransformer(TransformerConfig(..., tie_embeddings=True))``) has two state-dict keys
for one tensor. :func:`save_weights` stores each such tensor **once**, under the first of its keys
in ``state_dict()`` order, and records the other keys in ``record["tied"]`` as
``{alias: stored_key}``; :func:`load_weights` gives every alias its stored tensor again. (This is
the de-duplication of ``safetensors.torch.save_model``, made explicit in the record.) Tensors that
merely overlap in memory without being the same view are saved as independent copies.

Nothing here downloads anything: weights come only from the repo's own training scripts.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checks import check_bool, check_seed
from ..isa import kernel_path

__all__ = [
    "save_weights", "load_weights", "load_committed", "read_record", "file_sha256",
    "run_provenance",
]

#: The suffix a weights file must have; its record is the same path with ``.json``.
SUFFIX = ".safetensors"
#: How long a git call may take before the code version is given up as unknown (seconds).
_GIT_TIMEOUT_S = 10.0
#: At most this many offending names are listed in a load error (then "... and N more").
_MAX_LISTED = 20


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _safetensors_torch():
    """Import ``safetensors.torch`` (pinned in requirements.txt) with a clear error if missing."""
    try:
        import safetensors.torch as st
    except ImportError as err:  # pragma: no cover - safetensors is pinned in requirements.txt
        raise ImportError(
            "readingroom.common.weights needs the 'safetensors' package: pip install safetensors"
        ) from err
    return st


def _as_path(path: object, name: str = "path") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, or raise ``TypeError`` naming ``name``."""
    if isinstance(path, (str, os.PathLike)):
        as_path = Path(path)
        if str(path) == "":
            raise ValueError(f"{name} must be a non-empty file path, got {path!r}")
        return as_path
    raise TypeError(f"{name} must be a str or os.PathLike file path, got {type(path).__name__}")


def _weights_path(path: object) -> Path:
    """Validate a weights path: a str/PathLike whose name ends in ``.safetensors``."""
    as_path = _as_path(path)
    if as_path.suffix != SUFFIX:
        raise ValueError(f"path must name a '{SUFFIX}' file, got {str(path)!r}")
    return as_path


def _record_path(weights: Path) -> Path:
    """The record beside ``weights``: ``dir/name.safetensors`` -> ``dir/name.json``."""
    return weights.with_suffix(".json")


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_text(value: object, name: str) -> str:
    """Return ``value`` if it is a non-blank str, else raise naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a non-empty str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty str, got {value!r}")
    return value


def _check_metrics(metrics: object) -> dict[str, float | int]:
    """Return ``metrics`` as a plain dict of finite numbers, or raise naming the bad entry."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a mapping of name -> number or None, got {type(metrics).__name__}"
        )
    checked: dict[str, float | int] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metrics keys must be non-empty str, got {key!r}")
        if isinstance(value, (bool, complex)) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"metrics[{key!r}] must be a real number, got {type(value).__name__} {value!r}"
            )
        if isinstance(value, numbers.Integral):
            checked[key] = int(value)
        else:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"metrics[{key!r}] must be a finite number, got {number}")
            checked[key] = number
    return checked


def _check_extra(extra: object) -> dict[str, Any]:
    """Return ``extra`` as a plain dict that survives a JSON round trip, or raise."""
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a mapping or None, got {type(extra).__name__}")
    for key in extra:
        if not isinstance(key, str):
            raise TypeError(f"extra keys must be str, got {key!r}")
    try:
        return json.loads(json.dumps(dict(extra), allow_nan=False))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"extra must hold only JSON values (str, finite numbers, bool, None, lists, dicts): "
            f"{err}"
        ) from err


def _tied_keys(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """``{alias: first_key}`` for state-dict entries that are the very same view of one tensor.

    Two entries are tied when they have the same storage, offset, shape, strides and dtype (as
    ``unembed.weight`` and ``tok_emb.weight`` of a tied model). Empty tensors are never tied.
    """
    first: dict[tuple, str] = {}
    tied: dict[str, str] = {}
    for key, tensor in state.items():
        if tensor.numel() == 0 or tensor.device.type == "meta":
            continue
        ident = (
            tensor.device,
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tensor.stride(),
            tensor.dtype,
        )
        if ident in first:
            tied[key] = first[ident]
        else:
            first[ident] = key
    return tied


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _listed(items: list[str]) -> str:
    """Join ``items`` for an error message, at most ``_MAX_LISTED`` of them."""
    shown = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f", ... and {len(items) - _MAX_LISTED} more"
    return shown


def _dumps_record(record: Mapping[str, Any]) -> str:
    """The record as indented JSON, with one line per tensor (diff-friendly and short)."""
    rest = {key: value for key, value in record.items() if key not in ("tensors", "tied")}
    head = json.dumps(rest, indent=2, allow_nan=False)[: -len("\n}")]
    tensors = ",\n".join(
        f"    {json.dumps(key)}: {json.dumps(value)}" for key, value in record["tensors"].items()
    )
    return (
        f'{head},\n  "tensors": {{\n{tensors}\n  }},\n'
        f'  "tied": {json.dumps(record["tied"])}\n}}\n'
    )


# The commit a copy of the tree was made from, for runs on a machine whose copy has no (or a
# stale) .git; see _code_version.
CODE_COMMIT_ENV = "READINGROOM_CODE_COMMIT"


def _git(folder: Path, *args: str) -> str | None:
    """Output of ``git -C folder args`` (stripped of the final newline), or None if it fails.

    Never raises: no git on the PATH, a folder outside any repository, a refused repository
    ("dubious ownership") or a hang all give None.
    """
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace").rstrip("\n")


def _code_version(folder: Path, outputs: tuple[Path, ...]) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` for the repository holding ``folder``, else None.

    ``dirty`` is True when ``git status`` reports any change (modified, staged or untracked,
    non-ignored files) other than the ``outputs`` being written, which are left out so that
    saving into the checkout does not by itself make the record "dirty".

    A copy of the tree made for another machine may carry no ``.git``, or a stale one: there,
    set ``READINGROOM_CODE_COMMIT`` to the commit the copy was made from, and the record says
    ``{"commit": that, "dirty": None, "source": "READINGROOM_CODE_COMMIT"}`` instead of asking
    git (``dirty`` is unknown).
    """
    given = os.environ.get(CODE_COMMIT_ENV, "").strip()
    if given:
        return {"commit": given, "dirty": None, "source": CODE_COMMIT_ENV}
    lines = _git(folder, "rev-parse", "HEAD", "--show-toplevel")
    if lines is None:
        return None
    parts = lines.splitlines()
    if len(parts) != 2:
        return None
    commit, top = parts
    status = _git(folder, "status", "--porcelain", "-z", "--untracked-files=all")
    if status is None:
        return {"commit": commit, "dirty": None}
    top_path = Path(top).resolve()
    skip = set()
    for out in outputs:
        try:
            skip.add(out.resolve().relative_to(top_path).as_posix())
        except ValueError:
            pass
    entries = status.split("\0")
    changed = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, name = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            i += 1  # a rename or copy is followed by its source path
        if name not in skip:
            changed.append(name)
    return {"commit": commit, "dirty": bool(changed)}


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike) -> str:
    """Return the SHA-256 hex digest of the file at ``path`` (read in 1 MiB chunks).

    Raises:
        FileNotFoundError: there is no file at ``path``.
    """
    as_path = _as_path(path)
    if not as_path.is_file():
        raise FileNotFoundError(f"no file at {as_path}")
    digest = hashlib.sha256()
    with as_path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    command: str,
    seed: int,
    data: str,
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
    run_outputs: Sequence[str | os.PathLike] = (),
) -> Path:
    """Write ``model.state_dict()`` to ``path`` and its provenance record beside it.

    The tensors are detached, copied to the CPU and made contiguous; tied entries (the same
    tensor under several keys) are stored once, see the module docstring. Parent folders are
    created, and both files are written to a temporary name first and then renamed, so an
    interrupted save never leaves a half-written file under the final name.

    The record ``<path without suffix>.json`` holds:

    * ``file``: the weights file's name; ``sha256`` and ``bytes``: its hash and size;
    * ``command``, ``seed``, ``data``: how to make the file again (``data`` is the data recipe,
      free text); ``metrics``: the numbers the chapter states (finite numbers); ``extra``: any
      other JSON values (e.g. the model config);
    * ``code_version``: ``{"commit": <git HEAD>, "dirty": <uncommitted changes?>}`` for the git
      repository holding ``path``, or ``null`` when there is no repository, no commit or no git
      (saving never fails because of git). ``dirty`` counts modified, staged and untracked
      (non-ignored) files, but not the two files being written nor ``run_outputs``; it is
      ``null`` if ``git status`` fails;
    * ``torch``: ``torch.__version__``; ``created``: the UTC time, ISO 8601;
    * ``model``: the model's class (``module.QualName``); ``parameters``: the number of scalars in
      ``model.parameters()`` (a tied tensor counted once; buffers not counted);
    * ``tensors``: ``{key: [shape, dtype]}`` for each tensor stored in the file;
      ``tied``: ``{alias: stored_key}`` for the state-dict keys stored under another key.

    Args:
        model: the trained module.
        path: the weights file to write; its name must end in ``.safetensors``. An existing file
            (and record) is replaced.
        command: the command that produced the weights, e.g.
            ``"python -m readingroom.nsa recall --seed 0 --weights"``.
        seed: the seed of the run, an int in ``[0, 2**32 - 1]``.
        data: the data recipe, e.g. ``"20,000 sequences of the induction task, T=64, V=32"``.
        metrics: name -> number, e.g. ``{"final_loss": 0.0412}``.
        extra: any other JSON-serialisable facts worth keeping.
        run_outputs: other files the same run writes (e.g. the weights of its other models and
            their records), which ``dirty`` leaves out like the two files being written.

    Returns:
        The path of the record (``.json``).
    """
    model = _check_model(model)
    weights = _weights_path(path)
    command = _check_text(command, "command")
    seed = check_seed(seed)
    data = _check_text(data, "data")
    metrics_checked = _check_metrics(metrics)
    extra_checked = _check_extra(extra)
    if isinstance(run_outputs, (str, os.PathLike)):
        raise TypeError("run_outputs must be a sequence of paths, not a single path")
    others = tuple(_as_path(p, "run_outputs") for p in run_outputs)

    state = model.state_dict()
    if not state:
        raise ValueError(
            f"model ({type(model).__name__}) has no parameters or buffers to save: its "
            "state_dict() is empty"
        )
    tied = _tied_keys(state)
    tensors = {
        key: tensor.detach().to("cpu", copy=True).contiguous()
        for key, tensor in state.items()
        if key not in tied
    }

    record_file = _record_path(weights)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tmp_weights = weights.with_name(weights.name + ".tmp")
    _safetensors_torch().save_file(tensors, str(tmp_weights), metadata={"format": "pt"})
    os.replace(tmp_weights, weights)

    record: dict[str, Any] = {
        "file": weights.name,
        "sha256": file_sha256(weights),
        "bytes": weights.stat().st_size,
        "command": command,
        "seed": seed,
        "data": data,
        "metrics": metrics_checked,
        "extra": extra_checked,
        "code_version": _code_version(weights.parent, (weights, record_file, *others)),
        "torch": str(torch.__version__),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "parameters": sum(p.numel() for p in model.parameters()),
        "tensors": {
            key: [list(tensor.shape), _dtype_name(tensor.dtype)] for key, tensor in tensors.items()
        },
        "tied": tied,
    }
    tmp_record = record_file.with_name(record_file.name + ".tmp")
    tmp_record.write_text(_dumps_record(record), encoding="utf-8")
    os.replace(tmp_record, record_file)
    return record_file


def _cpu_name() -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), or ``None``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def run_provenance(command: str, device: torch.device | str | None = None, *,
                   outputs: Sequence[str | os.PathLike] = ()) -> dict[str, Any]:
    """Where and how a committed result was made, for the JSON records the book renders.

    ``{"command", "argv", "date_utc", "threads", "torch", "python", "device", "kernels",
    "code_version"}``: the command to run again, the process's own argument list, the UTC time
    (ISO 8601), torch's intra-op threads, the library and interpreter versions, the device (the
    GPU's name for a CUDA device, else the CPU's model name from ``/proc/cpuinfo`` or the machine
    type), the CPU kernels it computed with (:func:`readingroom.isa.kernel_path`; a CPU run
    replays exactly where they are the same), and the git
    commit of this checkout with whether it had uncommitted changes other than ``outputs``, the
    files the run writes (the same ``code_version`` as :func:`save_weights`; ``None`` outside a
    repository).
    """
    import platform
    import shlex
    import sys

    command = _check_text(command, "command")
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        where = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        where = f"cpu: {_cpu_name() or platform.machine()}, {os.cpu_count()} cores"
    return {
        "command": command,
        "argv": shlex.join(sys.argv),
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "device": where,
        "kernels": kernel_path(),
        "code_version": _code_version(Path(__file__).resolve().parent,
                                      tuple(_as_path(p, "outputs") for p in outputs)),
    }


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Return the provenance record of a weights file, e.g. to quote ``record["metrics"]``.

    Args:
        path: the weights file (``name.safetensors``; its record ``name.json`` is read) or the
            record itself (``name.json``). The weights file need not exist, and its hash is not
            checked here (:func:`load_weights` checks it).

    Raises:
        ValueError: the record is not valid JSON, not a JSON object, or lacks ``sha256``.
        FileNotFoundError: the record does not exist (the message gives its path).
    """
    as_path = _as_path(path)
    if as_path.suffix == ".json":
        record_file = as_path
    elif as_path.suffix == SUFFIX:
        record_file = _record_path(as_path)
    else:
        raise ValueError(
            f"path must name a '{SUFFIX}' file or its '.json' record, got {str(path)!r}"
        )
    if not record_file.is_file():
        raise FileNotFoundError(
            f"the provenance record {record_file} of {as_path.with_suffix(SUFFIX)} is missing; "
            "weights are saved with their record by readingroom.common.save_weights"
        )
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"the record {record_file} is not valid JSON: {err}") from err
    if not isinstance(record, dict):
        raise ValueError(
            f"the record {record_file} must hold a JSON object, got {type(record).__name__}"
        )
    if not isinstance(record.get("sha256"), str):
        raise ValueError(f"the record {record_file} has no 'sha256' string")
    return record


def load_weights(
    model: nn.Module, path: str | os.PathLike, *, strict: bool = True
) -> dict[str, Any]:
    """Load weights saved by :func:`save_weights` into ``model``, after checking the file.

    Steps: read the record beside ``path``; check the file's SHA-256 against it; give tied aliases
    their stored tensor; compare keys and shapes with ``model.state_dict()``; move each tensor to
    the device of the model tensor it replaces; load. The model's dtypes are kept (values are cast
    as ``load_state_dict`` does).

    Args:
        model: a module built from today's code with the architecture the weights were saved from.
        path: the ``.safetensors`` file.
        strict: when True (default), every key of the model must be in the file and every key of
            the file in the model. When False, keys missing from the file keep the model's current
            values and extra keys in the file are ignored. Shapes must match in either case.

    Returns:
        The record (as :func:`read_record`).

    Raises:
        ValueError: the file was modified after it was recorded (hash mismatch); a shape
            differs (the message lists each key with the file's and the model's shape); with
            ``strict``, keys are missing or unexpected (listed); the model ties two keys whose
            stored values differ.
        FileNotFoundError: the weights file or its record does not exist.
    """
    model = _check_model(model)
    weights = _weights_path(path)
    check_bool(strict, "strict")
    if not weights.is_file():
        raise FileNotFoundError(f"weights file {weights} not found")
    record = read_record(weights)

    blob = weights.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != record["sha256"]:
        raise ValueError(
            f"{weights} was modified after it was recorded: its sha256 is {digest}, the record "
            f"{_record_path(weights).name} says {record['sha256']}. Re-run the command in the "
            f"record to make the weights again: {record.get('command', '(no command recorded)')}"
        )
    st = _safetensors_torch()
    try:
        loaded = st.load(blob)
    except Exception as err:  # safetensors raises its own SafetensorError on a malformed file
        raise ValueError(f"{weights} is not a readable safetensors file: {err}") from err

    tied = record.get("tied") or {}
    if not isinstance(tied, dict):
        raise ValueError(f"the record of {weights} has a malformed 'tied' entry: {tied!r}")
    for alias, stored in tied.items():
        if stored in loaded and alias not in loaded:
            loaded[alias] = loaded[stored]

    target = model.state_dict()
    missing = [key for key in target if key not in loaded]
    unexpected = [key for key in loaded if key not in target]
    mismatched = [
        f"{key}: file {list(loaded[key].shape)} vs model {list(target[key].shape)}"
        for key in target
        if key in loaded and loaded[key].shape != target[key].shape
    ]
    problems = []
    hint = " (strict=False ignores missing and unexpected keys, not shapes)." if strict else "."
    if mismatched:
        problems.append(f"shape mismatch for {_listed(mismatched)}")
    if strict and missing:
        problems.append(f"missing from the file: {_listed(missing)}")
    if strict and unexpected:
        problems.append(f"not in the model: {_listed(unexpected)}")
    if problems:
        raise ValueError(
            f"cannot load {weights} into {type(model).__name__}: " + "; ".join(problems)
            + ". The model's architecture differs from the one the weights were saved from"
            + hint
        )

    for alias, first in _tied_keys(target).items():
        if alias in loaded and first in loaded and not torch.equal(loaded[alias], loaded[first]):
            raise ValueError(
                f"cannot load {weights}: the model ties {alias} to {first}, but the file holds "
                "different values for them"
            )

    state = {
        key: tensor.to(target[key].device) for key, tensor in loaded.items() if key in target
    }
    model.load_state_dict(state, strict=False)
    return record


def load_committed(
    path: str | os.PathLike,
    model: nn.Module | Callable[[dict[str, Any]], nn.Module],
    *,
    command: str | None,
    check: Callable[[nn.Module], Mapping[str, float]] | None = None,
    tolerance: float = 0.0,
    device: torch.device | str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Load weights the book committed (see the module docstring) into a model in eval mode.

    The one way the packages load ``book/data/`` weights: check the file is there, build the
    model, load it with :func:`load_weights` (which checks the file's SHA-256 against its record),
    move it to ``device``, put it in eval mode and, when ``check`` is given, make sure today's code
    still reproduces the numbers in the record.

    Args:
        path: the ``.safetensors`` file (a relative path is relative to the working directory, as
            for :func:`load_weights`; use :func:`~readingroom.common.book_data_path` for a file
            under ``book/data/``).
        model: the module to load into, or a factory ``model(record) -> nn.Module`` called with
            the record (:func:`read_record`) for models whose configuration the record holds; a
            factory may also raise to refuse a record (e.g. one made with other settings).
        command: the command that makes the file again, named when the file is missing (``None``
            when there is none to give).
        check: ``check(model) -> {metric: value}``, run on the loaded model (eval mode, on
            ``device``); each value must be within ``tolerance`` of ``record["metrics"][metric]``.
        tolerance: the largest absolute difference ``check`` may find, >= 0.
        device: where to move the model after loading (``None``: leave it where it is).

    Returns:
        ``(model, record)``: the loaded model, in eval mode, and its record.

    Raises:
        FileNotFoundError: no file at ``path``; the message gives the full path, says whether its
            record is committed without it, and names ``command``.
        ValueError: as :func:`load_weights` (hash mismatch, another architecture); a metric of
            ``check`` is not in the record, or differs from it by more than ``tolerance`` (the
            message names the metric with the recorded and the measured value).
        TypeError: ``model`` is a factory that returns no ``nn.Module``.
    """
    weights = _weights_path(path)
    if command is not None:
        command = _check_text(command, "command")
    if check is not None and not callable(check):
        raise TypeError(f"check must be None or callable, got {type(check).__name__}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
        raise TypeError(f"tolerance must be a real number, got {type(tolerance).__name__}")
    if not tolerance >= 0 or not math.isfinite(tolerance):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    if not weights.is_file():
        record_file = _record_path(weights)
        message = f"{weights} does not exist"
        if record_file.is_file():
            message += f": only its record {record_file.name} is committed"
        if command is not None:
            message += f"; make it with `{command}`"
        raise FileNotFoundError(message)
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise TypeError(
                f"model must be a torch.nn.Module or a factory model(record) -> nn.Module, "
                f"got {type(model).__name__}"
            )
        built = model(read_record(weights))
        if not isinstance(built, nn.Module):
            raise TypeError(
                f"the model factory must return a torch.nn.Module, got {type(built).__name__}"
            )
        model = built
    record = load_weights(model, weights)
    if device is not None:
        model = model.to(device)
    model.eval()
    if check is None:
        return model, record
    measured = check(model)
    if not isinstance(measured, Mapping):
        raise TypeError(f"check must return a dict of metric -> number, "
                        f"got {type(measured).__name__}")
    recorded = record.get("metrics") or {}
    worst = None
    for name, value in measured.items():
        if name not in recorded:
            raise ValueError(
                f"{weights}: the check measures {name!r}, which its record does not hold "
                f"(recorded metrics: {_listed(sorted(recorded)) or 'none'})"
            )
        diff = abs(float(value) - float(recorded[name]))
        if not diff <= tolerance and (worst is None or not diff <= worst[0]):
            worst = (diff, name, float(value))
    if worst is not None:
        diff, name, value = worst
        raise ValueError(
            f"{weights} no longer reproduces its record: {name} is {value!r} in today's code, "
            f"{recorded[name]!r} in the record (difference {diff:.3g} > tolerance {tolerance:g})"
            + (f"; make the weights again with `{command}`" if command is not None else "")
        )
    return model, record
