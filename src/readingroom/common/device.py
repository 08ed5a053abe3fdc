"""Device choice and the CPU/GPU presets every chapter runs under.

A chapter declares two sets of sizes, one small enough for a laptop CPU and one that uses a GPU,
and :func:`choose_preset` picks the one that fits the machine::

    preset = choose_preset(
        cpu={"steps": 200, "d_model": 64},
        gpu={"steps": 2000, "d_model": 256},
    )
    model = TinyTransformer(TransformerConfig(vocab_size=..., n_ctx=..., d_model=preset.d_model))

Two environment variables override the automatic choice:

* ``READINGROOM_DEVICE`` (``auto``, ``cpu`` or ``cuda``) picks the device when no caller asks for
  one, e.g. to run a chapter on CPU on a GPU machine.
* ``READINGROOM_PRESET`` (``cpu`` or ``gpu``) forces the preset's values while keeping the device,
  e.g. to check quickly on a GPU that the CPU preset still runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from readingroom.common.checks import check_bool, check_choice, check_device

__all__ = ["DEVICE_ENV", "PRESET_ENV", "pick_device", "Preset", "choose_preset"]

#: Environment variable that picks the device when :func:`pick_device` is called without ``prefer``.
DEVICE_ENV = "READINGROOM_DEVICE"
#: Environment variable that forces the preset's values (``cpu`` or ``gpu``).
PRESET_ENV = "READINGROOM_PRESET"

_DEVICE_CHOICES = ("auto", "cpu", "cuda")
_PRESET_NAMES = ("cpu", "gpu")


def _resolve_device_choice(choice: str, name: str) -> torch.device:
    """Map one of ``auto``/``cpu``/``cuda`` (already normalised) to a device; ``name`` is blamed."""
    if choice not in _DEVICE_CHOICES:
        raise ValueError(
            f"{name} must be one of {', '.join(_DEVICE_CHOICES)} or None, got {choice!r}"
        )
    cuda = torch.cuda.is_available()
    if choice == "cuda" and not cuda:
        raise ValueError(
            f"{name} is 'cuda' but CUDA is not available on this machine; use 'cpu' or 'auto'"
        )
    if choice == "cpu" or not cuda:
        return torch.device("cpu")
    return torch.device("cuda")


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the device a chapter should compute on.

    Args:
        prefer: ``None`` or ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
            When ``prefer`` is ``None`` the environment variable ``READINGROOM_DEVICE`` (same
            values) decides instead, if it is set and non-empty.
    """
    if prefer is None:
        env = os.environ.get(DEVICE_ENV, "").strip().lower()
        if env:
            return _resolve_device_choice(env, f"environment variable {DEVICE_ENV}")
        return _resolve_device_choice("auto", "prefer")
    if not isinstance(prefer, str):
        raise TypeError(
            "prefer must be None or a str (auto, cpu, cuda), "
            f"got {type(prefer).__name__} {prefer!r}"
        )
    return _resolve_device_choice(prefer.strip().lower(), "prefer")


def _device_label(device: torch.device) -> str:
    """``cpu`` or ``cuda:0 (NVIDIA H200)``: the device plus, for CUDA, the card's name."""
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _unknown_key(preset_name: str, key: str, params: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(params)) or "(none)"
    return f"{preset_name!r} preset has no parameter {key!r}; known keys: {known}"


@dataclass(frozen=True)
class Preset:
    """A chapter's chosen sizes: which preset (``cpu``/``gpu``), the device, and the values.

    Values are read-only and reachable both as attributes and as items::

        preset.steps == preset["steps"]

    Attributes:
        name: ``"cpu"`` or ``"gpu"``: which of the two value sets was chosen.
        device: the device to compute on (independent of ``name`` when ``READINGROOM_PRESET``
            forces the values).
        params: the chosen values, as a read-only mapping.
    """

    name: str
    device: torch.device
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_choice(self.name, "name", _PRESET_NAMES)
        device = self.device
        if isinstance(device, str):
            try:
                device = torch.device(device)
            except RuntimeError as err:
                raise ValueError(
                    f"device must be a valid torch device string, got {device!r}"
                ) from err
        if not isinstance(device, torch.device):
            raise TypeError(
                f"device must be a torch.device, got {type(device).__name__} {device!r}"
            )
        if not isinstance(self.params, Mapping):
            raise TypeError(f"params must be a Mapping, got {type(self.params).__name__}")
        for key in self.params:
            if not isinstance(key, str):
                raise TypeError(f"params keys must be str, got {type(key).__name__} {key!r}")
            if key in _RESERVED:
                raise ValueError(
                    f"params key {key!r} clashes with the Preset attribute of the same name; "
                    "rename it"
                )
        # The dataclass is frozen, so fields are set through object.__setattr__.
        object.__setattr__(self, "device", device)
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails, i.e. for the chapter's own parameter names.
        if key.startswith("__"):  # keep copy/pickle protocols working before params exists
            raise AttributeError(key)
        params = self.__dict__.get("params", {})
        if key in params:
            return params[key]
        raise AttributeError(_unknown_key(self.name, key, params))

    def __getitem__(self, key: str) -> Any:
        try:
            return self.params[key]
        except KeyError:
            raise KeyError(_unknown_key(self.name, key, self.params)) from None

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy cannot be pickled; rebuild from a plain dict (pickle, copy, deepcopy).
        return (Preset, (self.name, self.device, dict(self.params)))

    def __contains__(self, key: object) -> bool:
        return key in self.params

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.params))

    def describe(self) -> str:
        """One phrase for logs and reports, e.g. ``"cpu preset on cpu (torch 2.13.0+cpu)"``.

        On CUDA the card's name is included: ``"gpu preset on cuda (NVIDIA H200, torch 2.5.1)"``.
        """
        where = f"{self.name} preset on {self.device}"
        if self.device.type == "cuda" and torch.cuda.is_available():
            card = torch.cuda.get_device_name(self.device)
            return f"{where} ({card}, torch {torch.__version__})"
        return f"{where} (torch {torch.__version__})"


# Names a parameter may not take, because attribute access would find the Preset's own member.
_RESERVED = frozenset(name for name in dir(Preset) if not name.startswith("_")) | {
    "name",
    "device",
    "params",
}


def choose_preset(
    cpu: Mapping[str, Any],
    gpu: Mapping[str, Any],
    *,
    device: torch.device | str | None = None,
    verbose: bool = True,
) -> Preset:
    """Pick the ``gpu`` values on a CUDA device and the ``cpu`` values otherwise.

    Args:
        cpu: the values for a CPU run (small: a chapter must finish in about two minutes).
        gpu: the values for a GPU run; must have exactly the same keys as ``cpu``.
        device: where to compute. ``None`` asks :func:`pick_device` (which honours
            ``READINGROOM_DEVICE``); ``"auto"``, ``"cpu"`` and ``"cuda"`` go through
            :func:`pick_device` too; any other string (``"cuda:1"``) or a :class:`torch.device`
            is used as given.
        verbose: print one line saying what was chosen, e.g.
            ``Preset: cpu · device: cpu · torch 2.13.0+cpu``.

    The environment variable ``READINGROOM_PRESET`` (``cpu`` or ``gpu``), when set and non-empty,
    forces which values are used; the device stays as chosen above.
    """
    for arg_name, values in (("cpu", cpu), ("gpu", gpu)):
        if not isinstance(values, Mapping):
            raise TypeError(
                f"{arg_name} must be a Mapping of preset values, got {type(values).__name__}"
            )
    if set(cpu) != set(gpu):
        only_cpu = sorted(map(str, set(cpu) - set(gpu)))
        only_gpu = sorted(map(str, set(gpu) - set(cpu)))
        raise ValueError(
            "cpu and gpu must have the same keys; "
            f"only in cpu: {only_cpu or 'none'}, only in gpu: {only_gpu or 'none'}"
        )
    check_bool(verbose, "verbose")

    if device is None:
        chosen = pick_device()
    elif isinstance(device, str) and device.strip().lower() in _DEVICE_CHOICES:
        chosen = _resolve_device_choice(device.strip().lower(), "device")
    elif isinstance(device, (str, torch.device)):
        chosen = check_device(device)
    else:
        raise TypeError(
            f"device must be None, a str or a torch.device, got {type(device).__name__} {device!r}"
        )

    name = "gpu" if chosen.type == "cuda" else "cpu"
    forced = os.environ.get(PRESET_ENV, "").strip().lower()
    if forced:
        if forced not in _PRESET_NAMES:
            raise ValueError(
                f"environment variable {PRESET_ENV} must be 'cpu' or 'gpu' (or unset), "
                f"got {forced!r}"
            )
        name = forced
    preset = Preset(name=name, device=chosen, params=cpu if name == "cpu" else gpu)

    if verbose:
        note = f" (forced by {PRESET_ENV})" if forced else ""
        print(f"Preset: {name}{note} · device: {_device_label(chosen)} · torch {torch.__version__}")
    return preset
