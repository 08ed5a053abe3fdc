"""Showing videos: the notebook animation, the filmstrip and the GIF."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.animation import FuncAnimation
from PIL import Image

from readingroom.video.plots import animate_rows, filmstrip, save_gif


def _videos(n=2, T=4, H=8, W=8, seed=0):
    return torch.rand(n, 1, T, H, W, generator=torch.Generator().manual_seed(seed))


def test_animate_rows():
    anim = animate_rows({"real": _videos(3), "generated": _videos(2, seed=1)[:, 0]})
    assert isinstance(anim, FuncAnimation)
    html = anim.to_jshtml()
    assert "animation" in html.lower()
    axes = anim._fig.axes
    assert len(axes) == 2 * 3                               # rows x widest row
    assert axes[0].get_ylabel() == "real" and axes[3].get_ylabel() == "generated"


def test_filmstrip():
    ax = filmstrip(_videos(2, T=3, H=8, W=6), gap=1)
    image = ax.get_images()[0].get_array()
    assert image.shape == (2 * 9 - 1, 3 * 7 - 1)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    fig, given = plt.subplots()
    assert filmstrip(_videos(1)[:, 0], ax=given) is given   # [n, T, H, W] accepted
    plt.close("all")


def test_save_gif(tmp_path):
    path = save_gif(_videos(3, T=5, H=8, W=6), tmp_path / "sub" / "x.gif", scale=2)
    assert path == tmp_path / "sub" / "x.gif" and path.is_file()
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.size == (3 * (6 + 2) * 2, (8 + 2) * 2)


def test_animation_html_asks_for_nothing_outside_the_page():
    from readingroom.video.plots import animation_html

    html = animation_html(animate_rows({"a": torch.rand(2, 1, 3, 8, 8)}))
    assert "maxcdn" not in html and "font-awesome" not in html and '<i class="fa' not in html
    assert 'title="Next frame"' in html and "data:image/png;base64," in html
