"""Shared core used by every chapter: seeding, devices and presets, a tiny transformer, a
training loop, the plotting style, the thread policy, chapter timing, offline guard, book data
paths, and the weights the book trains itself (saved with a provenance record).

Chapters import from here rather than from the submodules::

    from readingroom.common import (
        seed_everything, choose_preset, TransformerConfig, TinyTransformer, train, plot_history,
    )

Submodules: :mod:`~readingroom.common.seed`, :mod:`~readingroom.common.device`,
:mod:`~readingroom.common.transformer`, :mod:`~readingroom.common.train`,
:mod:`~readingroom.common.plotting`, :mod:`~readingroom.common.timer`,
:mod:`~readingroom.common.threads` (the one-thread-per-process policy),
:func:`~readingroom.common.kernel_path`/:func:`~readingroom.common.same_kernels` (from
:mod:`readingroom.isa`, the AVX2 kernel pin that makes CPU records replay exactly),
:mod:`~readingroom.common.offline`, :mod:`~readingroom.common.paths`,
:mod:`~readingroom.common.executor` (``make_executor``: a local process pool or a Dask cluster),
:mod:`~readingroom.common.weights` (``save_weights``/``load_weights``/``load_committed``/
``read_record``/``file_sha256``: committed ``.safetensors`` weights with their provenance record),
:mod:`~readingroom.common.sparse` (a TopK or ReLU sparse autoencoder, ``SparseAutoencoder``/
``train_sae``, imported from the submodule), :mod:`~readingroom.common.checks` (the argument
checks every package uses where input enters: ``check_int``, ``check_float``, ``check_seed``, ...).
"""

from .device import Preset, choose_preset, pick_device
from .offline import NetworkBlockedError, allow_network, block_network, network_blocked
from .checks import (
    MAX_SEED, check_bool, check_choice, check_device, check_dropout, check_float, check_int,
    check_seed, check_seeds, positive_int_arg, seed_arg,
)
from .executor import make_executor
from .paths import book_data_path, load_book_data, repo_root
from .plotting import BOOK_COLORS, plot_history, use_book_style
from .seed import make_generator, seed_everything
from ..isa import kernel_path, same_kernels
from .threads import thread_count, thread_env, use_threads
from .timer import ChapterTimer, start_chapter
from .train import TrainHistory, eval_mode, next_token_loss, progress_enabled, train
from .transformer import TinyTransformer, TransformerConfig
from .weights import (
    file_sha256, load_committed, load_weights, read_record, run_provenance, save_weights,
)

__all__ = [
    "MAX_SEED",
    "check_bool",
    "check_choice",
    "check_device",
    "check_dropout",
    "check_float",
    "check_int",
    "check_seed",
    "check_seeds",
    "positive_int_arg",
    "seed_arg",
    "make_executor",
    "seed_everything",
    "make_generator",
    "pick_device",
    "Preset",
    "choose_preset",
    "TransformerConfig",
    "TinyTransformer",
    "TrainHistory",
    "train",
    "eval_mode",
    "progress_enabled",
    "next_token_loss",
    "use_book_style",
    "plot_history",
    "BOOK_COLORS",
    "use_threads",
    "thread_count",
    "thread_env",
    "kernel_path",
    "same_kernels",
    "ChapterTimer",
    "start_chapter",
    "block_network",
    "allow_network",
    "network_blocked",
    "NetworkBlockedError",
    "repo_root",
    "book_data_path",
    "load_book_data",
    "save_weights",
    "load_weights",
    "load_committed",
    "read_record",
    "run_provenance",
    "file_sha256",
]
