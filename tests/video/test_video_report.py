"""Scoring: the compact video encoding for samples.json, the real-vs-control bracket (the
committed judge reproduces the committed controls), and the scoring of a committed DiT."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from readingroom.video.committed import dit_path, load_classifier, load_dit, load_vae
from readingroom.video.data import MOTIONS, VideoSpec
from readingroom.video.report import (
    EXAMPLES_PER_CLASS, control_report, decode_videos, encode_videos, score_committed, score_model,
)

METRICS = {"speed_jerk", "mass_drift", "permanence", "mass", "shape_drift", "class_match"}


@pytest.fixture(scope="module")
def parts():
    vae, stats, _ = load_vae()
    classifier, _ = load_classifier()
    return vae, stats, classifier


def test_encode_decode_roundtrip():
    videos = torch.rand(3, 1, 5, 8, 12)
    value = encode_videos(videos)
    assert value["shape"] == [3, 1, 5, 8, 12] and value["dtype"] == "uint8/255"
    json.dumps(value)                                   # plain JSON
    back = decode_videos(value)
    assert back.shape == videos.shape and back.dtype == torch.float32
    assert (back - videos).abs().max() <= 0.5 / 255 + 1e-6


def test_encode_clamps():
    back = decode_videos(encode_videos(torch.tensor([-1.0, 0.0, 1.0, 2.0])))
    assert back.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_control_report_orders_real_and_controls(parts):
    report = control_report(parts[2], seed=0, per_class=8)
    assert set(report) == {"real", "shuffled", "mixed"}
    assert all(set(r) == METRICS for r in report.values())
    real, shuffled, mixed = report["real"], report["shuffled"], report["mixed"]
    assert real["class_match"] == 1.0 and real["permanence"] == 1.0
    assert real["speed_jerk"] < shuffled["speed_jerk"] < mixed["speed_jerk"]
    assert real["mass_drift"] < 0.01 < mixed["mass_drift"]
    assert shuffled["mass_drift"] == pytest.approx(real["mass_drift"], rel=1e-4)  # same frames
    assert shuffled["shape_drift"] == pytest.approx(real["shape_drift"], rel=1e-4)
    assert mixed["shape_drift"] > 5 * real["shape_drift"]
    assert mixed["class_match"] < shuffled["class_match"] < real["class_match"]


def test_control_report_reproduces_samples_json(parts):
    samples = json.loads((dit_path().parent / "samples.json").read_text())
    report = control_report(parts[2], seed=samples["seed"], per_class=samples["per_class"])
    for name, metrics in samples["controls"].items():
        for key, value in metrics.items():
            assert report[name][key] == pytest.approx(value, rel=1e-5, abs=1e-7), (name, key)


def test_score_model(parts):
    model, _ = load_dit("small")
    out = score_model(model, *parts, seed=0, per_class=1)
    assert set(out) == METRICS | {"examples"}
    examples = decode_videos(out["examples"])
    assert examples.shape == (len(MOTIONS), 1, 9, 32, 32)      # min(EXAMPLES_PER_CLASS, 1) each
    i2v = score_model(model, *parts, seed=0, per_class=2, image_to_video=True,
                      spec=VideoSpec(5, 32, 32))
    assert decode_videos(i2v["examples"]).shape == (len(MOTIONS) * min(EXAMPLES_PER_CLASS, 2), 1,
                                                    5, 32, 32)


def test_score_committed_one_model(parts, tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(dit_path("small").with_suffix(suffix), tmp_path)
    result = score_committed(*parts, tmp_path, seed=0, per_class=1, progress=False)
    assert set(result) == {"spec", "per_class", "seed", "controls", "models", "records"}
    assert list(result["models"]) == ["dit_small_full_seed0"]
    entry = result["models"]["dit_small_full_seed0"]
    assert set(entry) == {"params", "flops", "val_loss", "base", "i2v"}
    assert set(entry["base"]) == METRICS | {"examples"}
    assert result["records"] == {"dit_small_full_seed0":
                                 json.loads(dit_path("small").with_suffix(".json").read_text())
                                 ["sha256"]}
    json.dumps(result)


def test_score_committed_empty_folder(parts, tmp_path):
    result = score_committed(*parts, tmp_path, seed=0, per_class=1, progress=False)
    assert result["models"] == {} and result["records"] == {}
