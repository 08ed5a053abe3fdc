"""A small judge of "does the generated motion match the prompt": a 3D-conv motion classifier.

Sora is evaluated partly on whether its videos follow the prompt. At toy scale the prompt is a
motion class (:data:`~readingroom.video.data.MOTIONS`), and a classifier trained on real videos
plays the judge: the fraction of generated videos it assigns to the prompted class is the
generator's "prompt following" score. It only ever sees real data here, so its accuracy on held-out
real videos (>= 0.95) is the ceiling any generator can reach.

The network sees each frame ``x_t`` (``t >= 1``) stacked with the frame difference
``x_t - x_{t-1}``: the difference makes the moving edges explicit, so even the slowest motion
(1 px/frame) is far from "still". Strided convolutions, an average pool over space and then over
time make it work for any ``T >= 2`` and ``H, W >= 8``. The head sees the first step on its own
next to the mean over steps.

With the defaults, 250 steps (~10 s on one CPU thread) reach 0.97-0.98 held-out accuracy on
``VideoSpec(9, 32, 32)`` (seeds 0-3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_device, check_int
from readingroom.common.seed import make_generator
from readingroom.common.train import TrainHistory, eval_mode, train
from readingroom.video.data import MOTIONS, VideoBatch, VideoSpec, make_videos

__all__ = [
    "DEFAULT_SPECS",
    "MotionClassifier",
    "train_classifier",
    "classify",
    "accuracy",
]

#: The sizes :func:`train_classifier` cycles through by default: square and wide frames, short and
#: long clips, so the judge does not depend on one resolution or duration.
DEFAULT_SPECS: tuple[VideoSpec, ...] = (
    VideoSpec(9, 32, 32),
    VideoSpec(9, 24, 40),
    VideoSpec(5, 32, 32),
    VideoSpec(13, 16, 32),
)


class MotionClassifier(nn.Module):
    """3D-conv classifier: videos ``[N, 1, T, H, W]`` (``T >= 2``, ``H, W >= 8``) -> logits
    ``[N, len(MOTIONS)]``.

    Input channels are the frame and its difference with the previous frame (``[N, 2, T-1, H, W]``);
    a ``3x3x3`` convolution and two ``1x3x3`` ones, each halving height and width, with GELU; an
    average pool over space gives one vector per step, a per-step linear layer with GELU mixes it,
    and the head reads the first step's vector next to the mean over steps. ~29k parameters at
    ``width=16``.

    Args:
        width: channels of the first convolution (doubled in the second and third).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        width = check_int(width, "width", minimum=1)
        c1, c2, c3 = width, 2 * width, 4 * width
        # Only the first convolution mixes frames (3 in time); the later ones are spatial (1x3x3).
        self.conv1 = nn.Conv3d(2, c1, 3, stride=(1, 2, 2), padding=1)
        self.conv2 = nn.Conv3d(c1, c2, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.conv3 = nn.Conv3d(c2, c3, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.mix = nn.Linear(c3, c3)
        self.head = nn.Linear(2 * c3, len(MOTIONS))

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        if not isinstance(videos, torch.Tensor):
            raise TypeError(f"videos must be a torch.Tensor, got {type(videos).__name__}")
        if videos.dim() != 5 or videos.shape[1] != 1:
            raise ValueError(f"videos must have shape [N, 1, T, H, W], got {tuple(videos.shape)}")
        if videos.shape[2] < 2:
            raise ValueError(f"videos must have at least 2 frames, got T={videos.shape[2]}")
        if videos.shape[3] < 8 or videos.shape[4] < 8:
            raise ValueError(f"videos must be at least 8x8 pixels, got {tuple(videos.shape[3:])}")
        x = videos.float()
        h = torch.cat([x[:, :, 1:], x[:, :, 1:] - x[:, :, :-1]], dim=1)  # [N, 2, T-1, H, W]
        h = F.gelu(self.conv1(h))  # [N, c1, T-1, H/2, W/2]
        h = F.gelu(self.conv2(h))  # [N, c2, T-1, H/4, W/4]
        h = F.gelu(self.conv3(h))  # [N, c3, T-1, H/8, W/8]
        h = h.mean(dim=(3, 4)).transpose(1, 2)  # [N, T-1, c3]: spatial pool, one vector a step
        h = F.gelu(self.mix(h))  # [N, T-1, c3]
        # the first step on its own, and the mean over steps (the evidence of the whole clip)
        return self.head(torch.cat([h[:, 0], h.mean(dim=1)], dim=-1))  # [N, len(MOTIONS)]


def _check_specs(specs: object) -> tuple[VideoSpec, ...]:
    if specs is None:
        return DEFAULT_SPECS
    if isinstance(specs, VideoSpec):
        return (specs,)
    if not isinstance(specs, Sequence) or isinstance(specs, (str, bytes)):
        raise TypeError(f"specs must be None or a sequence of VideoSpec, got {type(specs).__name__}")
    if not specs:
        raise ValueError("specs must hold at least one VideoSpec")
    for s in specs:
        if not isinstance(s, VideoSpec):
            raise TypeError(f"specs must hold VideoSpec objects, got {type(s).__name__}")
        if s.frames < 2:
            raise ValueError(f"specs must have frames >= 2 (motion needs two frames), got {s}")
    return tuple(specs)


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def train_classifier(*, steps: int, seed: int, device: str | torch.device = "cpu",
                     specs: Sequence[VideoSpec] | None = None, batch: int = 32, lr: float = 1e-2,
                     width: int = 16, progress: bool = True
                     ) -> tuple[MotionClassifier, TrainHistory]:
    """Train a :class:`MotionClassifier` on fresh real videos and return ``(model, history)``.

    Step ``s`` draws ``batch`` new videos of ``specs[s % len(specs)]`` (its own seed, derived from
    ``seed`` and ``s``, so the run is repeatable); the loss is cross-entropy against the motion
    class. Uses :func:`readingroom.common.train` (AdamW, 5% warmup, cosine decay, clipping).

    Args:
        steps: number of updates, a positive int.
        seed: seeds the weights and the data.
        device: where the model trains (videos are generated on the CPU and moved).
        specs: the video sizes to cycle through (``None``: :data:`DEFAULT_SPECS`); ``frames >= 2``.
        batch: videos per step.
        lr: peak learning rate.
        width: the classifier's first-layer width (:class:`MotionClassifier`).
        progress: show a progress bar (see :func:`readingroom.common.progress_enabled`).

    Returns:
        The trained model (in eval mode) and the :class:`~readingroom.common.TrainHistory`.
    """
    steps = check_int(steps, "steps", minimum=1)
    batch = check_int(batch, "batch", minimum=1)
    specs = _check_specs(specs)
    g = make_generator(seed)  # also checks the seed
    device = check_device(device)

    step_seeds = torch.randint(0, 2**31 - 1, (steps,), generator=g).tolist()
    with torch.random.fork_rng(devices=[]):  # private weight init, global RNG untouched
        torch.manual_seed(seed)
        model = MotionClassifier(width=width)
    model = model.to(device)

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        data = make_videos(batch, specs[step % len(specs)], seed=step_seeds[step])
        return data.videos, data.labels

    warmup = min(math.ceil(0.05 * steps), steps - 1)  # 5% of the steps (none for one step)
    history = train(model, get_batch, steps=steps, lr=lr, warmup=warmup, loss_fn=_loss,
                    progress=progress, desc="motion classifier")
    model.eval()
    return model, history


def classify(model: nn.Module, videos: torch.Tensor, *, chunk: int = 256) -> torch.Tensor:
    """Predicted motion class of every video, long ``[N]`` (index into ``MOTIONS``).

    ``videos`` is ``[N, 1, T, H, W]``; it runs in eval mode without gradients, ``chunk`` videos at
    a time, on the model's device.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(videos, torch.Tensor):
        raise TypeError(f"videos must be a torch.Tensor, got {type(videos).__name__}")
    if not videos.dtype.is_floating_point:
        raise TypeError(f"videos must be a floating-point tensor, got {videos.dtype}")
    if videos.dim() != 5 or videos.shape[0] == 0:
        raise ValueError(f"videos must have shape [N, 1, T, H, W], N >= 1, got "
                         f"{tuple(videos.shape)}")
    chunk = check_int(chunk, "chunk", minimum=1)
    param = next(model.parameters(), None)
    device = param.device if param is not None else videos.device
    out = []
    with eval_mode(model), torch.no_grad():
        for part in videos.split(chunk):
            out.append(model(part.to(device)).argmax(dim=-1).cpu())
    return torch.cat(out)


def accuracy(model: nn.Module, batch: VideoBatch) -> float:
    """Fraction of ``batch.videos`` that :func:`classify` assigns to their true ``batch.labels``."""
    if not isinstance(batch, VideoBatch):
        raise TypeError(f"batch must be a VideoBatch, got {type(batch).__name__}")
    predicted = classify(model, batch.videos)
    return float((predicted == batch.labels.cpu()).float().mean())
