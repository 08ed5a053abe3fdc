"""Every bad input to readingroom.video's entry points is refused with a clear error naming it.

One table: ``(id, call, exception, match)``. The models are tiny and built inside the call, so a
row costs milliseconds; no row trains anything (the one ``train_vae`` row fails at its first
forward pass, the ``train_classifier`` rows before or at their first step).
"""

from __future__ import annotations

import torch

from readingroom.video.classifier import MotionClassifier, accuracy, classify, train_classifier
from readingroom.video.data import VideoSpec, frame_mixed, frame_shuffled, make_videos
from readingroom.video.dit import DiT, DiTConfig, block_kinds
from readingroom.video.flow import as_tokens, flow_loss, sample_flow
from readingroom.video.metrics import (
    centroids, mass_drift, masses, permanence, psnr, shape_drift, speed_jerk, world_metrics,
)
from readingroom.video.patch import attention_mask, pack, patchify, unpack, unpatchify
from readingroom.video.plots import animate_rows, filmstrip
from readingroom.video.train import (
    DitRecipe, fit_dit, generate, latent_batch, make_dit, sample_report,
)
from readingroom.video.vae import (
    CausalVAE, VAEConfig, decode_normalised, encode_normalised, latent_stats, train_vae, vae_loss,
)
from refusals import refusal_test

SPEC = VideoSpec(9, 32, 32)
STATS = (torch.zeros(4), torch.ones(4))


def _vae(width: int = 16) -> CausalVAE:
    torch.manual_seed(0)
    return CausalVAE(VAEConfig(width=width)).eval()


def _dit(token_dim: int = 16, d_model: int = 48, n_layers: int = 4, n_heads: int = 4) -> DiT:
    torch.manual_seed(0)
    return DiT(DiTConfig(token_dim=token_dim, n_classes=5, d_model=d_model, n_layers=n_layers,
                         n_heads=n_heads))


def _dit_inputs():
    """``tokens, coords, video, t, y`` of one packed 4 x 1 x 4 x 4 latent (8 tokens of 16)."""
    packed = pack([torch.randn(4, 1, 4, 4)], (1, 2, 2))
    n = packed.tokens.shape[0]
    gen = torch.Generator().manual_seed(1)
    return (packed.tokens, packed.coords, packed.video, torch.rand(n, generator=gen),
            torch.randint(0, 6, (n,), generator=gen))


def _call_dit(change):
    tokens, coords, video, t, y = change(*_dit_inputs())
    return _dit()(tokens, coords, video, t, y)


def _flow(call):
    """``call(model, x0, coords, video, y)`` on two rows of 12 tokens (4 x 3 x 2 x 2 latents)."""
    z = torch.randn(2, 4, 3, 2, 2)
    x0, coords, video = as_tokens(z, (1, 1, 1))
    return call(_dit(token_dim=4, d_model=12, n_layers=1, n_heads=2), x0, coords, video,
                torch.tensor([0, 1]))


def _generate(spec=VideoSpec(5, 16, 16), labels=(1, 2), first=None):
    return generate(make_dit("small"), _vae(8), STATS, spec, torch.tensor(labels), seed=0,
                    steps=1, first_frames=first)


def _normalisation(call):
    """``call(model, videos, z, mean, std)`` with the statistics of the model's latents."""
    model, videos = _vae(), torch.rand(2, 1, 5, 16, 16)
    mean, std = latent_stats(model, videos)
    z = encode_normalised(model, videos, (mean, std))
    return call(model, videos, z, mean, std)


V = torch.zeros(1, 1, 3, 8, 8)  # one video for the classifier's checks

# (videos, exception, match) that every metric of a batch of videos refuses
BAD_VIDEOS = [
    ("a list", [1.0], TypeError, "videos must be a torch.Tensor"),
    ("int64", torch.zeros(2, 3, 8, 8, dtype=torch.int64), TypeError, "floating"),
    ("3-D", torch.zeros(2, 8, 8), ValueError, "videos must be"),
    ("three channels", torch.zeros(2, 3, 3, 8, 8), ValueError, "one channel"),
    ("empty", torch.zeros(0, 3, 8, 8), ValueError, "empty"),
]
METRICS = [masses, centroids, speed_jerk, mass_drift, permanence, world_metrics]

# (x, exception, match) that the VAE's encoder refuses, through encode and through forward
BAD_VAE_INPUTS = [
    ("a list", [[0.0]], TypeError, "x must be a torch.Tensor"),
    ("long", torch.zeros(1, 1, 5, 16, 16, dtype=torch.long), TypeError, "floating-point"),
    ("float64", torch.zeros(1, 1, 5, 16, 16, dtype=torch.float64), TypeError, "model's dtype"),
    ("4-D", torch.zeros(1, 5, 16, 16), ValueError, r"5-D \[N, C, T, H, W\]"),
    ("three channels", torch.zeros(1, 3, 5, 16, 16), ValueError, "1 channels"),
    ("4 frames", torch.zeros(1, 1, 4, 16, 16), ValueError,
     r"frames must be 1 \+ 2 k.*nearest valid: 3 or 5"),
    ("height 18", torch.zeros(1, 1, 5, 18, 16), ValueError,
     "height must be a multiple of space_factor=4.*16 or 20"),
    ("width 2", torch.zeros(1, 1, 5, 16, 2), ValueError, "width must be a multiple.*nearest valid: 4"),
    ("no videos", torch.zeros(0, 1, 5, 16, 16), ValueError, "must not be empty"),
]

BAD_CONTROL_INPUTS = [
    ("a list", [[0.0]], torch.Generator(), TypeError, "videos must be a torch.Tensor"),
    ("long", torch.zeros(2, 1, 3, 8, 8, dtype=torch.long), torch.Generator(), TypeError,
     "floating"),
    ("4-D", torch.zeros(2, 3, 8, 8), torch.Generator(), ValueError, r"\[N, 1, T, H, W\]"),
    ("two channels", torch.zeros(2, 2, 3, 8, 8), torch.Generator(), ValueError,
     r"\[N, 1, T, H, W\]"),
    ("generator 0", torch.zeros(2, 1, 3, 8, 8), 0, TypeError, "generator"),
]

CASES = [
    # (id, call, exception, match)
    # -- data ----------------------------------------------------------------------------------
    ("VideoSpec: frames 0", lambda: VideoSpec(0, 8, 8), ValueError, "frames"),
    ("VideoSpec: height 7", lambda: VideoSpec(2, 7, 8), ValueError, "height"),
    ("VideoSpec: width 4", lambda: VideoSpec(2, 8, 4), ValueError, "width"),
    ("VideoSpec: frames 2.0", lambda: VideoSpec(2.0, 8, 8), TypeError, "frames"),
    ("VideoSpec: height '8'", lambda: VideoSpec(2, "8", 8), TypeError, "height"),
    ("make_videos: n 0", lambda: make_videos(0, SPEC, seed=0), ValueError, "n must"),
    ("make_videos: n 2.5", lambda: make_videos(2.5, SPEC, seed=0), TypeError, "n must"),
    ("make_videos: spec a tuple", lambda: make_videos(2, (9, 32, 32), seed=0), TypeError, "spec"),
    ("make_videos: neither seed nor generator", lambda: make_videos(2, SPEC), ValueError,
     "exactly one of seed or generator"),
    ("make_videos: seed and generator",
     lambda: make_videos(2, SPEC, seed=0, generator=torch.Generator()), ValueError, "exactly one"),
    ("make_videos: seed -1", lambda: make_videos(2, SPEC, seed=-1), ValueError, "seed"),
    ("make_videos: seed '0'", lambda: make_videos(2, SPEC, seed="0"), TypeError, "seed"),
    ("make_videos: generator 3", lambda: make_videos(2, SPEC, generator=3), TypeError,
     "generator"),
    ("make_videos: one motion for two videos", lambda: make_videos(2, SPEC, seed=0, motions=[0]),
     ValueError, "motions must hold n=2"),
    ("make_videos: motion 5", lambda: make_videos(2, SPEC, seed=0, motions=[0, 5]), ValueError,
     "motions must be class ids"),
    ("make_videos: motion -1", lambda: make_videos(2, SPEC, seed=0, motions=[0, -1]), ValueError,
     "motions must be class ids"),
    ("make_videos: float motions", lambda: make_videos(2, SPEC, seed=0, motions=[0.0, 1.0]),
     TypeError, "motions"),
    ("make_videos: float motions tensor",
     lambda: make_videos(2, SPEC, seed=0, motions=torch.tensor([0.0, 1.0])), TypeError, "motions"),
    ("make_videos: motions a str", lambda: make_videos(2, SPEC, seed=0, motions="ab"), TypeError,
     "motions"),
    *[(f"{fn.__name__}: {name}", lambda fn=fn, v=v, g=g: fn(v, g), exc, match)
      for fn in (frame_shuffled, frame_mixed) for name, v, g, exc, match in BAD_CONTROL_INPUTS],
    ("frame_mixed: one video", lambda: frame_mixed(torch.zeros(1, 1, 3, 8, 8), torch.Generator()),
     ValueError, "at least 2 videos"),
    # -- the VAE -------------------------------------------------------------------------------
    ("VAEConfig: channels 0", lambda: VAEConfig(channels=0), ValueError, "channels"),
    ("VAEConfig: latent_channels 2.0", lambda: VAEConfig(latent_channels=2.0), TypeError,
     "latent_channels"),
    ("VAEConfig: width -1", lambda: VAEConfig(width=-1), ValueError, "width"),
    ("VAEConfig: time_factor 3", lambda: VAEConfig(time_factor=3), ValueError,
     "time_factor must be one of 1, 2"),
    ("VAEConfig: time_factor True", lambda: VAEConfig(time_factor=True), TypeError, "time_factor"),
    ("VAEConfig: space_factor 16", lambda: VAEConfig(space_factor=16), ValueError,
     "space_factor must be one of 1, 2, 4, 8"),
    ("VAEConfig: space_factor 3", lambda: VAEConfig(space_factor=3), ValueError, "space_factor"),
    ("VAEConfig: kl_weight -1e-3", lambda: VAEConfig(kl_weight=-1e-3), ValueError, "kl_weight"),
    ("VAEConfig: kl_weight nan", lambda: VAEConfig(kl_weight=float("nan")), ValueError,
     "kl_weight"),
    ("VAEConfig: kl_weight '0.1'", lambda: VAEConfig(kl_weight="0.1"), TypeError, "kl_weight"),
    ("CausalVAE: config a dict", lambda: CausalVAE({"width": 8}), TypeError,
     "config must be a VAEConfig"),
    *[(f"CausalVAE.encode: {name}", lambda x=x: _vae().encode(x), exc, match)
      for name, x, exc, match in BAD_VAE_INPUTS],
    *[(f"CausalVAE forward: {name}", lambda x=x: _vae()(x), exc, match)
      for name, x, exc, match in BAD_VAE_INPUTS],
    ("CausalVAE.decode: 4-D z", lambda: _vae().decode(torch.zeros(1, 4, 3, 4)), ValueError,
     "z must be 5-D"),
    ("CausalVAE.decode: 8 channels", lambda: _vae().decode(torch.zeros(1, 8, 3, 4, 4)),
     ValueError, "4 channels"),
    ("CausalVAE.decode: int32 z", lambda: _vae().decode(torch.zeros(1, 4, 3, 4, 4,
                                                                    dtype=torch.int32)),
     TypeError, "floating-point"),
    ("latent_shape: 6 frames", lambda: _vae().latent_shape(6, 16, 16), ValueError,
     "frames must be"),
    ("latent_shape: 0 frames", lambda: _vae().latent_shape(0, 16, 16), ValueError, "frames"),
    ("latent_shape: width 10", lambda: _vae().latent_shape(5, 16, 10), ValueError,
     "width must be a multiple"),
    ("latent_shape: frames 5.0", lambda: _vae().latent_shape(5.0, 16, 16), TypeError,
     "frames must be an int"),
    ("vae_loss: x_hat of another shape",
     lambda: vae_loss(torch.zeros(2), torch.zeros(3), torch.zeros(1), torch.zeros(1), 0.1),
     ValueError, "x_hat"),
    ("vae_loss: logvar of another shape",
     lambda: vae_loss(torch.zeros(2), torch.zeros(2), torch.zeros(1), torch.zeros(2), 0.1),
     ValueError, "logvar"),
    ("vae_loss: kl_weight -1",
     lambda: vae_loss(torch.zeros(2), torch.zeros(2), torch.zeros(1), torch.zeros(1), -1.0),
     ValueError, "kl_weight"),
    ("vae_loss: x_hat None",
     lambda: vae_loss(torch.zeros(2), None, torch.zeros(1), torch.zeros(1), 0.1),
     TypeError, "x_hat"),
    ("encode_normalised: stats of 2 channels",
     lambda: _normalisation(lambda m, v, z, mean, std: encode_normalised(m, v, (mean[:2], std[:2]))),
     ValueError, "latent_channels=4"),
    ("decode_normalised: stats not a pair",
     lambda: _normalisation(lambda m, v, z, mean, std: decode_normalised(m, z, mean)),
     TypeError, "stats must be a pair"),
    ("latent_stats: model a Linear",
     lambda: latent_stats(torch.nn.Linear(2, 2), torch.zeros(2, 1, 5, 16, 16)),
     TypeError, "model must be a CausalVAE"),
    ("train_vae: model a Linear", lambda: train_vae(torch.nn.Linear(2, 2), lambda s: None, steps=1),
     TypeError, "model must be a CausalVAE"),
    ("train_vae: get_batch None", lambda: train_vae(_vae(), None, steps=1), TypeError,
     "get_batch must be callable"),
    ("train_vae: kl_weight -1",
     lambda: train_vae(_vae(), lambda s: torch.zeros(2, 1, 5, 16, 16), steps=1, kl_weight=-1.0),
     ValueError, "kl_weight"),
    ("train_vae: a batch of 4 frames",
     lambda: train_vae(_vae(), lambda s: torch.zeros(2, 1, 4, 16, 16), steps=1, progress=False),
     ValueError, "frames must be"),
    # -- patches -------------------------------------------------------------------------------
    ("patchify: H 7", lambda: patchify(torch.randn(4, 5, 7, 8), (1, 2, 2)), ValueError,
     "H = 7 is not divisible"),
    ("patchify: 3-D z", lambda: patchify(torch.randn(5, 8, 8), (1, 2, 2)), ValueError,
     "4-D tensor"),
    ("patchify: patch of two", lambda: patchify(torch.randn(4, 5, 8, 8), (1, 2)), ValueError,
     "three positive ints"),
    ("patchify: patch with 0", lambda: patchify(torch.randn(4, 5, 8, 8), (0, 2, 2)), ValueError,
     "three positive ints"),
    ("unpatchify: tokens of another shape",
     lambda: unpatchify(torch.randn(10, 16), (5, 4, 4), (1, 2, 2), 4), ValueError,
     "must have shape"),
    ("pack: no latents", lambda: pack([], (1, 2, 2)), ValueError, "non-empty list"),
    ("pack: channels differ",
     lambda: pack([torch.randn(4, 1, 8, 8), torch.randn(3, 1, 8, 8)], (1, 2, 2)), ValueError,
     "channels"),
    ("pack: W 9", lambda: pack([torch.randn(4, 1, 8, 9)], (1, 2, 2)), ValueError,
     r"latents\[0\]'s W = 9"),
    ("unpack: tokens of another shape",
     lambda: unpack(pack([torch.randn(4, 1, 8, 8)], (1, 2, 2)), torch.randn(3, 16)), ValueError,
     "packed shape"),
    ("attention_mask: kind 'diagonal'",
     lambda: attention_mask(torch.zeros(3, dtype=torch.long), torch.zeros(3, 3, dtype=torch.long),
                            "diagonal"), ValueError, "kind must be one of"),
    ("attention_mask: coords of another length",
     lambda: attention_mask(torch.zeros(3, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long),
                            "full"), ValueError, "coords must have shape"),
    # -- the DiT and rectified flow ------------------------------------------------------------
    ("DiTConfig: d_model 50, n_heads 4", lambda: DiTConfig(16, 5, d_model=50, n_heads=4),
     ValueError, "divisible by n_heads"),
    ("DiTConfig: attention 'sparse'", lambda: DiTConfig(16, 5, attention="sparse"), ValueError,
     "attention must be one of"),
    ("block_kinds: n_layers 0", lambda: block_kinds("factorised", 0), ValueError, "n_layers"),
    ("block_kinds: n_layers 2.0", lambda: block_kinds("full", 2.0), TypeError, "n_layers"),
    ("DiTConfig: n_layers 0", lambda: DiTConfig(16, 5, n_layers=0), ValueError,
     "n_layers must be a positive int"),
    ("DiT: config a dict", lambda: DiT({"token_dim": 16}), TypeError, "DiTConfig"),
    ("DiT forward: tokens of 8 numbers",
     lambda: _call_dit(lambda tok, c, v, t, y: (tok[:, :8], c, v, t, y)), ValueError,
     "tokens must be"),
    ("DiT forward: t of 2 tokens",
     lambda: _call_dit(lambda tok, c, v, t, y: (tok, c, v, t[:2], y)), ValueError,
     "t must have shape"),
    ("DiT forward: y beyond the null class",
     lambda: _call_dit(lambda tok, c, v, t, y: (tok, c, v, t, y + 10)), ValueError,
     r"y must lie in \[0, 5\]"),
    ("flow_loss: class_dropout 1",
     lambda: _flow(lambda m, x, c, v, y: flow_loss(m, x, c, v, y, class_dropout=1.0)),
     ValueError, "class_dropout"),
    ("flow_loss: cond_mask of another shape",
     lambda: _flow(lambda m, x, c, v, y: flow_loss(
         m, x, c, v, y, cond_mask=torch.ones(2, 3, dtype=torch.bool))),
     ValueError, "cond_mask must be a bool tensor"),
    ("sample_flow: steps 0", lambda: _flow(lambda m, x, c, v, y: sample_flow(m, c, v, y, steps=0)),
     ValueError, "steps must be a positive int"),
    ("sample_flow: context without cond_mask",
     lambda: _flow(lambda m, x, c, v, y: sample_flow(m, c, v, y, context=x)), ValueError,
     "both context and cond_mask"),
    ("as_tokens: 3-D tokens", lambda: _flow(lambda m, x, c, v, y: as_tokens(x, (1, 1, 1))),
     ValueError, "5-D tensor"),
    # -- training runs and sampling ------------------------------------------------------------
    ("fit_dit: n_val 0", lambda: fit_dit(None, None, DitRecipe(), seed=0, n_val=0), ValueError,
     "n_val"),
    ("DitRecipe: size 'huge'", lambda: DitRecipe(size="huge"), ValueError, "size must be one of"),
    ("DitRecipe: steps 0", lambda: DitRecipe(steps=0), ValueError, "steps"),
    ("DitRecipe: steps 1.5", lambda: DitRecipe(steps=1.5), TypeError, "steps"),
    ("DitRecipe: batch True", lambda: DitRecipe(batch=True), TypeError, "batch"),
    ("DitRecipe: batch -2", lambda: DitRecipe(batch=-2), ValueError, "batch"),
    ("DitRecipe: warmup -1", lambda: DitRecipe(warmup=-1), ValueError, "warmup"),
    ("DitRecipe: eval_every -1", lambda: DitRecipe(eval_every=-1), ValueError, "eval_every"),
    ("DitRecipe: checkpoint_every -5", lambda: DitRecipe(checkpoint_every=-5), ValueError,
     "checkpoint_every"),
    ("DitRecipe: i2v_share 1", lambda: DitRecipe(i2v_share=1.0), ValueError, "i2v_share"),
    ("DitRecipe: i2v_share -0.1", lambda: DitRecipe(i2v_share=-0.1), ValueError, "i2v_share"),
    ("DitRecipe: class_dropout 1.5", lambda: DitRecipe(class_dropout=1.5), ValueError,
     "class_dropout"),
    ("DitRecipe: class_dropout nan", lambda: DitRecipe(class_dropout=float("nan")), ValueError,
     "class_dropout"),
    ("DitRecipe: lr 0", lambda: DitRecipe(lr=0.0), ValueError, "lr"),
    ("DitRecipe: lr -1e-3", lambda: DitRecipe(lr=-1e-3), ValueError, "lr"),
    ("DitRecipe: lr nan", lambda: DitRecipe(lr=float("nan")), ValueError, "lr"),
    ("make_dit: attention 'diagonal'", lambda: make_dit("small", "diagonal"), ValueError,
     "attention"),
    ("make_dit: size 'tiny'", lambda: make_dit("tiny"), ValueError,
     "size must be one of small, medium, large"),
    ("latent_batch: stats of 3 channels",
     lambda: latent_batch(_vae(8), (torch.zeros(3), torch.ones(3)), 2, VideoSpec(1, 16, 16),
                          generator=torch.Generator().manual_seed(0)), ValueError, "stats"),
    ("generate: one first frame for two labels",
     lambda: _generate(first=torch.zeros(1, 1, 1, 16, 16)), ValueError, "first_frames"),
    ("generate: three first frames a video",
     lambda: _generate(first=torch.zeros(2, 1, 3, 16, 16)), ValueError, "first_frames"),
    ("generate: first frames of another size",
     lambda: _generate(first=torch.zeros(2, 1, 1, 16, 24)), ValueError, "first_frames"),
    ("generate: first frames a list", lambda: _generate(first=[[0.0]]), TypeError,
     "first_frames"),
    ("generate: a spec of 4 frames", lambda: _generate(VideoSpec(4, 16, 16), labels=(0,)),
     ValueError, "frames must be"),
    ("sample_report: one label for four videos",
     lambda: sample_report(torch.zeros(4, 1, 5, 16, 16), torch.zeros(1, dtype=torch.long),
                           MotionClassifier()), ValueError, "labels"),
    # -- the motion classifier -----------------------------------------------------------------
    ("MotionClassifier: videos a list", lambda: MotionClassifier()([0.0]), TypeError,
     "videos must be a torch.Tensor"),
    ("MotionClassifier: 4-D videos", lambda: MotionClassifier()(torch.zeros(2, 3, 8, 8)),
     ValueError, r"\[N, 1, T, H, W\]"),
    ("MotionClassifier: two channels", lambda: MotionClassifier()(torch.zeros(2, 2, 3, 8, 8)),
     ValueError, r"\[N, 1, T, H, W\]"),
    ("MotionClassifier: one frame", lambda: MotionClassifier()(torch.zeros(2, 1, 1, 8, 8)),
     ValueError, "at least 2 frames"),
    ("MotionClassifier: 8x7 pixels", lambda: MotionClassifier()(torch.zeros(2, 1, 3, 8, 7)),
     ValueError, "at least 8x8"),
    ("train_classifier: steps 0", lambda: train_classifier(steps=0, seed=0, progress=False),
     ValueError, "steps"),
    ("train_classifier: steps 1.5", lambda: train_classifier(steps=1.5, seed=0, progress=False),
     TypeError, "steps"),
    ("train_classifier: seed -1", lambda: train_classifier(steps=1, seed=-1, progress=False),
     ValueError, "seed"),
    ("train_classifier: batch 0",
     lambda: train_classifier(steps=1, seed=0, batch=0, progress=False), ValueError, "batch"),
    ("train_classifier: no specs",
     lambda: train_classifier(steps=1, seed=0, specs=[], progress=False), ValueError, "specs"),
    ("train_classifier: spec a tuple",
     lambda: train_classifier(steps=1, seed=0, specs=[(9, 32, 32)], progress=False), TypeError,
     "specs"),
    ("train_classifier: one-frame spec",
     lambda: train_classifier(steps=1, seed=0, specs=[VideoSpec(1, 8, 8)], progress=False),
     ValueError, "frames >= 2"),
    ("train_classifier: device 'nowhere'",
     lambda: train_classifier(steps=1, seed=0, device="nowhere", progress=False), ValueError,
     "device"),
    ("train_classifier: device 0",
     lambda: train_classifier(steps=1, seed=0, device=0, progress=False), TypeError, "device"),
    ("train_classifier: width 0",
     lambda: train_classifier(steps=1, seed=0, width=0, progress=False), ValueError, "width"),
    ("train_classifier: lr -1",
     lambda: train_classifier(steps=1, seed=0, lr=-1.0, progress=False), ValueError, "lr"),
    ("classify: model a str", lambda: classify("model", V), TypeError, "model"),
    ("classify: long videos", lambda: classify(MotionClassifier(), V.long()), TypeError,
     "floating"),
    ("classify: no videos", lambda: classify(MotionClassifier(), V[:0]), ValueError, "N >= 1"),
    ("classify: chunk 0", lambda: classify(MotionClassifier(), V, chunk=0), ValueError, "chunk"),
    ("accuracy: batch a tensor", lambda: accuracy(MotionClassifier(), V), TypeError,
     "batch must be a VideoBatch"),
    # -- metrics -------------------------------------------------------------------------------
    *[(f"{fn.__name__}: {name}", lambda fn=fn, v=v: fn(v), exc, match)
      for fn in METRICS for name, v, exc, match in BAD_VIDEOS],
    ("speed_jerk: two frames", lambda: speed_jerk(torch.zeros(2, 2, 8, 8)), ValueError,
     "at least 3 frames"),
    ("permanence: min_mass -1", lambda: permanence(torch.zeros(2, 3, 8, 8), -1.0), ValueError,
     "min_mass"),
    ("permanence: min_mass '1'", lambda: permanence(torch.zeros(2, 3, 8, 8), "1"), TypeError,
     "min_mass"),
    ("permanence: min_mass nan", lambda: permanence(torch.zeros(2, 3, 8, 8), float("nan")),
     ValueError, "min_mass"),
    ("world_metrics: min_mass True",
     lambda: world_metrics(torch.zeros(2, 3, 8, 8), min_mass=True), TypeError, "min_mass"),
    ("psnr: x a list", lambda: psnr([0.0], torch.zeros(1, 2, 8, 8)), TypeError, "x must"),
    ("psnr: y long",
     lambda: psnr(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8, dtype=torch.long)),
     TypeError, "y must"),
    ("psnr: shapes differ", lambda: psnr(torch.zeros(1, 2, 8, 8), torch.zeros(1, 3, 8, 8)),
     ValueError, "same shape"),
    ("psnr: 3-D x", lambda: psnr(torch.zeros(2, 8, 8), torch.zeros(2, 8, 8)), ValueError,
     "x must be"),
    ("psnr: max_val 0", lambda: psnr(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8), 0.0),
     ValueError, "max_val"),
    ("psnr: max_val '1'", lambda: psnr(torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8), "1"),
     TypeError, "max_val"),
    *[(f"shape_drift: window {bad!r}",
       lambda bad=bad: shape_drift(torch.zeros(2, 1, 9, 32, 32), window=bad), ValueError,
       "window must be a positive odd int") for bad in (0, 4, True, 2.0)],
    # -- plots ---------------------------------------------------------------------------------
    ("animate_rows: no rows", lambda: animate_rows({}), ValueError, "at least one"),
    ("animate_rows: frames differ",
     lambda: animate_rows({"a": torch.rand(2, 1, 4, 8, 8), "b": torch.rand(2, 1, 5, 8, 8)}),
     ValueError, "same number of frames"),
    ("animate_rows: two channels", lambda: animate_rows({"a": torch.rand(2, 2, 4, 8, 8)}),
     ValueError, "one channel"),
    ("animate_rows: 3-D videos", lambda: animate_rows({"a": torch.rand(2, 8, 8)}), ValueError,
     "videos must be a tensor"),
    ("animate_rows: videos a list", lambda: animate_rows({"a": [[0.5]]}), ValueError,
     "videos must be a tensor"),
    ("filmstrip: two channels", lambda: filmstrip(torch.rand(1, 2, 3, 8, 8)), ValueError,
     "one channel"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
