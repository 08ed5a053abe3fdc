"""Tests of readingroom.video.metrics: real videos score ~0, the controls do not."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.video.data import VideoSpec, frame_mixed, frame_shuffled, make_videos
from readingroom.video.metrics import (
    centroids, mass_drift, masses, permanence, psnr, speed_jerk, world_metrics,
)


@pytest.fixture(scope="module")
def videos():
    real = make_videos(256, VideoSpec(9, 32, 32), seed=0)
    g = torch.Generator().manual_seed(1)
    return real, frame_shuffled(real.videos, g), frame_mixed(real.videos, g)


def test_shapes_and_both_layouts(videos):
    real = videos[0]
    assert masses(real.videos).shape == (256, 9)
    assert centroids(real.videos).shape == (256, 9, 2)
    for fn in (speed_jerk, mass_drift, permanence):
        assert fn(real.videos).shape == (256,)
        assert torch.equal(fn(real.videos), fn(real.videos[:, 0]))  # [N, T, H, W] too


def test_centroids_match_true_centres(videos):
    real = videos[0]
    assert float((centroids(real.videos) - real.centres).abs().max()) < 0.1


def test_empty_frames():
    v = torch.zeros(2, 1, 4, 8, 8)
    v[0, 0, :, 2:5, 2:5] = 1.0
    v[1, 0, 1:, 2:5, 2:5] = 1.0  # video 1: frame 0 is empty
    v[:, :, :, 0, 0] = 0.05  # haze below the floor is ignored
    assert masses(v)[1, 0] == 0 and masses(v)[0, 0] == 9
    c = centroids(v)
    assert torch.isnan(c[1, 0]).all() and c[0, 0].tolist() == [3.5, 3.5]  # pixels 2..4, centres at i + 0.5
    jerk = speed_jerk(v)
    assert jerk[0] == 0 and math.isinf(jerk[1])
    assert permanence(v, 5.0).tolist() == [1.0, 0.75]
    assert math.isinf(mass_drift(torch.zeros(1, 3, 8, 8))[0])


def test_real_versus_controls(videos):
    real, shuffled, mixed = (world_metrics(v) for v in (videos[0].videos, videos[1], videos[2]))
    # measured (seed 0): jerk 0.028 / 2.48 / 10.4, mass drift 0.0022 / 0.0022 / 0.38
    assert real["speed_jerk"] < 0.05
    assert shuffled["speed_jerk"] > 1.5 and mixed["speed_jerk"] > 5.0
    assert real["mass_drift"] < 0.005 and mixed["mass_drift"] > 0.2
    assert shuffled["mass_drift"] == pytest.approx(real["mass_drift"], rel=1e-4)
    assert real["permanence"] == shuffled["permanence"] == mixed["permanence"] == 1.0
    assert 60 < real["mass"] < 110
    # per video, the worst real video still drifts less than the least-drifting mixed one
    assert float(mass_drift(videos[0].videos).max()) < float(mass_drift(videos[2]).min())
    # the median jerk of real videos hides bounces; nearly all are tiny
    assert float((speed_jerk(videos[0].videos) < 0.1).float().mean()) > 0.85


def test_psnr():
    x = torch.rand(3, 1, 4, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    assert torch.isinf(psnr(x, x)).all()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)) * 0.1
    got = psnr(x, x + noise)
    mse = (((x + noise).clamp(0, 1) - x) ** 2).flatten(1).mean(1)
    assert torch.allclose(got, 10 * torch.log10(1 / mse), atol=1e-3)
    assert torch.allclose(got, torch.full((3,), 20.0), atol=0.5)  # sigma 0.1 -> ~20 dB
    assert psnr(torch.zeros(1, 2, 8, 8), torch.full((1, 2, 8, 8), 2.0)).item() == pytest.approx(0)
    assert psnr(x, x + noise, max_val=2.0)[0] == pytest.approx(float(got[0]) + 20 * math.log10(2))


def _disk_or_square(kind: str, cy: float, cx: float, area: float, size: int = 32) -> torch.Tensor:
    """One anti-aliased frame: a disk or an axis-aligned square of the given area."""
    pos = torch.arange(size, dtype=torch.float32) + 0.5
    dy, dx = pos[:, None] - cy, pos[None, :] - cx
    if kind == "disk":
        r, d = (area / math.pi) ** 0.5, (dy**2 + dx**2).sqrt()
    else:
        r, d = area**0.5 / 2, torch.maximum(dy.abs(), dx.abs())
    return (r - d + 0.5).clamp(0, 1)


def test_shape_drift_sees_a_change_of_shape_that_mass_cannot():
    from readingroom.video.metrics import shape_drift

    area = 64.0
    steady = torch.stack([_disk_or_square("disk", 10 + t, 12 + 0.7 * t, area) for t in range(6)])
    swapping = torch.stack([_disk_or_square("disk" if t % 2 else "square", 10 + t, 12 + 0.7 * t,
                                            area) for t in range(6)])
    videos = torch.stack([steady, swapping])[:, None]  # [2, 1, 6, 32, 32]
    drift = mass_drift(videos)
    shape = shape_drift(videos)
    assert float(drift.max()) < 0.02                  # the same mass in every frame, both videos
    # a disk that turns into a square of the same area every other frame: 0.093 (steady: 0.025)
    assert float(shape[1]) > 0.06 and float(shape[1]) > 3 * float(shape[0])


def test_shape_drift_real_vs_controls():
    from readingroom.video.metrics import shape_drift

    batch = make_videos(128, VideoSpec(9, 32, 32), seed=0)
    gen = torch.Generator().manual_seed(1)
    real = float(shape_drift(batch.videos).median())
    assert real < 0.04
    assert float(shape_drift(frame_shuffled(batch.videos, gen)).median()) == pytest.approx(real, abs=1e-5)
    assert float(shape_drift(frame_mixed(batch.videos, gen)).median()) > 5 * real
    empty = torch.zeros(1, 1, 3, 16, 16)
    assert shape_drift(empty).isinf().all()
