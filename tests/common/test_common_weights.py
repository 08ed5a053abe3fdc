"""Tests for readingroom.common.weights: committed safetensors weights with a provenance record."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from datetime import datetime, timezone

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from readingroom.common import (
    TinyTransformer,
    TransformerConfig,
    file_sha256,
    load_committed,
    load_weights,
    read_record,
    run_provenance,
    save_weights,
    seed_everything,
)
from readingroom.common import weights as weights_module

PROVENANCE = dict(
    command="python -m readingroom.demo.train --seed 0 --out book/data/demo.safetensors",
    seed=0,
    data="64 random sequences, T=8, V=16",
)


def tiny(seed: int = 0, *, tie: bool = False, n_layers: int = 1, d_model: int = 16):
    seed_everything(seed)
    config = TransformerConfig(
        vocab_size=16, n_ctx=8, d_model=d_model, n_layers=n_layers, n_heads=2,
        tie_embeddings=tie,
    )
    return TinyTransformer(config).eval()


def tokens() -> torch.Tensor:
    return torch.randint(0, 16, (3, 8), generator=torch.Generator().manual_seed(1))


def same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --- round trip and record -----------------------------------------------------------------------


@pytest.mark.parametrize("tie", [False, True])
def test_round_trip_gives_identical_outputs(tmp_path, tie):
    trained = tiny(0, tie=tie)
    path = tmp_path / "demo.safetensors"
    record_path = save_weights(trained, path, metrics={"final_loss": 1.25}, **PROVENANCE)
    assert record_path == tmp_path / "demo.json"

    fresh = tiny(1, tie=tie)
    assert not same_state(fresh, trained)
    record = load_weights(fresh, path)
    assert same_state(fresh, trained)
    with torch.no_grad():
        torch.testing.assert_close(fresh(tokens()), trained(tokens()), rtol=0, atol=0)
    assert record == json.loads(record_path.read_text())
    assert record["metrics"] == {"final_loss": 1.25}
    if tie:  # loading copies in place: the tie survives
        assert fresh.unembed.weight is fresh.tok_emb.weight


def test_str_path_and_parent_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "w.safetensors"
    record_path = save_weights(tiny(), str(path), **PROVENANCE)
    assert path.is_file() and record_path == path.with_suffix(".json")
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.json", "w.safetensors"]
    load_weights(tiny(1), str(path))


def test_record_fields(tmp_path):
    model = tiny()
    path = tmp_path / "demo.safetensors"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    save_weights(
        model, path, metrics={"final_loss": 0.5, "steps": 200, "acc": np.float32(0.75)},
        extra={"config": {"d_model": 16}, "note": None}, **PROVENANCE,
    )
    record = read_record(path)
    expected = {
        "file", "sha256", "bytes", "command", "seed", "data", "metrics", "extra",
        "code_version", "torch", "created", "model", "parameters", "tensors", "tied",
    }
    assert set(record) == expected
    assert record["file"] == "demo.safetensors"
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    assert record["bytes"] == path.stat().st_size
    assert record["command"] == PROVENANCE["command"]
    assert record["seed"] == 0 and record["data"] == PROVENANCE["data"]
    assert record["metrics"] == {"final_loss": 0.5, "steps": 200, "acc": 0.75}
    assert isinstance(record["metrics"]["steps"], int)
    assert record["extra"] == {"config": {"d_model": 16}, "note": None}
    assert record["torch"] == torch.__version__
    created = datetime.fromisoformat(record["created"])
    assert created.utcoffset().total_seconds() == 0 and created >= before
    assert record["model"] == "readingroom.common.transformer.TinyTransformer"
    assert record["parameters"] == model.num_parameters()
    assert record["tied"] == {}
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
        for key in keys:
            tensor = handle.get_tensor(key)
            assert record["tensors"][key] == [list(tensor.shape), "float32"]
    assert keys == set(record["tensors"]) == set(model.state_dict())
    assert record["tensors"]["tok_emb.weight"] == [[16, 16], "float32"]
    # read_record accepts the record's own path too
    assert read_record(tmp_path / "demo.json") == record


def test_tied_weights_are_stored_once_and_recorded(tmp_path):
    model = tiny(tie=True)
    path = tmp_path / "tied.safetensors"
    save_weights(model, path, **PROVENANCE)
    record = read_record(path)
    assert record["tied"] == {"unembed.weight": "tok_emb.weight"}
    assert "unembed.weight" not in record["tensors"]
    with safe_open(str(path), framework="pt") as handle:
        assert "unembed.weight" not in set(handle.keys())
    assert record["parameters"] == model.num_parameters()  # the tied matrix counted once
    # an untied model of the same shape gets the stored matrix under both keys
    untied = tiny(1, tie=False)
    load_weights(untied, path)
    assert torch.equal(untied.unembed.weight, model.tok_emb.weight)
    assert torch.equal(untied.tok_emb.weight, model.tok_emb.weight)


def test_untied_file_into_tied_model_with_different_values_raises(tmp_path):
    path = tmp_path / "untied.safetensors"
    save_weights(tiny(tie=False), path, **PROVENANCE)
    with pytest.raises(ValueError, match="ties unembed.weight to tok_emb.weight"):
        load_weights(tiny(1, tie=True), path)


class Odd(nn.Module):
    """Non-contiguous parameter and a buffer that is a partial view of another tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 3).t())  # [3, 4], non-contiguous
        self.register_buffer("row", self.w.data[0])  # shares storage, different view


def test_non_contiguous_and_overlapping_tensors_are_saved_as_copies(tmp_path):
    torch.manual_seed(0)
    model = Odd()
    path = tmp_path / "odd.safetensors"
    save_weights(model, path, **PROVENANCE)
    assert read_record(path)["tied"] == {}
    torch.manual_seed(1)
    other = Odd()
    load_weights(other, path)
    assert torch.equal(other.w, model.w) and torch.equal(other.row, model.row)


def test_save_replaces_existing_files_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "demo.safetensors"
    save_weights(tiny(0), path, **PROVENANCE)
    first = read_record(path)["sha256"]
    save_weights(tiny(1), path, **{**PROVENANCE, "seed": 1})
    record = read_record(path)
    assert record["sha256"] != first and record["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.json", "demo.safetensors"]


# --- load errors ---------------------------------------------------------------------------------


def test_tampered_file_raises(tmp_path):
    path = tmp_path / "demo.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    model = tiny(1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="was modified after it was recorded"):
        load_weights(model, path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_missing_record_raises(tmp_path):
    path = tmp_path / "demo.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    (tmp_path / "demo.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"record .*demo\.json"):
        load_weights(tiny(1), path)
    with pytest.raises(FileNotFoundError, match=r"demo\.json"):
        read_record(path)


def test_missing_weights_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.safetensors"):
        load_weights(tiny(), tmp_path / "nothing.safetensors")


def test_wrong_shape_raises_naming_key_and_shapes(tmp_path):
    path = tmp_path / "demo.safetensors"
    save_weights(tiny(d_model=16), path, **PROVENANCE)
    for strict in (True, False):
        shapes = r"tok_emb\.weight: file \[16, 16\] vs model \[16, 32\]"
        with pytest.raises(ValueError, match=shapes):
            load_weights(tiny(d_model=32), path, strict=strict)


def test_missing_keys_raise_unless_not_strict(tmp_path):
    path = tmp_path / "one_layer.safetensors"
    one = tiny(0, n_layers=1)
    save_weights(one, path, **PROVENANCE)
    two = tiny(1, n_layers=2)
    with pytest.raises(ValueError, match=r"missing from the file: blocks\.1\.ln1\.weight"):
        load_weights(two, path)
    block1 = {k: v.clone() for k, v in two.blocks[1].state_dict().items()}
    load_weights(two, path, strict=False)
    assert same_state(two.blocks[0], one.blocks[0])
    assert torch.equal(two.tok_emb.weight, one.tok_emb.weight)
    assert all(torch.equal(block1[k], v) for k, v in two.blocks[1].state_dict().items())


def test_unexpected_keys_raise_unless_not_strict(tmp_path):
    path = tmp_path / "two_layers.safetensors"
    two = tiny(0, n_layers=2)
    save_weights(two, path, **PROVENANCE)
    one = tiny(1, n_layers=1)
    with pytest.raises(ValueError, match=r"not in the model: blocks\.1\."):
        load_weights(one, path)
    load_weights(one, path, strict=False)
    assert same_state(one.blocks[0], two.blocks[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_load_moves_tensors_to_the_model_device(tmp_path):  # pragma: no cover - GPU only
    path = tmp_path / "demo.safetensors"
    save_weights(tiny().cuda(), path, **PROVENANCE)
    model = tiny(1).cuda()
    load_weights(model, path)
    assert all(t.is_cuda for t in model.state_dict().values())
    assert same_state(model.cpu(), tiny(0))


# --- malformed records ----------------------------------------------------------------------------


def test_read_record_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_record(tmp_path / "bad.safetensors")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        read_record(tmp_path / "list.safetensors")
    (tmp_path / "nosha.json").write_text('{"file": "nosha.safetensors"}')
    with pytest.raises(ValueError, match="has no 'sha256'"):
        read_record(tmp_path / "nosha.safetensors")


def test_file_sha256(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 5000  # > 1 MiB, several chunks
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest() == file_sha256(str(path))
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        file_sha256(tmp_path / "missing.bin")


# --- code version --------------------------------------------------------------------------------


def test_code_version_is_null_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    path = tmp_path / "out" / "w.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] is None


def test_code_version_from_the_environment_on_a_copy_without_git(tmp_path, monkeypatch):
    # a copy of the tree sent to another machine: no .git there, or a stale one
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("READINGROOM_CODE_COMMIT", "96dc9c7c")
    path = tmp_path / "w.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] == {
        "commit": "96dc9c7c", "dirty": None, "source": "READINGROOM_CODE_COMMIT"}
    assert run_provenance("cmd")["code_version"]["commit"] == "96dc9c7c"


def test_code_version_is_null_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no git executable to be found
    path = tmp_path / "w.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] is None


def test_code_version_is_null_when_git_hangs(tmp_path, monkeypatch):
    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="git", timeout=10)

    monkeypatch.setattr(weights_module.subprocess, "run", hang)
    path = tmp_path / "w.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_in_a_repository(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True, capture_output=True, text=True,
        ).stdout.strip()

    git("init", "-q")
    (repo / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")

    # saving into a new (untracked) folder of a clean checkout: the outputs do not count
    path = repo / "book" / "data" / "w.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] == {"commit": head, "dirty": False}
    # committed weights re-saved with other values: still not dirty
    git("add", "book")
    git("commit", "-q", "-m", "weights")
    head = git("rev-parse", "HEAD")
    save_weights(tiny(1), path, **PROVENANCE)
    assert read_record(path)["code_version"] == {"commit": head, "dirty": False}
    # a modified tracked file makes it dirty
    (repo / "code.py").write_text("x = 2\n")
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] == {"commit": head, "dirty": True}
    # so does an untracked file
    git("checkout", "--", "code.py")
    (repo / "new_module.py").write_text("y = 1\n")
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] == {"commit": head, "dirty": True}
    # ... unless the same run wrote it: run_outputs are left out like the two files
    (repo / "new_module.py").unlink()
    other = repo / "book" / "data" / "other.safetensors"
    save_weights(tiny(), other, **PROVENANCE)
    summary = repo / "book" / "data" / "summary.json"
    summary.write_text("{}\n")
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] == {"commit": head, "dirty": True}
    save_weights(tiny(), path, **PROVENANCE,
                 run_outputs=[other, other.with_suffix(".json"), str(summary)])
    assert read_record(path)["code_version"] == {"commit": head, "dirty": False}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_is_null_in_a_repository_without_commits(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    path = tmp_path / "repo" / "w.safetensors"
    save_weights(tiny(), path, **PROVENANCE)
    assert read_record(path)["code_version"] is None


def test_buffers_of_other_dtypes_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).train()
    model(torch.randn(5, 3))  # updates running stats and the int64 step counter
    path = tmp_path / "bn.safetensors"
    save_weights(model, path, **PROVENANCE)
    record = read_record(path)
    assert record["tensors"]["1.num_batches_tracked"] == [[], "int64"]
    assert record["parameters"] == 3 * 4 + 4 + 4 + 4  # buffers are not parameters
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    load_weights(other, path)
    assert same_state(other, model)


# --- run_provenance -------------------------------------------------------------------------


def test_run_provenance_fields():
    from readingroom.common import run_provenance

    prov = run_provenance("python -m x --seed 0")
    assert set(prov) == {"command", "argv", "date_utc", "threads", "torch", "python", "device",
                         "kernels", "code_version"}
    from readingroom.isa import kernel_path

    assert prov["kernels"] == kernel_path()
    assert prov["command"] == "python -m x --seed 0" and prov["torch"] == str(torch.__version__)
    assert prov["device"].startswith("cpu: ") and prov["threads"] == torch.get_num_threads()
    code = prov["code_version"]  # this checkout is a git repository
    assert code is None or (len(code["commit"]) == 40 and isinstance(code["dirty"], bool))


def test_code_version_leaves_the_runs_outputs_out_of_dirty(tmp_path):
    # A fresh repository with one commit: writing the run's own output keeps it clean, any
    # other new file makes it dirty.
    import subprocess

    from readingroom.common import weights as weights_module

    git = ["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run(git + ["add", "a.txt"], check=True)
    subprocess.run(git + ["commit", "-qm", "a"], check=True)
    (tmp_path / "out.json").write_text("{}")
    clean = weights_module._code_version(tmp_path, (tmp_path / "out.json",))
    assert clean["dirty"] is False and len(clean["commit"]) == 40
    (tmp_path / "other.txt").write_text("b")
    assert weights_module._code_version(tmp_path, (tmp_path / "out.json",))["dirty"] is True


# --- load_committed: the one way packages load committed weights ---------------------------------


def committed(tmp_path, metrics=None):
    path = tmp_path / "demo.safetensors"
    save_weights(tiny(0), path, **{**PROVENANCE, "metrics": metrics or {}},
                 extra={"d_model": 16})
    return path


def mean_logit(model: nn.Module) -> dict[str, float]:
    with torch.no_grad():
        return {"mean_logit": float(model(tokens()).mean())}


def test_load_committed_loads_into_a_model_or_a_factory_in_eval_mode(tmp_path):
    trained = tiny(0)
    path = committed(tmp_path, mean_logit(trained))
    model = tiny(1).train()
    loaded, record = load_committed(path, model, command="make it")
    assert loaded is model and not loaded.training and same_state(loaded, trained)
    assert record == read_record(path)

    seen = []

    def factory(record):
        seen.append(record["extra"]["d_model"])
        return tiny(2, d_model=record["extra"]["d_model"])

    loaded, _ = load_committed(str(path), factory, command="make it", check=mean_logit,
                               device="cpu")
    assert seen == [16] and not loaded.training and same_state(loaded, trained)


def test_load_committed_missing_file_names_path_and_command(tmp_path):
    path = tmp_path / "sub" / "demo.safetensors"
    built = []
    with pytest.raises(FileNotFoundError) as err:
        load_committed(path, lambda record: built.append(1), command="python -m demo --seed 3")
    assert str(path) in str(err.value) and "`python -m demo --seed 3`" in str(err.value)
    assert "only its record" not in str(err.value) and not built  # nothing built
    with pytest.raises(FileNotFoundError, match="does not exist$"):
        load_committed(path, tiny(), command=None)
    # only the record is committed (a large model's weights stay out of the repository)
    path = committed(tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"only its record demo\.json is committed; "
                                                r"make it with `python -m demo`"):
        load_committed(path, tiny(), command="python -m demo")


def test_load_committed_refuses_a_tampered_file(tmp_path):
    path = committed(tmp_path)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="was modified after it was recorded"):
        load_committed(path, tiny(1), command="make it")


def test_load_committed_reproduce_check_names_the_metric(tmp_path):
    recorded = mean_logit(tiny(0))["mean_logit"]
    path = committed(tmp_path, {"mean_logit": recorded, "loss": 1.5})
    # the check measures what the record says (other recorded metrics are not re-measured)
    load_committed(path, tiny(1), command="make it", check=mean_logit)

    def off(by):
        return lambda model: {"mean_logit": mean_logit(model)["mean_logit"] + by}

    load_committed(path, tiny(1), command="make it", check=off(1e-3), tolerance=2e-3)
    with pytest.raises(ValueError) as err:
        load_committed(path, tiny(1), command="python -m demo", check=off(1e-3), tolerance=5e-4)
    message = str(err.value)
    assert "no longer reproduces its record" in message and "mean_logit" in message
    assert repr(recorded) in message and repr(recorded + 1e-3) in message
    assert "tolerance 0.0005" in message and "`python -m demo`" in message
    with pytest.raises(ValueError, match="mean_logit"):  # NaN never passes
        load_committed(path, tiny(1), command="x", check=lambda m: {"mean_logit": math.nan})
    with pytest.raises(ValueError, match=r"'accuracy', which its record does not hold"):
        load_committed(path, tiny(1), command="x", check=lambda m: {"accuracy": 1.0})
