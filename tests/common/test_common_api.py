"""The public API of readingroom.common: every name is exported and documented."""

import inspect

import readingroom.common as common

EXPECTED = {
    "seed_everything",
    "make_generator",
    "pick_device",
    "Preset",
    "choose_preset",
    "TransformerConfig",
    "TinyTransformer",
    "TrainHistory", "eval_mode", "progress_enabled",
    "train",
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
    "make_executor",
    "save_weights",
    "load_weights",
    "load_committed",
    "read_record",
    "file_sha256",
    "run_provenance",
    "check_int", "check_bool", "check_choice", "check_device", "check_dropout", "check_float",
    "check_seed", "check_seeds", "positive_int_arg", "seed_arg", "MAX_SEED",
}


def test_all_lists_the_public_api():
    assert set(common.__all__) == EXPECTED
    assert len(common.__all__) == len(EXPECTED)
    for name in EXPECTED:
        assert hasattr(common, name), name


def test_public_objects_and_modules_are_documented():
    assert common.__doc__
    for name in EXPECTED - {"BOOK_COLORS", "MAX_SEED"}:  # constants
        obj = getattr(common, name)
        assert inspect.getdoc(obj), name
        assert inspect.getmodule(obj).__doc__, name
