"""The kernel pin (readingroom.isa): what it asks each library for, and when it stands aside."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from readingroom import isa


def _has_avx2() -> bool:
    return isa._has_avx2()


def test_the_package_pins_torch_and_mkl_on_an_avx2_machine():
    if not _has_avx2() or os.environ.get(isa.KERNELS_ENV, "").lower() in ("native", "off"):
        pytest.skip("the pin applies only to x86-64 machines with AVX2 and no opt-out")
    assert torch.backends.cpu.get_cpu_capability() == "AVX2"
    assert os.environ["MKL_CBWR"] == "AVX2"
    assert isa.kernel_path() == "x86-64 AVX2"


def test_kernel_env_names_every_library_and_keeps_what_the_user_set(monkeypatch):
    monkeypatch.setattr(isa, "_has_avx2", lambda: True)
    monkeypatch.delenv(isa.KERNELS_ENV, raising=False)
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    env = isa.kernel_env()
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["OPENBLAS_CORETYPE"] == "Haswell"
    assert env["MKL_CBWR"] == "COMPATIBLE"  # the user's choice wins
    assert "AVX512" in env["NPY_DISABLE_CPU_FEATURES"]


@pytest.mark.parametrize("choice", ["native", "off", "NATIVE"])
def test_opting_out_pins_nothing(monkeypatch, choice):
    monkeypatch.setattr(isa, "_has_avx2", lambda: True)
    monkeypatch.setenv(isa.KERNELS_ENV, choice)
    assert isa.kernel_env() == {}


def test_without_avx2_nothing_is_pinned(monkeypatch):
    monkeypatch.setattr(isa, "_has_avx2", lambda: False)
    monkeypatch.delenv(isa.KERNELS_ENV, raising=False)
    assert isa.kernel_env() == {}


def test_a_bad_choice_is_named(monkeypatch):
    monkeypatch.setenv(isa.KERNELS_ENV, "avx512")
    with pytest.raises(ValueError, match="READINGROOM_KERNELS must be 'avx2' or 'native'"):
        isa.kernel_env()


def test_pin_kernels_sets_only_what_is_unset(monkeypatch):
    monkeypatch.setattr(isa, "_has_avx2", lambda: True)
    monkeypatch.delenv(isa.KERNELS_ENV, raising=False)
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    isa.pin_kernels()
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"
    assert os.environ["ATEN_CPU_CAPABILITY"] == "default"


def test_kernel_path_names_an_unpinned_run():
    # A fresh interpreter that opts out computes with torch's own choice and says so.
    env = {k: v for k, v in os.environ.items() if k not in isa.KERNEL_VARS}
    env[isa.KERNELS_ENV] = "native"
    out = subprocess.run(
        [sys.executable, "-c", "import readingroom.isa as i; print(i.kernel_path())"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith("native: ")


def test_numpy_feature_names_follow_its_version(monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(md, "version", lambda name: "2.4.1")
    assert isa._numpy_avx512_features() == "X86_V4 AVX512_ICL AVX512_SPR"
    monkeypatch.setattr(md, "version", lambda name: "1.26.4")
    assert "AVX512_SKX" in isa._numpy_avx512_features()


def test_same_kernels_needs_the_pin_on_both_sides(monkeypatch):
    monkeypatch.setattr(isa, "kernel_path", lambda: "x86-64 AVX2")
    assert isa.same_kernels({"kernels": "x86-64 AVX2"})
    assert not isa.same_kernels({})  # an old record: no promise
    assert not isa.same_kernels({"kernels": "native: AVX512 (x86_64)"})
    monkeypatch.setattr(isa, "kernel_path", lambda: "native: DEFAULT (arm64)")
    assert not isa.same_kernels({"kernels": "x86-64 AVX2"})


def test_same_kernels_wants_a_provenance_dict():
    with pytest.raises(TypeError, match="provenance must be a dict"):
        isa.same_kernels("x86-64 AVX2")
