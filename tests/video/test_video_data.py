"""Tests of readingroom.video.data: the bouncing-shape videos and their controls."""

from __future__ import annotations

import math
import time

import pytest
import torch

from readingroom.video.data import (
    MOTIONS, SHAPES, SPEED_RANGE, VideoBatch, VideoSpec, frame_mixed, frame_shuffled, make_videos,
    radius_range,
)

SPEC = VideoSpec(9, 32, 32)


@pytest.fixture(scope="module")
def batch() -> VideoBatch:
    return make_videos(256, SPEC, seed=0)


def test_shapes_and_dtypes(batch):
    assert batch.videos.shape == (256, 1, 9, 32, 32) and batch.videos.dtype == torch.float32
    assert batch.labels.shape == (256,) and batch.labels.dtype == torch.long
    assert batch.centres.shape == (256, 9, 2) and batch.centres.dtype.is_floating_point
    assert batch.shapes.shape == (256,) and batch.shapes.dtype == torch.long
    assert batch.radii.shape == (256,) and len(batch) == 256
    assert 0.0 <= float(batch.videos.min()) and float(batch.videos.max()) == 1.0
    assert set(batch.labels.tolist()) == set(range(len(MOTIONS)))
    assert set(batch.shapes.tolist()) == set(range(len(SHAPES)))
    r_min, r_max = radius_range(SPEC)
    assert bool(((batch.radii >= r_min) & (batch.radii <= r_max)).all())


def test_deterministic_by_seed(batch):
    again = make_videos(256, SPEC, seed=0)
    assert torch.equal(again.videos, batch.videos) and torch.equal(again.centres, batch.centres)
    other = make_videos(256, SPEC, seed=1)
    assert not torch.equal(other.videos, batch.videos)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(make_videos(8, SPEC, generator=g1).videos,
                       make_videos(8, SPEC, generator=g2).videos)


def test_fixed_motions():
    wanted = [3, 2, 1, 0, 0, 3]
    b = make_videos(6, SPEC, seed=3, motions=wanted)
    assert b.labels.tolist() == wanted
    assert make_videos(6, SPEC, seed=3, motions=torch.tensor(wanted)).labels.tolist() == wanted


def test_bounce_stays_inside_and_keeps_speed_per_axis(batch):
    c, r = batch.centres, batch.radii[:, None]  # [N, T, 2], [N, 1]
    eps = 1e-4
    assert bool((c[..., 0] >= r - eps).all() and (c[..., 0] <= SPEC.height - r + eps).all())
    assert bool((c[..., 1] >= r - eps).all() and (c[..., 1] <= SPEC.width - r + eps).all())
    # the straight steps (no bounce) of each video all have the same per-axis speed, the video's
    # speed; a bounce step is shorter on the reflected axis, never longer.
    step = (c[:, 1:] - c[:, :-1]).abs()  # [N, T-1, 2]
    top = step.amax(dim=1, keepdim=True)  # [N, 1, 2]
    assert bool((step <= top + 1e-4).all())
    straight = (step - top).abs() < 1e-4
    assert straight.float().mean() > 0.8
    bounced = 0
    for n in range(c.shape[0]):  # some videos do bounce: check one reflection exactly
        for t in range(c.shape[1] - 1):
            for a, size in ((0, SPEC.height), (1, SPEC.width)):
                if step[n, t, a] < top[n, 0, a] - 1e-3:
                    lo, hi = float(r[n, 0]), size - float(r[n, 0])
                    v = float(top[n, 0, a])
                    x0, x1 = float(c[n, t, a]), float(c[n, t + 1, a])
                    # reflected about the wall it hit: distance travelled is still v
                    assert min(abs((x0 - lo) + (x1 - lo)), abs((hi - x0) + (hi - x1))) \
                        == pytest.approx(v, abs=1e-3)
                    bounced += 1
    assert bounced > 10


def test_speeds_in_range_and_motion_axes(batch):
    step = batch.centres[:, 1:] - batch.centres[:, :-1]  # [N, T-1, 2]
    top = step.abs().amax(dim=1)  # [N, 2]: per-axis speed
    speed = top.norm(dim=1)  # [N]
    lab = batch.labels
    still = lab == MOTIONS.index("still")
    assert float(speed[still].max()) == 0.0
    moving = speed[~still]
    assert SPEED_RANGE[0] - 1e-4 <= float(moving.min()) and float(moving.max()) <= SPEED_RANGE[1] + 1e-4
    hor, ver = lab == MOTIONS.index("horizontal"), lab == MOTIONS.index("vertical")
    assert float(top[hor, 0].max()) == 0.0 and float(top[hor, 1].min()) >= 1.0 - 1e-4
    assert float(top[ver, 1].max()) == 0.0 and float(top[ver, 0].min()) >= 1.0 - 1e-4
    # diagonals: equal speed on both axes, every step (a bounce flips one sign, not the speed);
    # both diagonals occur
    diag = lab == MOTIONS.index("diagonal")
    assert torch.allclose(top[diag, 0], top[diag, 1], atol=1e-4)
    first = step[diag, 0]
    assert set(torch.sign(first[:, 0] * first[:, 1]).tolist()) == {-1.0, 1.0}


def test_rendered_centroid_matches_true_centre(batch):
    x = batch.videos[:, 0]  # [N, T, H, W]
    pos = torch.arange(32) + 0.5
    mass = x.sum(dim=(-2, -1))
    cy = (x.sum(-1) * pos).sum(-1) / mass
    cx = (x.sum(-2) * pos).sum(-1) / mass
    assert float((cy - batch.centres[..., 0]).abs().max()) < 0.05
    assert float((cx - batch.centres[..., 1]).abs().max()) < 0.05
    # mass is the shape's area (anti-aliasing keeps it to within ~1%)
    r = batch.radii[:, None]
    area = torch.stack([(2 * r) ** 2, math.pi * r**2, 2 * r**2])  # square, disk, diamond
    expected = area.gather(0, batch.shapes[None, :, None]).squeeze(0)  # [N, 1]
    assert float(((mass - expected).abs() / expected).max()) < 0.05


def test_speed():
    make_videos(8, SPEC, seed=0)  # warm up
    start = time.perf_counter()
    make_videos(256, SPEC, seed=1)
    assert time.perf_counter() - start < 1.0


def test_controls(batch):
    g = torch.Generator().manual_seed(0)
    shuffled = frame_shuffled(batch.videos, g)
    assert shuffled.shape == batch.videos.shape
    # same frames per video, in another order
    assert torch.allclose(shuffled.sum(dim=(2, 3, 4)), batch.videos.sum(dim=(2, 3, 4)), atol=1e-3)
    assert not torch.equal(shuffled, batch.videos)
    mixed = frame_mixed(batch.videos, g)
    assert mixed.shape == batch.videos.shape
    # frame t of video i is frame t of some other video j
    for i in (0, 7, 100):
        for t in (0, 4, 8):
            frame = mixed[i, 0, t]
            hits = [j for j in range(256) if torch.equal(batch.videos[j, 0, t], frame)]
            assert hits and i not in hits
    assert torch.equal(frame_shuffled(batch.videos, torch.Generator().manual_seed(3)),
                       frame_shuffled(batch.videos, torch.Generator().manual_seed(3)))
