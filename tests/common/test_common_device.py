"""Tests for readingroom.common.device (CUDA is faked with monkeypatch, so these run anywhere)."""

import copy
import dataclasses
import pickle

import pytest
import torch

from readingroom.common import Preset, choose_preset, pick_device
from readingroom.common.device import DEVICE_ENV, PRESET_ENV

CPU = {"steps": 100, "d_model": 32}
GPU = {"steps": 1000, "d_model": 256}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.delenv(PRESET_ENV, raising=False)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU 9000")


# --- pick_device -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefer", [None, "auto", "cpu", " CPU "])
def test_pick_device_without_cuda_is_cpu(no_cuda, prefer):
    assert pick_device(prefer) == torch.device("cpu")


@pytest.mark.parametrize(
    "prefer, expected", [(None, "cuda"), ("auto", "cuda"), ("cuda", "cuda"), ("cpu", "cpu")]
)
def test_pick_device_with_cuda(fake_cuda, prefer, expected):
    assert pick_device(prefer).type == expected


def test_pick_device_env_overrides_only_when_prefer_is_none(fake_cuda, monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cuda").type == "cuda"  # an explicit request wins over the environment
    monkeypatch.setenv(DEVICE_ENV, "")
    assert pick_device().type == "cuda"  # empty means unset


def test_pick_device_explicit_prefer_ignores_a_bad_variable(no_cuda, monkeypatch):
    # the bad values themselves are refused in test_common_bad_input
    for value in ("cuda", "gpu0"):
        monkeypatch.setenv(DEVICE_ENV, value)
        assert pick_device("cpu") == torch.device("cpu")


# --- Preset ------------------------------------------------------------------------------------


def test_preset_attribute_and_item_access():
    preset = Preset("cpu", torch.device("cpu"), {"steps": 3, "lr": 0.1})
    assert preset.steps == preset["steps"] == 3
    assert preset.lr == 0.1
    assert "steps" in preset and "nope" not in preset
    assert "steps" in dir(preset)


def test_preset_is_read_only_and_copies_its_input():
    values = {"steps": 3}
    preset = Preset("gpu", torch.device("cpu"), values)
    values["steps"] = 99
    assert preset.steps == 3
    with pytest.raises(TypeError):
        preset.params["steps"] = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.name = "cpu"


def test_preset_copies_and_pickles():
    preset = Preset("cpu", "cpu", {"steps": 3})
    assert preset.device == torch.device("cpu")  # a device string is converted
    assert copy.deepcopy(preset) == preset
    assert pickle.loads(pickle.dumps(preset)) == preset


def test_preset_describe_cpu():
    preset = Preset("cpu", torch.device("cpu"), {})
    assert preset.describe() == f"cpu preset on cpu (torch {torch.__version__})"


def test_preset_describe_cuda_names_the_card(fake_cuda):
    preset = Preset("gpu", torch.device("cuda"), {})
    assert preset.describe() == f"gpu preset on cuda (Fake GPU 9000, torch {torch.__version__})"


# --- choose_preset -----------------------------------------------------------------------------


def test_choose_preset_on_cpu_prints_one_line(no_cuda, capsys):
    preset = choose_preset(CPU, GPU)
    assert preset.name == "cpu" and preset.device == torch.device("cpu")
    assert preset.steps == 100 and preset.d_model == 32
    assert capsys.readouterr().out == f"Preset: cpu · device: cpu · torch {torch.__version__}\n"


def test_choose_preset_on_cuda(fake_cuda, capsys):
    preset = choose_preset(CPU, GPU)
    assert preset.name == "gpu" and preset.device.type == "cuda" and preset.steps == 1000
    assert "device: cuda (Fake GPU 9000)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "device, name",
    [
        ("cpu", "cpu"),
        (torch.device("cpu"), "cpu"),
        ("cuda", "gpu"),
        (torch.device("cuda", 0), "gpu"),
        ("cuda:0", "gpu"),
    ],
)
def test_choose_preset_explicit_device(fake_cuda, device, name):
    preset = choose_preset(CPU, GPU, device=device, verbose=False)
    assert preset.name == name


def test_choose_preset_quiet(no_cuda, capsys):
    choose_preset(CPU, GPU, verbose=False)
    assert capsys.readouterr().out == ""


def test_choose_preset_env_forces_values_not_device(no_cuda, monkeypatch, capsys):
    monkeypatch.setenv(PRESET_ENV, "gpu")
    preset = choose_preset(CPU, GPU)
    assert preset.name == "gpu" and preset.steps == 1000 and preset.device == torch.device("cpu")
    assert f"forced by {PRESET_ENV}" in capsys.readouterr().out
