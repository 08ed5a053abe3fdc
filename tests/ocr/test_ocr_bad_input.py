"""Every bad input to readingroom.ocr is refused with a clear TypeError or ValueError naming the
parameter: one table of the package's error paths (issue 21).

Tests where an error is part of a behaviour (a missing committed file, a corpus that does not
match its record, the CLI's exit codes, a page too long for its lines, a reader config that does
not fit the committed weights) stay with that behaviour in the other files.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from readingroom.common import make_generator
from readingroom.ocr.decoder import DecoderConfig, MoEDecoder, count_parameters
from readingroom.ocr.encoder import (
    DeepEncoder, EncoderConfig, Mode, prepare_page, shrink, sincos_2d, valid_tokens, vision_tokens,
)
from readingroom.ocr.experiments import (
    Reading, binned_precision, compression_rho, compression_sweep, control_pixels, memory_sweep,
    pick_samples, read_controls, token_budget,
)
from readingroom.ocr.model import (
    MiniDeepSeekOCR, OCRConfig, compression_ratio, edit_distance, make_batch, page_target,
    precision,
)
from readingroom.ocr.moe import Expert, MoEConfig, MoEFeedForward, moe_reference
from readingroom.ocr.plots import (
    plot_compression, plot_memory, plot_token_budget, plot_token_grid, readings_html,
)
from readingroom.ocr.reader import load_reader, reader_path
from readingroom.ocr.render import (
    MIN_FONT_SIZE, Page, chars_per_line, glyph_boxes, lines_per_page, page_capacity,
    render_for_mode, render_page, render_text_page, wrap_text,
)
from readingroom.ocr.text import MAX_CHARS, build_corpus, sample_text, write_corpus
from readingroom.ocr.tokenizer import CharTokenizer
from readingroom.ocr.train import (
    NATIVE_CURRICULUM, QUICK_CURRICULUM, Curriculum, PageRecipe, evaluate, glyph_targets,
    pretrain_encoder, sample_pages, train_curriculum, train_reader,
)
from refusals import refusal_test

# ---- cheap shared objects, built on first use --------------------------------------------------

TOK = CharTokenizer()
SMALL = (96, 64)
ENC = EncoderConfig(d_window=16, n_window_layers=1, d_global=32, n_global_layers=1, n_heads=2,
                    d_out=32)
CFG = OCRConfig(encoder=ENC, n_layers=1, n_heads=2,
                moe=MoEConfig(d_model=32, d_expert=32, n_routed=4, top_k=2, n_shared=1),
                max_text=40, modes=("tiny", "small"))
RECIPE = PageRecipe(size=(128, 128), font_size=8, min_chars=5, max_chars=20)
SMALL_ENC = EncoderConfig(d_window=16, n_window_layers=1, d_global=16, n_global_layers=1,
                          n_heads=2, d_out=24)
DECODER = dict(vocab_size=11, d_model=16, n_layers=2, n_heads=2, max_len=12)
MOE = dict(d_model=8, d_expert=6, n_routed=4, top_k=2, n_shared=1)


@functools.cache
def _reader() -> MiniDeepSeekOCR:
    return MiniDeepSeekOCR(CFG, TOK).eval()


@functools.cache
def _tiny_only_reader() -> MiniDeepSeekOCR:
    return MiniDeepSeekOCR(OCRConfig(encoder=ENC, n_layers=1, n_heads=2, moe=None, max_text=40,
                                     modes=("tiny",)))


@functools.cache
def _encoder() -> DeepEncoder:
    return DeepEncoder(SMALL_ENC)


@functools.cache
def _decoder() -> MoEDecoder:
    moe = MoEConfig(d_model=16, d_expert=8, n_routed=4, top_k=2, n_shared=1)
    return MoEDecoder(DecoderConfig(moe=moe, **DECODER)).eval()


@functools.cache
def _output():
    """A decoder output for ``loss``: batch 2, 3 prefix tokens, 4 text tokens."""
    return _decoder()(torch.randn(2, 3, 16), torch.randint(0, 11, (2, 4)))


@functools.cache
def _moe_ff() -> MoEFeedForward:
    return MoEFeedForward(MoEConfig(d_model=8, d_expert=6, n_routed=5, top_k=2, n_shared=1))


@functools.cache
def _page() -> Page:
    return render_page("abc", size=(128, 128), font_size=8)


@functools.cache
def _readings() -> tuple[Reading, ...]:
    """Three readings that keep their pages: two in the tiny mode, one in the small mode."""
    out = []
    for i, (font, n, p, mode) in enumerate([(8, 200, 0.4, "tiny"), (12, 40, 0.95, "tiny"),
                                            (12, 90, 0.8, "small")]):
        text = ("word " * 60)[:n].strip()
        page = render_page(text, size=(128, 128), font_size=font)
        out.append(Reading(font, mode, 64 if mode == "tiny" else 100, text,
                           text[:-3] + "xyz" if i else text, p, page))
    return tuple(out)


def _reading(n: int, p: float, tokens: int = 64) -> Reading:
    return Reading(12, "tiny" if tokens == 64 else "small", tokens, "x" * n, "", p)


def _budget_readings() -> list[Reading]:
    return [_reading(30, 0.9), _reading(64, 0.7), _reading(65, 0.4), _reading(200, 0.2)]


def _pixels(S: int = 32) -> torch.Tensor:
    return (torch.rand(3, 1, S, S, generator=torch.Generator().manual_seed(0)) > 0.3).float()


def _x(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.ones(*shape, dtype=dtype)


def _prefix() -> torch.Tensor:
    return torch.randn(2, 3, 16)


def _tokens() -> torch.Tensor:
    return torch.randint(0, 11, (2, 4))


def _targets() -> torch.Tensor:
    return torch.randint(0, 11, (2, 4))


def _gen() -> torch.Generator:
    return make_generator(0)


def _moe_config(**kw) -> MoEConfig:
    return MoEConfig(**{**MOE, **kw})


def _decoder_config(**kw) -> DecoderConfig:
    return DecoderConfig(**{**DECODER, **kw})


def _call_moe(how: str, *args):
    return _moe_ff()(*args) if how == "forward" else moe_reference(_moe_ff(), *args)


def _wide_page() -> Page:
    """A hand-made page whose 30-character line does not fit the base mode at font_size 16."""
    return Page(torch.ones(128, 128), "m" * 30, ("m" * 30,), 8, (128, 128))


def _tall_page() -> Page:
    """A hand-made page of 14 lines, too many for a 160 px page at font_size 10."""
    return Page(torch.ones(128, 128), "m", ("m",) * 14, 8, (128, 128))


_ROOM = int(0.8 * page_capacity((128, 128), 8, 4))
_CAPACITY = page_capacity(SMALL, 8)

# ---- the table -------------------------------------------------------------------------------

CASES = [
    # (id, call, exception, match)
    # -- tokenizer
    ("tokenizer: alphabet a list", lambda: CharTokenizer(["a", "b"]), TypeError, "alphabet"),
    ("tokenizer: alphabet empty", lambda: CharTokenizer(""), ValueError, "alphabet"),
    ("tokenizer: alphabet repeats", lambda: CharTokenizer("abca"), ValueError, "alphabet.*'a'"),
    ("encode: strict and foreign characters", lambda: TOK.encode("a_B", strict=True), ValueError,
     "text.*'B'.*'_'"),
    ("encode: text a list", lambda: TOK.encode(["a"]), TypeError, "text"),
    ("encode: text None", lambda: TOK.encode(None), TypeError, "text"),
    ("decode: id -1", lambda: TOK.decode([-1]), ValueError, "ids must be in"),
    ("decode: id 49", lambda: TOK.decode([0, 49]), ValueError, "ids must be in"),
    ("decode: tensor id 100", lambda: TOK.decode(torch.tensor([1, 100])), ValueError,
     "ids must be in"),
    ("decode: ids a str", lambda: TOK.decode("abc"), TypeError, "ids"),
    ("decode: ids floats", lambda: TOK.decode([1.0, 2.0]), TypeError, "ids"),
    ("decode: ids bool", lambda: TOK.decode([True]), TypeError, "ids"),
    ("decode: float tensor", lambda: TOK.decode(torch.tensor([1.0, 2.0])), TypeError, "ids"),
    ("decode: 2-D tensor", lambda: TOK.decode(torch.zeros(2, 3, dtype=torch.long)), ValueError,
     "ids must be a 1-D"),
    ("batch_encode: text too long for max_len", lambda: TOK.batch_encode(["ab", "abcde"],
                                                                        max_len=6),
     ValueError, r"texts\[1\] needs 7 tokens.*max_len=6"),
    ("batch_encode: texts a str", lambda: TOK.batch_encode("abc"), TypeError, "texts"),
    ("batch_encode: texts holds an int", lambda: TOK.batch_encode(["abc", 3]), TypeError,
     r"texts\[1\]"),
    ("batch_encode: texts empty", lambda: TOK.batch_encode([]), ValueError, "texts"),
    ("batch_encode: max_len a float", lambda: TOK.batch_encode(["a"], max_len=5.0), TypeError,
     "max_len"),
    ("batch_encode: max_len 1", lambda: TOK.batch_encode(["a"], max_len=1), ValueError,
     "max_len"),
    ("batch_encode: strict and foreign", lambda: TOK.batch_encode(["A"], strict=True),
     ValueError, "text"),

    # -- text
    *[(f"sample_text: n_chars {bad}", lambda bad=bad: sample_text(bad, generator=_gen()),
       ValueError, "n_chars") for bad in (0, -3, MAX_CHARS + 1)],
    *[(f"sample_text: n_chars {bad!r}", lambda bad=bad: sample_text(bad, generator=_gen()),
       TypeError, "n_chars") for bad in (2.0, "10", True, None)],
    *[(f"sample_text: generator {bad!r}", lambda bad=bad: sample_text(10, generator=bad),
       TypeError, "generator") for bad in (None, 0, "cpu")],
    ("build_corpus: modules a str", lambda: build_corpus("heapq"), TypeError, "sequence"),
    ("build_corpus: modules None", lambda: build_corpus(None), TypeError, "sequence"),
    ("build_corpus: modules holds an int", lambda: build_corpus(["heapq", 3]), TypeError, "str"),
    ("build_corpus: modules empty", lambda: build_corpus(()), ValueError, "at least one"),
    ("build_corpus: modules repeat", lambda: build_corpus(("heapq", "heapq")), ValueError,
     "repeat"),
    ("write_corpus: directory 3", lambda: write_corpus(3), TypeError, "directory"),
    ("write_corpus: directory None", lambda: write_corpus(None), TypeError, "directory"),

    # -- render
    *[row for func, name in ((chars_per_line, "width"), (lines_per_page, "height")) for row in (
        (f"{func.__name__}: {name} 0", lambda f=func: f(0, 12), ValueError, name),
        (f"{func.__name__}: {name} a float", lambda f=func: f(10.0, 12), TypeError, name),
        (f"{func.__name__}: font_size too small", lambda f=func: f(100, MIN_FONT_SIZE - 1),
         ValueError, "font_size"),
        (f"{func.__name__}: font_size a str", lambda f=func: f(100, "12"), TypeError,
         "font_size"),
        (f"{func.__name__}: margin -1", lambda f=func: f(100, 12, margin=-1), ValueError,
         "margin"),
    )],
    ("page_capacity: size an int", lambda: page_capacity(256, 12), TypeError, "size"),
    ("page_capacity: size a triple", lambda: page_capacity((256, 256, 3), 12), TypeError,
     "size"),
    ("page_capacity: size negative", lambda: page_capacity((256, -1), 12), ValueError, "size"),
    ("page_capacity: font_size 3", lambda: page_capacity((256, 256), 3), ValueError,
     "font_size"),
    ("wrap_text: text bytes", lambda: wrap_text(b"abc", 5), TypeError, "text"),
    ("wrap_text: width 0", lambda: wrap_text("abc", 0), ValueError, "width"),
    ("render_page: max_lines 0", lambda: render_page("ab", size=SMALL, font_size=8, max_lines=0),
     ValueError, "max_lines"),
    ("render_page: max_lines a float", lambda: render_page("ab", size=SMALL, font_size=8,
                                                           max_lines=2.0),
     TypeError, "max_lines"),
    ("render_page: text an int", lambda: render_page(42, size=SMALL), TypeError, "text"),
    ("render_page: text outside ALPHABET", lambda: render_page("A_b", size=SMALL), ValueError,
     r"ALPHABET.*'A'.*'_'"),
    ("render_page: size 0 wide", lambda: render_page("a", size=(0, 64)), ValueError, "size"),
    ("render_page: size of floats", lambda: render_page("a", size=(64.0, 64)), TypeError,
     "size"),
    ("render_page: size too small for a character", lambda: render_page("a", size=(10, 10),
                                                                        font_size=12),
     ValueError, "size .* too small"),
    ("render_page: font_size 3", lambda: render_page("a", size=SMALL, font_size=3), ValueError,
     "font_size"),
    ("render_page: margin -2", lambda: render_page("a", size=SMALL, margin=-2), ValueError,
     "margin"),
    ("render_text_page: more than capacity", lambda: render_text_page(
        _CAPACITY + 1, generator=_gen(), size=SMALL, font_size=8),
     ValueError, rf"n_chars={_CAPACITY + 1} exceeds .* {_CAPACITY}"),
    ("render_text_page: generator None", lambda: render_text_page(
        10, generator=None, size=SMALL, font_size=8), TypeError, "generator"),
    ("render_text_page: n_chars 0", lambda: render_text_page(
        0, generator=_gen(), size=SMALL, font_size=8), ValueError, "n_chars"),
    ("render_text_page: n_chars a str", lambda: render_text_page(
        "10", generator=_gen(), size=SMALL, font_size=8), TypeError, "n_chars"),
    ("render_text_page: font_size 2", lambda: render_text_page(10, generator=_gen(),
                                                               font_size=2),
     ValueError, "font_size"),
    ("glyph_boxes: page a str", lambda: glyph_boxes("ab"), TypeError, "page must be a Page"),
    ("render_for_mode: page a str", lambda: render_for_mode("abc", "base"), TypeError,
     "page must be a Page, got str"),
    ("render_for_mode: unknown mode", lambda: render_for_mode(_page(), "huge"), ValueError,
     "mode must be one of"),
    ("render_for_mode: font scaled below MIN_FONT_SIZE", lambda: render_for_mode(
        render_page("abc", size=(512, 512), font_size=8), "tiny"),
     ValueError, "scales font_size 8 .* to 2, below MIN_FONT_SIZE"),
    ("render_for_mode: a line too long for the mode", lambda: render_for_mode(_wide_page(),
                                                                              "base"),
     ValueError, "a line of 30 characters needs 290 px at font_size 16, but the 256 px wide "
     "page has 240 px"),
    ("render_for_mode: too many lines for the mode", lambda: render_for_mode(
        _tall_page(), Mode("odd", 160, "pad")),
     ValueError, "14 lines at font_size 10 reach 180.5 px, beyond the 160 px tall page"),

    # -- encoder
    ("vision_tokens: size not a multiple of the patch", lambda: vision_tokens(
        Mode("m", 130, "resize"), EncoderConfig(patch_size=8)),
     ValueError, "not a multiple of patch_size"),
    ("vision_tokens: unknown mode", lambda: vision_tokens("gundam"), ValueError,
     "mode must be one of"),
    ("vision_tokens: mode an int", lambda: vision_tokens(3), TypeError, "mode must be a mode name"),
    ("valid_tokens: width 0", lambda: valid_tokens("base", 0, 10), ValueError,
     "width must be a positive int"),
    ("valid_tokens: height a float", lambda: valid_tokens("base", 10, 2.5), TypeError,
     "height must be an int"),
    ("Mode: fit 'crop'", lambda: Mode("x", 64, "crop"), ValueError, "fit must be"),
    ("Mode: size 0", lambda: Mode("x", 0, "pad"), ValueError, "size must be"),
    ("prepare_page: a long tensor", lambda: prepare_page(_x(4, 4, dtype=torch.long), "tiny"),
     TypeError, "floating-point"),
    ("prepare_page: 4-D image", lambda: prepare_page(_x(1, 1, 4, 4), "tiny"), ValueError,
     r"\[H, W\] or \[B, H, W\]"),
    ("prepare_page: unknown mode", lambda: prepare_page(_x(4, 4), "huge"), ValueError,
     "mode must be one of"),
    ("sincos_2d: dim not divisible by 4", lambda: sincos_2d(2, 2, 6), ValueError,
     "divisible by 4"),
    ("sincos_2d: h 0", lambda: sincos_2d(0, 2, 8), ValueError, "h must be"),
    ("DeepEncoder: three channels", lambda: _encoder()(_x(1, 3, 128, 128)), ValueError,
     r"\[B, 1, H, W\]"),
    ("DeepEncoder: side not a multiple of the patch", lambda: _encoder()(_x(1, 1, 130, 128)),
     ValueError, "multiples of patch_size"),
    ("DeepEncoder: long pixels", lambda: _encoder()(_x(1, 1, 128, 128, dtype=torch.long)),
     TypeError, "floating-point"),
    ("DeepEncoder: config a dict", lambda: DeepEncoder({"d_out": 4}), TypeError,
     "config must be an EncoderConfig"),
    ("EncoderConfig: d_window not divisible by n_heads", lambda: EncoderConfig(d_window=18,
                                                                               n_heads=4),
     ValueError, "divisible by n_heads"),
    ("EncoderConfig: d_window not divisible by 4", lambda: EncoderConfig(d_window=6, n_heads=2),
     ValueError, "divisible by 4"),
    ("EncoderConfig: n_global_layers -1", lambda: EncoderConfig(n_global_layers=-1), ValueError,
     "n_global_layers must be an int >= 0"),
    ("EncoderConfig: patch_size a float", lambda: EncoderConfig(patch_size=4.0), TypeError,
     "patch_size must be an int"),
    ("shrink: factor 0", lambda: shrink(_x(1, 1, 32, 32), 0.0), ValueError, "factor must be in"),
    ("shrink: factor 1.5", lambda: shrink(_x(1, 1, 32, 32), 1.5), ValueError,
     "factor must be in"),
    ("shrink: 3-D pixels", lambda: shrink(_x(1, 32, 32), 0.5), ValueError,
     "pixels must be a tensor"),

    # -- MoE feed-forward
    ("MoEConfig: d_model 0", lambda: _moe_config(d_model=0), ValueError, "d_model"),
    ("MoEConfig: d_model a float", lambda: _moe_config(d_model=2.0), TypeError, "d_model"),
    ("MoEConfig: d_expert 0", lambda: _moe_config(d_expert=0), ValueError, "d_expert"),
    ("MoEConfig: n_routed a bool", lambda: _moe_config(n_routed=True), TypeError, "n_routed"),
    ("MoEConfig: top_k 0", lambda: _moe_config(top_k=0), ValueError, "top_k"),
    ("MoEConfig: top_k above n_routed", lambda: _moe_config(top_k=5), ValueError, "top_k"),
    ("MoEConfig: n_shared -1", lambda: _moe_config(n_shared=-1), ValueError, "n_shared"),
    ("MoEConfig: n_shared None", lambda: _moe_config(n_shared=None), TypeError, "n_shared"),
    ("MoEConfig: balance_coef negative", lambda: _moe_config(balance_coef=-0.1), ValueError,
     "balance_coef"),
    ("MoEConfig: balance_coef nan", lambda: _moe_config(balance_coef=float("nan")), ValueError,
     "balance_coef"),
    ("MoEConfig: balance_coef a str", lambda: _moe_config(balance_coef="0.01"), TypeError,
     "balance_coef"),
    ("MoEFeedForward: config a dict", lambda: MoEFeedForward({"d_model": 8}), TypeError,
     "config"),
    ("Expert: d_hidden 0", lambda: Expert(8, 0), ValueError, "d_hidden"),
    ("moe_reference: module a Linear", lambda: moe_reference(torch.nn.Linear(2, 2),
                                                             torch.randn(1, 1, 2)),
     TypeError, "module"),
    *[row for how in ("forward", "reference") for row in (
        (f"MoE {how}: x a list", lambda h=how: _call_moe(h, [[1.0]]), TypeError,
         "x must be a torch.Tensor"),
        (f"MoE {how}: x 2-D", lambda h=how: _call_moe(h, torch.randn(6, 8)), ValueError,
         r"x must have shape \[B, T, d_model\]"),
        (f"MoE {how}: x long", lambda h=how: _call_moe(h, _x(2, 3, 8, dtype=torch.long)),
         TypeError, "x must be a floating-point"),
        (f"MoE {how}: x of width 7", lambda h=how: _call_moe(h, torch.randn(2, 3, 7)),
         ValueError, "d_model=8"),
        (f"MoE {how}: mask a list", lambda h=how: _call_moe(h, _x(2, 3, 8), [[True] * 3] * 2),
         TypeError, "mask must be a torch.Tensor"),
        (f"MoE {how}: mask float", lambda h=how: _call_moe(h, _x(2, 3, 8), _x(2, 3)),
         TypeError, "mask must be a bool"),
        (f"MoE {how}: mask of the wrong shape", lambda h=how: _call_moe(
            h, _x(2, 3, 8), _x(3, 2, dtype=torch.bool)), ValueError, "mask must have shape"),
    )],

    # -- decoder
    ("DecoderConfig: vocab_size 0", lambda: _decoder_config(vocab_size=0), ValueError,
     "vocab_size"),
    ("DecoderConfig: d_model a float", lambda: _decoder_config(d_model=16.0), TypeError,
     "d_model"),
    ("DecoderConfig: n_layers 0", lambda: _decoder_config(n_layers=0), ValueError, "n_layers"),
    ("DecoderConfig: n_heads 3", lambda: _decoder_config(n_heads=3), ValueError, "n_heads"),
    ("DecoderConfig: max_len -1", lambda: _decoder_config(max_len=-1), ValueError, "max_len"),
    ("DecoderConfig: moe a dict", lambda: _decoder_config(moe={"d_model": 16}), TypeError,
     "moe"),
    ("DecoderConfig: moe of another width", lambda: _decoder_config(
        moe=MoEConfig(d_model=8, d_expert=4, n_routed=2, top_k=1)), ValueError, "moe.d_model"),
    ("DecoderConfig: dropout 1", lambda: _decoder_config(dropout=1.0), ValueError, "dropout"),
    ("DecoderConfig: dropout a str", lambda: _decoder_config(dropout="0.1"), TypeError,
     "dropout"),
    ("MoEDecoder: config a dict", lambda: MoEDecoder({"vocab_size": 11}), TypeError, "config"),
    ("count_parameters: model a str", lambda: count_parameters("model"), TypeError, "model"),
    ("decoder forward: prefix None", lambda: _decoder()(None, _tokens()), TypeError,
     "prefix must be a torch.Tensor"),
    ("decoder forward: prefix 2-D", lambda: _decoder()(torch.randn(3, 16), _tokens()),
     ValueError, "prefix must have shape"),
    ("decoder forward: prefix long", lambda: _decoder()(_x(2, 3, 16, dtype=torch.long),
                                                        _tokens()),
     TypeError, "prefix must be a float"),
    ("decoder forward: prefix of width 8", lambda: _decoder()(torch.randn(2, 3, 8), _tokens()),
     ValueError, "prefix must have width d_model=16"),
    ("decoder forward: tokens a list", lambda: _decoder()(_prefix(), _tokens().tolist()),
     TypeError, "tokens must be a torch.Tensor"),
    ("decoder forward: tokens 1-D", lambda: _decoder()(_prefix(), _tokens()[0]), ValueError,
     r"tokens must have shape \[B, T\]"),
    ("decoder forward: tokens int32", lambda: _decoder()(_prefix(), _tokens().int()), TypeError,
     "tokens must be a long"),
    ("decoder forward: no tokens", lambda: _decoder()(_prefix(), _tokens()[:, :0]), ValueError,
     "T=0"),
    ("decoder forward: batch sizes differ", lambda: _decoder()(_prefix(), _tokens()[:1]),
     ValueError, "same batch size"),
    ("decoder forward: longer than max_len", lambda: _decoder()(
        _prefix(), torch.zeros(2, 10, dtype=torch.long)), ValueError, "max_len=12"),
    ("decoder forward: ids beyond the vocabulary", lambda: _decoder()(_prefix(), _tokens() + 11),
     ValueError, "vocab_size=11"),
    ("decoder forward: negative ids", lambda: _decoder()(_prefix(), _tokens() - 20), ValueError,
     "tokens must be ids"),
    ("decoder forward: token_mask a list", lambda: _decoder()(
        _prefix(), _tokens(), token_mask=[[True] * 4] * 2), TypeError, "token_mask"),
    ("decoder forward: token_mask float", lambda: _decoder()(
        _prefix(), _tokens(), token_mask=_x(2, 4)), TypeError, "token_mask must be a bool"),
    ("decoder forward: token_mask of the wrong shape", lambda: _decoder()(
        _prefix(), _tokens(), token_mask=_x(2, 3, dtype=torch.bool)),
     ValueError, "token_mask must have the shape"),
    ("decoder loss: output the logits", lambda: _decoder().loss(_output().logits, _targets()),
     TypeError, "output"),
    ("decoder loss: targets a list", lambda: _decoder().loss(_output(), _targets().tolist()),
     TypeError, "targets must be a torch.Tensor"),
    ("decoder loss: targets float", lambda: _decoder().loss(_output(), _targets().float()),
     TypeError, "targets must be a long"),
    ("decoder loss: targets of the wrong shape", lambda: _decoder().loss(
        _output(), _targets()[:, :3]), ValueError, "targets must have shape"),
    ("decoder loss: ignore_index None", lambda: _decoder().loss(_output(), _targets(),
                                                                ignore_index=None),
     TypeError, "ignore_index"),
    ("generate: bos_id a float", lambda: _decoder().generate(torch.randn(1, 3, 16), 1.0, 2, 4),
     TypeError, "bos_id"),
    ("generate: bos_id beyond the vocabulary", lambda: _decoder().generate(
        torch.randn(1, 3, 16), 11, 2, 4), ValueError, "bos_id"),
    ("generate: eos_id -1", lambda: _decoder().generate(torch.randn(1, 3, 16), 1, -1, 4),
     ValueError, "eos_id"),
    ("generate: max_new_tokens 0", lambda: _decoder().generate(torch.randn(1, 3, 16), 1, 2, 0),
     ValueError, "max_new_tokens"),
    ("generate: max_new_tokens beyond max_len", lambda: _decoder().generate(
        torch.randn(1, 3, 16), 1, 2, 10), ValueError, "max_new_tokens=10 exceeds max_len=12"),
    ("generate: prefix of width 8", lambda: _decoder().generate(torch.randn(1, 3, 8), 1, 2, 4),
     ValueError, "prefix must have width"),
    ("generate: prefix None", lambda: _decoder().generate(None, 1, 2, 4), TypeError,
     "prefix must be a torch.Tensor"),
    ("generate: use_cache 1", lambda: _decoder().generate(torch.randn(1, 3, 16), 1, 2,
                                                          max_new_tokens=3, use_cache=1),
     TypeError, "use_cache must be a bool"),

    # -- the whole reader, batches and scores
    ("make_batch: text longer than max_text", lambda: make_batch(
        [render_page("ab cd", size=(128, 128), font_size=8)], "tiny", TOK, max_text=3),
     ValueError, "max_len"),
    ("page_target: page a str", lambda: page_target("text"), TypeError, "page must be a Page"),
    ("make_batch: no pages", lambda: make_batch([], "tiny", TOK), ValueError,
     "non-empty list of Page"),
    ("make_batch: pages hold a str", lambda: make_batch(["text"], "tiny", TOK), TypeError,
     "pages must hold Page"),
    ("make_batch: tokenizer a str", lambda: make_batch([_page()], "tiny", "chars"), TypeError,
     "tokenizer must be a CharTokenizer"),
    ("make_batch: unknown mode", lambda: make_batch([_page()], "gundam", TOK), ValueError,
     "mode must be one of"),
    ("MiniDeepSeekOCR: config a dict", lambda: MiniDeepSeekOCR({"n_layers": 1}), TypeError,
     "config must be an OCRConfig"),
    ("MiniDeepSeekOCR: tokenizer a str", lambda: MiniDeepSeekOCR(CFG, "chars"), TypeError,
     "tokenizer must be a CharTokenizer"),
    ("OCRConfig: moe width differs from the encoder's", lambda: OCRConfig(
        encoder=ENC, moe=MoEConfig(d_model=64, d_expert=8, n_routed=2, top_k=1)),
     ValueError, "must equal encoder.d_out"),
    ("OCRConfig: encoder None", lambda: OCRConfig(encoder=None), TypeError,
     "encoder must be an EncoderConfig"),
    ("OCRConfig: unknown mode", lambda: OCRConfig(modes=("tiny", "huge")), ValueError,
     "mode must be one of"),
    ("OCRConfig: no modes", lambda: OCRConfig(modes=()), ValueError,
     "modes must be a non-empty tuple"),
    ("OCRConfig: max_text 0", lambda: OCRConfig(max_text=0), ValueError,
     "max_text must be a positive int"),
    ("read: max_new_tokens 0", lambda: _reader().read(_x(1, 1, 128, 128), max_new_tokens=0),
     ValueError, "max_new_tokens must be a positive int"),
    ("read: batch_size 0", lambda: _reader().read(_x(1, 1, 128, 128), batch_size=0), ValueError,
     "batch_size must be a positive int"),
    ("precision: empty target", lambda: precision("x", ""), ValueError,
     "target must be a non-empty str"),
    ("precision: prediction None", lambda: precision(None, "x"), TypeError, "must be str"),
    ("edit_distance: a an int", lambda: edit_distance(1, "x"), TypeError, "a must be a str"),
    ("compression_ratio: n_vision_tokens 0", lambda: compression_ratio(10, 0), ValueError,
     "n_vision_tokens must be a positive int"),

    # -- training and scoring
    ("PageRecipe: min_chars above every font's room", lambda: PageRecipe(
        font_size=(8, 16), min_chars=60, max_chars=100),
     ValueError, "min_chars \\(60\\) must fit every font"),
    ("PageRecipe: font_size an empty tuple", lambda: PageRecipe(font_size=()), ValueError,
     "font_size must be an int or a non-empty tuple"),
    ("PageRecipe: a font_size 0 in a tuple", lambda: PageRecipe(font_size=(8, 0)), ValueError,
     "font_size must be a positive int"),
    ("PageRecipe: min_chars above max_chars", lambda: PageRecipe(min_chars=30, max_chars=20),
     ValueError, "min_chars .* must be <= max_chars"),
    ("PageRecipe: max_chars above 80 % of the page", lambda: PageRecipe(max_chars=_ROOM + 1),
     ValueError, f"at most 80 % of the page's capacity \\({_ROOM}"),
    ("PageRecipe: size an int", lambda: PageRecipe(size=128), TypeError, "size must be a"),
    ("PageRecipe: font_size 0", lambda: PageRecipe(font_size=0), ValueError,
     "font_size must be a positive int"),
    ("PageRecipe: aspect 0", lambda: PageRecipe(aspect=0), ValueError,
     "aspect must be a positive finite float, got 0.0"),
    ("PageRecipe: aspect negative", lambda: PageRecipe(aspect=-0.75), ValueError,
     "aspect must be a positive finite float"),
    ("PageRecipe: aspect nan", lambda: PageRecipe(aspect=float("nan")), ValueError,
     "aspect must be a positive finite float"),
    ("PageRecipe: aspect a str", lambda: PageRecipe(aspect="3:4"), TypeError,
     "aspect must be a float, got str"),
    ("PageRecipe: an aspect True", lambda: PageRecipe(aspect=(0.75, True)), TypeError,
     "aspect must be a float, got bool"),
    ("PageRecipe: aspect an empty tuple", lambda: PageRecipe(aspect=()), ValueError,
     "aspect must be None, a number or a non-empty tuple"),
    ("PageRecipe: aspect on a page that is not square", lambda: PageRecipe(aspect=0.75,
                                                                           size=(128, 96)),
     ValueError, "aspect needs a square size"),
    ("PageRecipe: aspect too thin for a character", lambda: PageRecipe(aspect=0.01), ValueError,
     "aspect 0.01 makes a 1x128 page, too small"),
    ("PageRecipe: native 'yes'", lambda: PageRecipe(native="yes"), TypeError,
     "native must be a bool"),
    ("PageRecipe: max_chars above 80 % of a thin page", lambda: PageRecipe(aspect=0.5,
                                                                           max_chars=200),
     ValueError, "max_chars \\(200\\) must be at most 80 %"),
    ("PageRecipe: min_chars above a thin page's room", lambda: PageRecipe(
        aspect=(0.25, 1.0), min_chars=40, max_chars=50),
     ValueError, "min_chars \\(40\\) must fit every font: at most 38 characters at font_size 8 "
     "on a 32x128 page"),
    ("PageRecipe: random_share above 1", lambda: PageRecipe(random_share=1.5), ValueError,
     "random_share"),
    ("PageRecipe: low_res_share a str", lambda: PageRecipe(low_res_share="0.5"), TypeError,
     "low_res_share"),
    ("train_reader: recipe longer than the model's max_text", lambda: train_reader(
        _reader(), PageRecipe(size=(256, 256), max_chars=100), steps=1, progress=False),
     ValueError, "exceeds the model's max_text"),
    ("train_reader: modes a str", lambda: train_reader(_reader(), RECIPE, steps=1, modes="tiny",
                                                       progress=False),
     ValueError, "modes must be a non-empty list"),
    ("train_reader: unknown mode", lambda: train_reader(_reader(), RECIPE, steps=1,
                                                        modes=("huge",), progress=False),
     ValueError, "mode must be one of"),
    ("train_reader: model a Linear", lambda: train_reader(torch.nn.Linear(2, 2), RECIPE,
                                                          steps=1),
     TypeError, "model must be a MiniDeepSeekOCR"),
    ("sample_pages: recipe a dict", lambda: sample_pages(2, {"size": (1, 1)}, generator=_gen()),
     TypeError, "recipe must be a PageRecipe"),
    ("evaluate: no pages", lambda: evaluate(_reader(), [], "tiny"), ValueError,
     "pages must be a non-empty list"),
    ("evaluate: pages hold a str", lambda: evaluate(_reader(), ["page"], "tiny"), TypeError,
     "pages must hold Page"),
    ("glyph_targets: slots 0", lambda: glyph_targets([_page()], "tiny", TOK, slots=0),
     ValueError, "slots must be a positive int"),
    ("glyph_targets: no pages", lambda: glyph_targets([], "tiny", TOK), ValueError,
     "non-empty list of Page"),
    ("glyph_targets: pages hold a str", lambda: glyph_targets(["ab"], "tiny", TOK), TypeError,
     "pages must hold Page"),
    ("pretrain_encoder: modes a str", lambda: pretrain_encoder(_reader(), RECIPE, steps=1,
                                                               modes="tiny", progress=False),
     ValueError, "modes must be a non-empty list"),
    ("pretrain_encoder: recipe None", lambda: pretrain_encoder(_reader(), None, steps=1,
                                                               progress=False),
     TypeError, "recipe must be a PageRecipe"),
    ("train_curriculum: a mode the model's config lacks", lambda: train_curriculum(
        _tiny_only_reader(), QUICK_CURRICULUM, progress=False),
     ValueError, r"modes \['small'\] that the model's config"),
    ("train_curriculum: curriculum a str", lambda: train_curriculum(_tiny_only_reader(), "quick",
                                                                    progress=False),
     TypeError, "curriculum must be a Curriculum"),
    ("Curriculum: start ''", lambda: Curriculum(pretrain=None, stages=NATIVE_CURRICULUM.stages,
                                                start=""),
     ValueError, "start must be None or a reader kind"),
    ("Curriculum: pretrain a str", lambda: Curriculum(pretrain="encoder",
                                                      stages=NATIVE_CURRICULUM.stages),
     TypeError, "pretrain must be a Stage or None"),

    # -- the chapter's experiments
    ("compression_sweep: no font sizes", lambda: compression_sweep(
        _reader(), font_sizes=(), lengths=((1, 2),), pages_per_cell=1), ValueError, "non-empty"),
    ("compression_sweep: model None", lambda: compression_sweep(
        None, font_sizes=(12,), lengths=((1, 2),), pages_per_cell=1),
     TypeError, "model must be a MiniDeepSeekOCR"),
    ("compression_sweep: pages_per_cell 0", lambda: compression_sweep(
        _reader(), font_sizes=(12,), lengths=((1, 2),), pages_per_cell=0),
     ValueError, "pages_per_cell must be a positive int"),
    ("binned_precision: edges not increasing", lambda: binned_precision(
        [_reading(32, 1.0)], [1, 1]), ValueError, "increasing"),
    ("compression_rho: one reading", lambda: compression_rho([_reading(32, 0.9)]), ValueError,
     "at least two"),
    ("memory_sweep: no turns", lambda: memory_sweep(_reader(), [], [1.0]), ValueError,
     "non-empty"),
    ("memory_sweep: factor 2", lambda: memory_sweep(_reader(), [_page()], [2.0]), ValueError,
     "factor must be in"),
    ("token_budget: two modes", lambda: token_budget(
        _budget_readings() + [_reading(30, 0.5, tokens=100)]), ValueError, "one mode"),
    ("token_budget: no page above the token count", lambda: token_budget(_budget_readings()[:2]),
     ValueError, "both above and at most 64"),
    ("token_budget: no readings", lambda: token_budget([]), ValueError,
     "non-empty list of Reading"),
    ("pick_samples: two readings", lambda: pick_samples(_budget_readings()[:2]), ValueError,
     "at least three"),
    ("control_pixels: unknown control", lambda: control_pixels(_pixels(), control="noise"),
     ValueError, "control must be one of"),
    ("control_pixels: tile that does not divide the page", lambda: control_pixels(
        _pixels(), control="shuffled", tile=5), ValueError, "tile=5 must divide"),
    ("control_pixels: tile 0", lambda: control_pixels(_pixels(), control="page", tile=0),
     ValueError, "tile must be a positive int"),
    ("control_pixels: 3-D pixels", lambda: control_pixels(_x(1, 32, 32), "page"), ValueError,
     "pixels must be"),
    ("read_controls: no pages", lambda: read_controls(_reader(), [], "tiny"), ValueError,
     "pages"),
    ("read_controls: pages hold a str", lambda: read_controls(_reader(), ["page"], "tiny"),
     TypeError, "pages must hold Page"),
    ("read_controls: model a str", lambda: read_controls("reader", [_page()], "tiny"), TypeError,
     "model"),

    # -- the committed reader
    ("load_reader: unknown kind", lambda: load_reader(0, "huge"), ValueError, "kind"),
    ("reader_path: unknown kind", lambda: reader_path(0, "huge"), ValueError, "kind"),

    # -- figures
    ("plot_compression: no readings", lambda: plot_compression([], [0, 1]), ValueError,
     "non-empty list of Reading"),
    ("plot_token_budget: ax a str", lambda: plot_token_budget(list(_readings()[:2]), [0, 1, 4],
                                                              ax="axes"),
     TypeError, "ax must be a matplotlib Axes"),
    ("plot_token_budget: two modes", lambda: plot_token_budget(list(_readings()), [0, 1, 4]),
     ValueError, "one mode"),
    ("plot_memory: recall of the wrong shape", lambda: plot_memory(np.zeros((3, 2)), [1.0, 0.5]),
     ValueError, "recall must be"),
    ("plot_token_grid: page a str", lambda: plot_token_grid("page"), TypeError,
     "page must be a Page"),
    ("readings_html: a reading without its page", lambda: readings_html(
        [Reading(8, "tiny", 64, "ab", "ab", 1.0)]), ValueError, "must keep its page"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
