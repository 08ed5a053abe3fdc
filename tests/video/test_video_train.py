"""Training runs: the recipe's checks, the DiT sizes, the per-step data seeds, latent batches, a
tiny resumable ``fit_dit`` (an interrupted and resumed run equals an uninterrupted one), sampling
and the sample report. Tiny untrained VAE (width 8) and the ``small`` DiT, a few steps each."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from readingroom.video.classifier import MotionClassifier
from readingroom.video.data import MOTIONS, VideoSpec, make_videos
from readingroom.video.dit import DiT
from readingroom.video.train import (
    BASE_SPEC, TRAIN_SPECS, DitRecipe, batch_seed, fit_dit, generate, latent_batch, make_dit,
    sample_report,
)
from readingroom.video.vae import CausalVAE, VAEConfig

TINY = dict(size="small", batch=2, steps=6, eval_every=3, checkpoint_every=2)
#: Held-out videos of the tests' runs (the committed runs and the chapter use 128).
N_VAL = 8


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return CausalVAE(VAEConfig(width=8)).eval(), (torch.zeros(4), torch.ones(4))


@pytest.fixture(scope="module")
def full_run(vae):
    """An uninterrupted tiny run (no checkpoint)."""
    return fit_dit(*vae, DitRecipe(**TINY), seed=0, progress=False, n_val=N_VAL)


# -- the recipe and the model sizes --------------------------------------------------------------

def test_recipe_defaults_are_valid():
    recipe = DitRecipe()
    assert recipe.size == "medium" and recipe.attention == "full"


def test_recipe_accepts_zero_intervals():
    recipe = DitRecipe(warmup=0, eval_every=0, checkpoint_every=0, i2v_share=0.0)
    assert recipe.eval_every == 0 and recipe.checkpoint_every == 0


@pytest.mark.parametrize("size,d_model,n_layers", [("small", 64, 4), ("medium", 128, 4),
                                                   ("large", 192, 6)])
def test_make_dit_sizes(size, d_model, n_layers):
    model = make_dit(size)
    assert isinstance(model, DiT)
    cfg = model.config
    assert (cfg.d_model, cfg.n_layers) == (d_model, n_layers)
    assert cfg.token_dim == 4 * 1 * 2 * 2 and cfg.n_classes == len(MOTIONS)


def test_make_dit_small_is_small_and_ordered():
    small, medium = make_dit("small").n_params(), make_dit("medium").n_params()
    assert 250_000 < small < 400_000 < medium


def test_make_dit_attention():
    assert make_dit("small", "factorised").config.attention == "factorised"


# -- data ----------------------------------------------------------------------------------------

def test_batch_seed_deterministic_and_distinct():
    assert batch_seed(0, 5) == batch_seed(0, 5)
    seeds = {batch_seed(s, k) for s in range(3) for k in range(-1, 20)}
    assert len(seeds) == 3 * 21
    assert all(0 <= s < 2**63 - 1 for s in seeds)
    assert batch_seed(0, -1) == 2**63 - 2          # the held-out batch's seed is a valid seed


def test_train_specs_shares_sum_to_one():
    assert sum(w for _, w in TRAIN_SPECS) == pytest.approx(1.0)
    assert (BASE_SPEC, 0.40) in TRAIN_SPECS


@pytest.mark.parametrize("spec", [VideoSpec(5, 16, 16), VideoSpec(1, 16, 24)])
def test_latent_batch_shapes(vae, spec):
    tokens, coords, video, labels, shape = latent_batch(
        *vae, 3, spec, generator=torch.Generator().manual_seed(0))
    T, H, W = 1 + (spec.frames - 1) // 2, spec.height // 4, spec.width // 4
    assert shape == (4, T, H, W)
    n = T * (H // 2) * (W // 2)
    assert tokens.shape == (3, n, 16) and coords.shape == (3, n, 3) and video.shape == (3, n)
    assert labels.shape == (3,) and labels.dtype == torch.long
    again = latent_batch(*vae, 3, spec, generator=torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again[0]) and torch.equal(labels, again[3])


# -- fit_dit -------------------------------------------------------------------------------------

def test_fit_dit_history(full_run):
    model, history = full_run
    assert not model.training
    assert {"evals", "losses", "params", "tokens", "snapshots", "step_seconds"} <= set(history)
    assert len(history["losses"]) == len(history["step_seconds"]) == 6
    assert [e["step"] for e in history["evals"]] == [0, 3, 6]
    assert history["params"] == model.n_params()
    assert history["evals"][0]["tokens"] == 0 and history["evals"][-1]["tokens"] == history["tokens"]
    for e in history["evals"]:
        assert e["flops"] == 6.0 * history["params"] * e["tokens"]
        assert e["val_loss"] > 0
    assert history["snapshots"] == {}


def test_fit_dit_resume_equals_uninterrupted(vae, full_run, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ckpt") / "run.pt"
    _, first = fit_dit(*vae, DitRecipe(**TINY), seed=0, progress=False, n_val=N_VAL,
                       checkpoint=ckpt, stop_after=3)
    assert ckpt.is_file() and len(first["losses"]) == 3
    assert [e["step"] for e in first["evals"]] == [0, 3]
    model, resumed = fit_dit(*vae, DitRecipe(**TINY), seed=0, progress=False, n_val=N_VAL,
                             checkpoint=ckpt)
    _, ref = full_run
    assert resumed["losses"] == ref["losses"]
    assert resumed["evals"] == ref["evals"]
    assert resumed["tokens"] == ref["tokens"]
    ref_state = full_run[0].state_dict()
    assert all(torch.equal(v, ref_state[k]) for k, v in model.state_dict().items())
    # the finished checkpoint: a third call trains nothing and returns the same history
    _, again = fit_dit(*vae, DitRecipe(**TINY), seed=0, progress=False, n_val=N_VAL,
                       checkpoint=ckpt)
    assert again["losses"] == ref["losses"] and again["evals"] == ref["evals"]


@pytest.mark.parametrize("change", [dict(seed=1), dict(recipe=DitRecipe(**{**TINY, "lr": 1e-3})),
                                    dict(n_val=2 * N_VAL)])
def test_fit_dit_rejects_foreign_checkpoint(vae, tmp_path, change):
    ckpt = tmp_path / "run.pt"
    recipe = DitRecipe(**{**TINY, "steps": 1})
    torch.save({"model": {}, "opt": {}, "step": 1, "history": {}, "seed": 0, "n_val": N_VAL,
                "recipe": asdict(recipe)}, ckpt)
    kwargs = {"recipe": recipe, "seed": 0, "n_val": N_VAL, **change}
    with pytest.raises(ValueError, match="another run"):
        fit_dit(*vae, kwargs.pop("recipe"), progress=False, checkpoint=ckpt, **kwargs)


def test_fit_dit_snapshots(vae):
    model, history = fit_dit(*vae, DitRecipe(**{**TINY, "steps": 3, "eval_every": 0}), seed=0,
                             progress=False, n_val=N_VAL, snapshots=(2,))
    assert [e["step"] for e in history["evals"]] == [0, 2, 3]
    assert set(history["snapshots"]) == {2}
    snap, final = history["snapshots"][2], model.state_dict()
    assert snap.keys() == final.keys()
    assert all(v.device.type == "cpu" for v in snap.values())
    assert any(not torch.equal(snap[k], final[k]) for k in final)


# -- sampling and the report ---------------------------------------------------------------------

@pytest.mark.parametrize("spec", [VideoSpec(5, 16, 16), VideoSpec(3, 16, 32)])
def test_generate_shapes_and_range(vae, full_run, spec):
    labels = torch.tensor([0, 3])
    videos = generate(full_run[0], *vae, spec, labels, seed=0, steps=3)
    assert videos.shape == (2, 1, spec.frames, spec.height, spec.width)
    assert videos.min() >= 0 and videos.max() <= 1
    assert torch.equal(videos, generate(full_run[0], *vae, spec, labels, seed=0, steps=3))


def test_generate_image_to_video(vae, full_run):
    spec = VideoSpec(5, 16, 16)
    first = make_videos(2, spec, seed=0).videos[:, :, :1]
    videos = generate(full_run[0], *vae, spec, torch.tensor([1, 2]), seed=0, steps=3,
                      first_frames=first)
    assert videos.shape == (2, 1, 5, 16, 16)
    assert videos.min() >= 0 and videos.max() <= 1
    plain = generate(full_run[0], *vae, spec, torch.tensor([1, 2]), seed=0, steps=3)
    assert not torch.equal(videos, plain)


def test_sample_report():
    torch.manual_seed(0)
    clf = MotionClassifier().eval()
    batch = make_videos(4, VideoSpec(5, 16, 16), seed=0)
    out = sample_report(batch.videos, batch.labels, clf)
    assert set(out) == {"speed_jerk", "mass_drift", "permanence", "mass", "shape_drift",
                        "class_match"}
    assert 0.0 <= out["class_match"] <= 1.0 and out["permanence"] == 1.0
