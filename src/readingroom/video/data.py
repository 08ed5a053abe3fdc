"""Toy videos generated in place: one bouncing shape per clip, its motion class as the "prompt".

Sora is trained on captioned videos; at toy scale the caption is one of four motion classes
(:data:`MOTIONS`) and the video is a single greyscale shape (:data:`SHAPES`) moving at constant
speed and bouncing off the walls. Every property a "world simulator" should keep is known exactly
here: the true centre of the object in every frame, its speed per axis, its mass (area).

Coordinates are continuous ``(y, x)`` with the frame spanning ``[0, H] x [0, W]``; pixel
``(i, j)`` covers ``[i, i + 1] x [j, j + 1]`` and its centre is ``(i + 0.5, j + 0.5)``. The shape of
radius (half-width) ``r`` is drawn anti-aliased, so a sub-pixel move changes the pixels:

.. math::

    v_{ij} = \\mathrm{clamp}(r - d(p_{ij} - c) + 0.5,\\; 0,\\; 1),

where ``c`` is the centre, ``p_ij`` the pixel centre and ``d`` the Euclidean norm (disk), the
max-norm (square) or the L1 norm (diamond). The centre stays in ``[r, H - r] x [r, W - r]``;
a step that would leave that box is reflected about the wall and that velocity component flips
sign, so the speed on each axis never changes. The reflected trajectory is computed in closed form
(a triangle wave of the unfolded straight-line motion), which equals step-by-step reflection.

A motion class names an *axis* of motion, which every bounce keeps: a horizontal mover stays
horizontal, a vertical one vertical, and a diagonal one diagonal (a bounce off one wall flips one
component, turning the motion onto the other diagonal; which diagonal is therefore not a class).

Two controls break what real videos keep: :func:`frame_shuffled` permutes each video's frames
(same object and mass, no trajectory) and :func:`frame_mixed` takes every frame from another video
of the batch (no object permanence: the shape, size and mass jump).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from readingroom.common.checks import check_int
from readingroom.common.seed import make_generator

__all__ = [
    "MOTIONS",
    "SHAPES",
    "SPEED_RANGE",
    "VideoSpec",
    "VideoBatch",
    "radius_range",
    "make_videos",
    "frame_shuffled",
    "frame_mixed",
]

#: The motion classes; a class id is the index. They play the role of Sora's text prompt.
MOTIONS: tuple[str, ...] = ("horizontal", "vertical", "diagonal", "still")

#: The shapes, drawn uniformly; ``VideoBatch.shapes`` holds the index.
SHAPES: tuple[str, ...] = ("square", "disk", "diamond")

#: Speed ``s`` in pixels per frame, drawn uniformly from this range (for every moving class).
SPEED_RANGE: tuple[float, float] = (1.0, 2.5)

_DIAG = 1.0 / math.sqrt(2.0)
# Unit direction (y, x) of each motion class; the sign is drawn per video. Rows follow MOTIONS.
_DIRECTIONS = torch.tensor(
    [
        [0.0, 1.0],  # horizontal: (0, +-s)
        [1.0, 0.0],  # vertical: (+-s, 0)
        [_DIAG, _DIAG],  # diagonal: (+-a, +-a), the two signs drawn independently
        [0.0, 0.0],  # still
    ]
)


@dataclass(frozen=True)
class VideoSpec:
    """Size of the videos to generate: ``frames`` (T), ``height`` (H) and ``width`` (W) in pixels.
    """

    frames: int
    height: int
    width: int

    def __post_init__(self) -> None:
        check_int(self.frames, "frames", minimum=1)
        check_int(self.height, "height", minimum=8)
        check_int(self.width, "width", minimum=8)


@dataclass
class VideoBatch:
    """A batch of generated videos and the ground truth behind them.

    Attributes:
        videos: float32 ``[N, 1, T, H, W]`` in ``[0, 1]``; the object is 1, the background 0.
        labels: long ``[N]``, the motion class (index into :data:`MOTIONS`).
        centres: float32 ``[N, T, 2]``, the true ``(y, x)`` centre in every frame (pixel centres
            at ``i + 0.5``, the convention of :func:`readingroom.video.metrics.centroids`).
        shapes: long ``[N]``, index into :data:`SHAPES`.
        radii: float32 ``[N]``, the radius (half-width) ``r`` in pixels.
    """

    videos: torch.Tensor
    labels: torch.Tensor
    centres: torch.Tensor
    shapes: torch.Tensor
    radii: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def radius_range(spec: VideoSpec) -> tuple[float, float]:
    """``(r_min, r_max)``: the radius is uniform in ``[max(2.5, 0.12 m), max(3.5, 0.2 m)]``,
    ``m = min(H, W)``."""
    m = min(spec.height, spec.width)
    return max(2.5, 0.12 * m), max(3.5, 0.2 * m)


def _resolve_generator(seed: object, generator: object) -> torch.Generator:
    """Exactly one of ``seed``/``generator``: return the generator to draw from."""
    if (seed is None) == (generator is None):
        raise ValueError("pass exactly one of seed or generator")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU generator, got one on {generator.device}")
        return generator
    return make_generator(seed)  # type: ignore[arg-type]  # it checks the seed


def _motion_ids(motions: object, n: int) -> torch.Tensor:
    """Check ``motions`` (a sequence or tensor of ``n`` class ids) and return it as long ``[n]``."""
    if isinstance(motions, torch.Tensor):
        if motions.dtype.is_floating_point or motions.dtype.is_complex or motions.dtype == torch.bool:
            raise TypeError(f"motions must hold integer class ids, got dtype {motions.dtype}")
        ids = motions.detach().to("cpu", torch.long).reshape(-1)
        if motions.dim() != 1:
            raise ValueError(f"motions must be 1-D [n], got shape {tuple(motions.shape)}")
    elif isinstance(motions, Sequence) and not isinstance(motions, (str, bytes)):
        if not all(isinstance(m, int) and not isinstance(m, bool) for m in motions):
            raise TypeError("motions must be a sequence of int class ids")
        ids = torch.tensor(list(motions), dtype=torch.long)
    else:
        raise TypeError(
            f"motions must be None, a sequence of ints or a tensor, got {type(motions).__name__}"
        )
    if ids.numel() != n:
        raise ValueError(f"motions must hold n={n} class ids, got {ids.numel()}")
    if n and (int(ids.min()) < 0 or int(ids.max()) >= len(MOTIONS)):
        raise ValueError(
            f"motions must be class ids in [0, {len(MOTIONS)}), "
            f"got values in [{int(ids.min())}, {int(ids.max())}]"
        )
    return ids


def _bounce(start: torch.Tensor, velocity: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
            frames: int) -> torch.Tensor:
    """Positions ``[N, T, 2]`` of points starting at ``start`` ``[N, 2]`` with ``velocity``
    ``[N, 2]``, reflected off the walls ``lo``/``hi`` (``[N, 2]``) at every crossing.

    Unfold the box into a line: the straight motion ``u = start - lo + v t`` folded with period
    ``2 L`` (``L = hi - lo``) is a triangle wave, which is exactly repeated reflection.
    """
    t = torch.arange(frames, dtype=torch.float64)[None, :, None]  # [1, T, 1]
    length = (hi - lo).double()[:, None, :]  # [N, 1, 2]
    u = (start - lo).double()[:, None, :] + velocity.double()[:, None, :] * t  # [N, T, 2]
    m = torch.remainder(u, 2.0 * length)  # [N, T, 2] in [0, 2L)
    folded = torch.where(m <= length, m, 2.0 * length - m)  # [N, T, 2] in [0, L]
    return (lo.double()[:, None, :] + folded).float()


def _render(centres: torch.Tensor, shapes: torch.Tensor, radii: torch.Tensor, height: int,
            width: int) -> torch.Tensor:
    """Anti-aliased frames ``[N, T, H, W]`` of each shape at ``centres`` ``[N, T, 2]``."""
    py = torch.arange(height, dtype=torch.float32) + 0.5  # [H] pixel centres
    px = torch.arange(width, dtype=torch.float32) + 0.5  # [W]
    dy = (py[None, None, :] - centres[..., 0:1]).abs()[..., :, None]  # [N, T, H, 1]
    dx = (px[None, None, :] - centres[..., 1:2]).abs()[..., None, :]  # [N, T, 1, W]
    kind = shapes[:, None, None, None]  # [N, 1, 1, 1]
    dist = torch.where(
        kind == SHAPES.index("square"),
        torch.maximum(dy, dx),
        torch.where(kind == SHAPES.index("disk"), torch.sqrt(dy * dy + dx * dx), dy + dx),
    )  # [N, T, H, W]
    return (radii[:, None, None, None] - dist + 0.5).clamp(0.0, 1.0)


def make_videos(n: int, spec: VideoSpec, *, seed: int | None = None,
                generator: torch.Generator | None = None,
                motions: Sequence[int] | torch.Tensor | None = None) -> VideoBatch:
    """Generate ``n`` videos of one bouncing shape each (see the module docstring for the rules).

    Per video: motion class (uniform, unless ``motions`` fixes it), shape (uniform over
    :data:`SHAPES`), radius (uniform in :func:`radius_range`), speed (uniform in
    :data:`SPEED_RANGE`), direction sign (+-1, fair coin) and start centre (uniform in
    ``[r, H - r] x [r, W - r]``).

    Args:
        n: number of videos, a positive int.
        spec: the :class:`VideoSpec` (frames, height, width).
        seed: seed of a fresh private generator; or
        generator: a CPU :class:`torch.Generator` to draw from (advanced). Exactly one is given.
        motions: ``None`` to draw classes uniformly, else ``n`` class ids in ``[0, 4)``.

    Returns:
        A :class:`VideoBatch` with ``videos`` float32 ``[n, 1, T, H, W]``. The same seed gives the
        same batch.
    """
    n = check_int(n, "n", minimum=1)
    if not isinstance(spec, VideoSpec):
        raise TypeError(f"spec must be a VideoSpec, got {type(spec).__name__}")
    g = _resolve_generator(seed, generator)
    fixed = None if motions is None else _motion_ids(motions, n)

    T, H, W = spec.frames, spec.height, spec.width
    r_min, r_max = radius_range(spec)
    # The draws happen in one fixed order, so a seed pins down the whole batch.
    drawn = torch.randint(0, len(MOTIONS), (n,), generator=g)  # [N]
    labels = drawn if fixed is None else fixed
    shapes = torch.randint(0, len(SHAPES), (n,), generator=g)  # [N]
    radii = r_min + (r_max - r_min) * torch.rand(n, generator=g)  # [N]
    speed = SPEED_RANGE[0] + (SPEED_RANGE[1] - SPEED_RANGE[0]) * torch.rand(n, generator=g)  # [N]
    sign = torch.randint(0, 2, (n, 2), generator=g).float() * 2.0 - 1.0  # [N, 2] per axis
    lo = radii[:, None].expand(n, 2)  # [N, 2]
    hi = torch.stack([H - radii, W - radii], dim=1)  # [N, 2]
    start = lo + (hi - lo) * torch.rand(n, 2, generator=g)  # [N, 2]

    velocity = speed[:, None] * sign * _DIRECTIONS[labels]  # [N, 2] (y, x) px/frame
    centres = _bounce(start, velocity, lo, hi, T)  # [N, T, 2]
    frames = _render(centres, shapes, radii, H, W)  # [N, T, H, W]
    return VideoBatch(
        videos=frames[:, None].contiguous(),  # [N, 1, T, H, W]
        labels=labels.clone(),
        centres=centres,
        shapes=shapes,
        radii=radii,
    )


def _check_videos(videos: object, name: str = "videos") -> torch.Tensor:
    if not isinstance(videos, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(videos).__name__}")
    if not videos.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got {videos.dtype}")
    if videos.dim() != 5 or videos.shape[1] != 1:
        raise ValueError(f"{name} must have shape [N, 1, T, H, W], got {tuple(videos.shape)}")
    return videos


def _check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def frame_shuffled(videos: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Control: each video's frames in an independent random order.

    The object, its shape and its mass are unchanged in every frame; the trajectory is broken
    (speeds jump from frame to frame). ``videos`` is ``[N, 1, T, H, W]``; returns a new tensor of
    the same shape.
    """
    videos = _check_videos(videos)
    generator = _check_generator(generator)
    N, _, T, H, W = videos.shape
    order = torch.rand(N, T, generator=generator, device=generator.device).argsort(dim=1)
    index = order.to(videos.device)[:, None, :, None, None].expand(N, 1, T, H, W)
    return videos.gather(2, index)


def frame_mixed(videos: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Control: frame ``t`` of output video ``i`` is frame ``t`` of a random other video ``j != i``.

    Every frame still shows one object, but its shape, size and mass jump from frame to frame:
    object permanence and mass conservation are broken. ``videos`` is ``[N, 1, T, H, W]`` with
    ``N >= 2``; returns a new tensor of the same shape.
    """
    videos = _check_videos(videos)
    generator = _check_generator(generator)
    N, _, T, H, W = videos.shape
    if N < 2:
        raise ValueError(f"videos must hold at least 2 videos to mix frames, got N={N}")
    shift = torch.randint(1, N, (N, T), generator=generator, device=generator.device)
    source = (torch.arange(N, device=shift.device)[:, None] + shift) % N  # [N, T], never i
    source = source.to(videos.device)
    t = torch.arange(T, device=videos.device)[None, :].expand(N, T)
    return videos[:, 0][source, t][:, None]  # [N, 1, T, H, W]
