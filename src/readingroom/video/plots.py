"""Showing videos: an animation for the HTML book, a GIF for the command line, a filmstrip for
print."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

__all__ = ["animate_rows", "animation_html", "filmstrip", "save_gif"]

# matplotlib's player draws its buttons with Font Awesome icons fetched from a CDN; the book is read
# offline, so the stylesheet goes and each icon becomes a plain character.
_ICONS = {
    "fa fa-play fa-flip-horizontal": "\u25c0",   # play backwards
    "fa fa-fast-backward": "\u00ab", "fa fa-step-backward": "\u2039",
    "fa fa-pause": "\u275a\u275a", "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u203a", "fa fa-fast-forward": "\u00bb",
    "fa fa-minus": "\u2212", "fa fa-plus": "+",
}


def _frames(videos: torch.Tensor) -> np.ndarray:
    """``[n, 1, T, H, W]`` or ``[n, T, H, W]`` in [0, 1] to a numpy ``[n, T, H, W]``."""
    if not isinstance(videos, torch.Tensor) or videos.dim() not in (4, 5):
        raise ValueError("videos must be a tensor [n, 1, T, H, W] or [n, T, H, W]")
    if videos.dim() == 5:
        if videos.shape[1] != 1:
            raise ValueError(f"videos must have one channel, got {videos.shape[1]}")
        videos = videos[:, 0]
    return videos.detach().float().clamp(0, 1).cpu().numpy()


def animate_rows(rows: Mapping[str, torch.Tensor], *, interval_ms: int = 160,
                 scale: float = 0.9):
    """One animation with a row of videos per entry of ``rows`` (label -> videos): returns
    matplotlib's ``FuncAnimation``; display ``anim.to_jshtml()`` in a notebook. All videos must
    have the same number of frames."""
    import matplotlib.pyplot as plt
    from matplotlib import animation

    if not rows:
        raise ValueError("rows must hold at least one label -> videos entry")
    data = {label: _frames(v) for label, v in rows.items()}
    frames = {a.shape[1] for a in data.values()}
    if len(frames) != 1:
        raise ValueError(f"every row must have the same number of frames, got {sorted(frames)}")
    n_frames = frames.pop()
    n_cols = max(a.shape[0] for a in data.values())
    fig, axes = plt.subplots(len(data), n_cols, figsize=(scale * n_cols, scale * len(data) + 0.3),
                             squeeze=False)
    images = []
    for r, (label, arr) in enumerate(data.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < arr.shape[0]:
                images.append((ax.imshow(arr[c, 0], cmap="gray", vmin=0, vmax=1), arr[c]))
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout(pad=0.2)

    def update(t: int):
        for image, video in images:
            image.set_data(video[t])
        return [im for im, _ in images]

    anim = animation.FuncAnimation(fig, update, frames=n_frames, interval=interval_ms, blit=True)
    plt.close(fig)
    return anim


def animation_html(anim) -> str:
    """``anim.to_jshtml()`` made self-contained: no request leaves the page (the player's icon
    stylesheet from a CDN is dropped and its icons become characters)."""
    import re

    html = re.sub(r'<link rel="stylesheet"\s*href="https?://[^"]*font-awesome[^"]*">', "",
                  anim.to_jshtml())
    for cls, char in _ICONS.items():
        html = html.replace(f'<i class="{cls}"></i>', char)
    if "<i class=\"fa " in html or "://maxcdn" in html:
        raise RuntimeError("matplotlib's animation player changed: update animation_html")
    return html


def filmstrip(videos: torch.Tensor, *, ax=None, gap: int = 1):
    """Each video as a row of its frames side by side (a static picture of motion)."""
    import matplotlib.pyplot as plt

    arr = _frames(videos)
    n, T, H, W = arr.shape
    canvas = np.full((n * (H + gap) - gap, T * (W + gap) - gap), 0.35)
    for i in range(n):
        for t in range(T):
            canvas[i * (H + gap):i * (H + gap) + H, t * (W + gap):t * (W + gap) + W] = arr[i, t]
    if ax is None:
        _, ax = plt.subplots(figsize=(T * 0.6, n * 0.6 + 0.2))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([(W + gap) * t + W / 2 for t in range(T)], [str(t) for t in range(T)])
    ax.set_yticks([])
    ax.set_xlabel("frame")
    return ax


def save_gif(videos: torch.Tensor, path: str | Path, *, scale: int = 4,
             duration_ms: int = 120) -> Path:
    """Write the videos side by side as an animated GIF (nearest-neighbour upscaled)."""
    from PIL import Image

    arr = _frames(videos)
    n, T, H, W = arr.shape
    frames = []
    for t in range(T):
        row = np.concatenate([np.pad(arr[i, t], 1, constant_values=0.35) for i in range(n)], 1)
        img = Image.fromarray((row * 255).astype(np.uint8))
        frames.append(img.resize((img.width * scale, img.height * scale), Image.NEAREST))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return path
