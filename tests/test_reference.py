"""exaone-tiny's build path on the micro recipe, the tokenizer, the cache and model loading."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Exaone4ForCausalLM

from exaone_bench import cli
from exaone_bench.base_models.exaone_tiny import pretrain, store
from exaone_bench.base_models.exaone_tiny import recipe as recipes
from exaone_bench.base_models.load import load_model, resolve
from exaone_bench.base_models.source import SourceError
from exaone_bench.core.cache import sha256_file, verify_checksums


def test_default_recipe_mirrors_exaone_1_2b_proportions():
    cfg = recipes.model_config(recipes.DEFAULT)
    assert cfg.num_attention_heads // cfg.num_key_value_heads == 32 // 8
    assert cfg.intermediate_size == 2 * cfg.hidden_size == 2 * 2048 // 2048 * cfg.hidden_size
    assert cfg.head_dim * cfg.num_attention_heads == cfg.hidden_size
    assert cfg.tie_word_embeddings and set(cfg.layer_types) == {"full_attention"}
    assert cfg.sliding_window is None


def test_the_default_recipe_is_shipped_so_a_fresh_clone_never_pretrains_it():
    """The default checkpoint verifies from the package (hours to pretrain on 2 cores); built under a candidate's name."""
    meta = store.shipped_meta(recipes.DEFAULT)
    assert meta is not None and meta["recipe_hash"] == recipes.DEFAULT.hash
    assert store.ensure_reference(progress=False) == store.shipped_dir(recipes.DEFAULT)
    assert meta["built_as"]["name"] == recipes.from_assignments(recipes.DEFAULT, ["steps=6000"]).name
    assert meta["validation"]["review_validation_split"]["lm_loss"] < 4.8  # the LM goal of docs/reference.md


def test_micro_build_writes_a_loadable_checkpoint(micro_reference):
    names = {p.name for p in micro_reference.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "run_meta.json", "checksums.json"} <= names
    assert verify_checksums(micro_reference)
    model = AutoModelForCausalLM.from_pretrained(micro_reference)
    assert isinstance(model, Exaone4ForCausalLM)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    meta = json.loads((micro_reference / "run_meta.json").read_text())
    assert meta["recipe_hash"] == recipes.MICRO.hash and meta["seed"] == 0
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())
    assert meta["validation"]["corpus_holdout"]["unigram_loss"] > 0
    assert len(meta["corpus"]["sha256"]) == 64


def test_tokenizer_round_trip(micro_reference):
    tok = AutoTokenizer.from_pretrained(micro_reference)
    text = "A thoroughly enjoyable film — though Hamlet would've hated it!"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.pad_token_id == 0 and tok.eos_token_id == 2
    assert max(ids) < recipes.MICRO.vocab_size


def test_cache_is_instant_and_recipe_change_rebuilds(micro_reference):
    t0 = time.perf_counter()
    assert store.ensure_reference(recipes.MICRO, progress=False) == micro_reference
    assert time.perf_counter() - t0 < 1.0
    changed = recipes.with_overrides(recipes.MICRO, steps=3)
    assert changed.hash != recipes.MICRO.hash
    assert store.cached_meta(changed) is None  # same dir, different recipe: not a cache hit


def test_corrupt_checkpoint_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path))
    recipe = recipes.with_overrides(recipes.MICRO, steps=2)
    out = store.ensure_reference(recipe, progress=False)
    (out / "model.safetensors").write_bytes(b"truncated")
    assert store.cached_meta(recipe) is None
    store.ensure_reference(recipe, progress=False)
    assert verify_checksums(out)


def test_pretraining_lowers_loss_below_unigram(tmp_path, monkeypatch):
    """A short but real pretraining run must beat the unigram baseline on held-out text."""
    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path))
    recipe = recipes.with_overrides(recipes.MICRO, steps=120, lr=1e-2, max_corpus_chars=60_000)
    out = store.ensure_reference(recipe, progress=False)
    held = json.loads((out / "run_meta.json").read_text())["validation"]["corpus_holdout"]
    assert held["lm_loss"] < held["unigram_loss"]


def test_load_from_local_directory(micro_reference):
    model, tok, src = load_model(str(micro_reference))
    assert src.kind == "local" and not model.training
    x = tok("fresh and funny", return_tensors="pt").input_ids
    with torch.no_grad():
        assert model(x).logits.shape == (1, x.shape[1], recipes.MICRO.vocab_size)


def test_resolve_kinds_and_errors(tmp_path, data_root):
    assert resolve("LGAI-EXAONE/EXAONE-4.0-1.2B").kind == "hub"
    builtin = resolve("exaone-tiny", build=False)
    assert builtin.kind == "builtin" and builtin.location == str(store.shipped_dir())  # shipped: never built here
    with pytest.raises(SourceError, match="unknown model source 'exaone-huge'; accepted: a built-in name"):
        resolve("exaone-huge")
    with pytest.raises(SourceError, match="directory has no config.json"):
        resolve(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(SourceError, match="is a file, not a model directory"):
        resolve(str(tmp_path / "weights.bin"))


def test_exaone_tiny_config_is_known_before_it_is_built(tmp_path, monkeypatch):
    """A fresh clone checks experiment specs at collection: no reference build, no weights."""
    from exaone_bench.base_models.load import cached_config
    from exaone_bench.compression.registry import check
    from exaone_bench.core.validate import SpecError

    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path))
    config = cached_config("exaone-tiny")
    assert not (tmp_path / "models").exists()
    d = recipes.DEFAULT
    assert (config.num_hidden_layers, config.hidden_size, config.num_key_value_heads, config.vocab_size) == (
        d.num_hidden_layers, d.hidden_size, d.num_key_value_heads, d.vocab_size)
    with pytest.raises(SpecError, match=r"\[last2\]\.compression\.drop_layers: 9 is out of range \[0, 7\]"):
        check(config, {"drop_layers": [6, 9]}, where="drop_layers.yaml[last2].compression")
    assert cached_config("not-a-source") is None


def test_offline_hub_id_gives_a_clear_error():
    with pytest.raises(SourceError, match="(?s)cannot fetch 'LGAI-EXAONE/EXAONE-4.0-1.2B'.*pass the local directory"):
        load_model("LGAI-EXAONE/EXAONE-4.0-1.2B")


def test_device_auto_places_through_accelerate(micro_reference):
    model, _, _ = load_model(str(micro_reference), device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device.type == expected and not model.training


def _weights_sha(directory) -> str:
    return sha256_file(directory / "model.safetensors")


@pytest.fixture
def fresh_data(tmp_path, monkeypatch):
    """An empty data dir of its own: builds here never meet another test's cache."""
    root = tmp_path / "data"
    monkeypatch.setenv("EXAONE_BENCH_DATA", str(root))
    return root


PIECES = recipes.with_overrides(recipes.MICRO, steps=12, max_corpus_chars=8_000)


def test_pretraining_in_pieces_ends_with_the_weights_of_one_run(fresh_data, monkeypatch, tmp_path):
    whole = store.ensure_reference(PIECES, progress=False)
    whole_sha, whole_meta = _weights_sha(whole), json.loads((whole / "run_meta.json").read_text())
    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path / "pieces"))
    for stop in (5, 10):
        with pytest.raises(pretrain.Paused, match=f"paused at step {stop} of 12"):
            store.ensure_reference(PIECES, progress=False, steps_per_piece=5)
        state = torch.load(pretrain.resume_dir(PIECES) / pretrain.RESUME, weights_only=True)
        assert state["step"] == stop and len(state["losses"]) == stop
        assert store.cached_meta(PIECES) is None  # nothing half-built is ever a checkpoint
    out = store.ensure_reference(PIECES, progress=False, steps_per_piece=5)
    meta = json.loads((out / "run_meta.json").read_text())
    assert _weights_sha(out) == whole_sha  # same machine, same threads: bit-identical
    assert meta["loss_curve"] == whole_meta["loss_curve"]
    assert [(p["from_step"], p["to_step"]) for p in meta["trained_on"]] == [(0, 5), (5, 10), (10, 12)]
    assert not pretrain.resume_dir(PIECES).exists()  # a finished run leaves no state behind


def test_resume_after_a_kill(fresh_data, monkeypatch, tmp_path):
    """SIGKILL mid-pretraining (no cleanup runs); the next call resumes from the last state on disk."""
    recipe = recipes.with_overrides(recipes.MICRO, steps=300, max_corpus_chars=8_000)
    code = ("from exaone_bench.base_models.exaone_tiny import recipe as r, store; "
            "recipe = r.with_overrides(r.MICRO, steps=300, max_corpus_chars=8_000); "
            "store.ensure_reference(recipe, progress=False)")
    state_path = pretrain.resume_dir(recipe) / pretrain.RESUME
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
    try:
        deadline = time.monotonic() + 120
        while not state_path.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build ended before it could be killed"
    killed_at = torch.load(state_path, weights_only=True)["step"]
    assert 0 < killed_at < recipe.steps and store.cached_meta(recipe) is None
    resumed = store.ensure_reference(recipe, progress=False)
    pieces = json.loads((resumed / "run_meta.json").read_text())["trained_on"]
    assert pieces[0]["from_step"] == 0 and pieces[-1]["from_step"] == killed_at and pieces[-1]["to_step"] == 300

    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path / "whole"))
    assert _weights_sha(resumed) == _weights_sha(store.ensure_reference(recipe, progress=False))


def test_a_shipped_checkpoint_is_verified_instead_of_pretrained(fresh_data, monkeypatch, tmp_path, capsys):
    built = store.ensure_reference(PIECES, progress=False)
    monkeypatch.setattr(store, "SHIPPED", tmp_path / "shipped")
    shutil.copytree(built, tmp_path / "shipped" / PIECES.name)
    shutil.rmtree(built)
    assert store.ensure_reference(PIECES, progress=False) == tmp_path / "shipped" / PIECES.name
    assert not built.exists()  # verified, not pretrained

    with pytest.raises(pretrain.Paused):  # --rebuild pretrains even when a checkpoint is shipped
        store.ensure_reference(PIECES, rebuild=True, progress=False, steps_per_piece=6)
    monkeypatch.setattr(recipes, "MICRO", PIECES)
    assert cli.main(["reference", "--micro", "--rebuild"]) == 0
    out = capsys.readouterr().out
    assert f"{PIECES.name}: built here at {built}" in out
    assert "vs the shipped checkpoint: bit-identical weights" in out

    (tmp_path / "shipped" / PIECES.name / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(RuntimeError, match="files do not match checksums.json; restore them with git"):
        store.ensure_reference(PIECES, progress=False)


def test_a_candidate_ships_as_the_recipe_it_equals_and_nothing_else_ships(fresh_data, monkeypatch, tmp_path, capsys):
    """`reference --ship DIR`: a candidate built under its own name becomes the recipe's shipped checkpoint."""
    candidate = recipes.from_assignments(PIECES, ["steps=12"])  # PIECES under a candidate's name
    assert candidate.name != PIECES.name and dataclasses.replace(candidate, name=PIECES.name) == PIECES
    built = store.ensure_reference(candidate, progress=False)
    monkeypatch.setattr(store, "SHIPPED", tmp_path / "shipped")
    monkeypatch.setattr(recipes, "MICRO", PIECES)
    assert cli.main(["reference", "--micro", "--ship", str(built)]) == 0
    out = capsys.readouterr().out
    shipped = tmp_path / "shipped" / PIECES.name
    assert f"{PIECES.name}: shipped {built} at {shipped}" in out and f"shipped checkpoint verified at {shipped}" in out
    meta = json.loads((shipped / "run_meta.json").read_text())
    assert (meta["recipe"]["name"], meta["recipe_hash"]) == (PIECES.name, PIECES.hash)
    assert meta["built_as"] == {"name": candidate.name, "recipe_hash": candidate.hash}
    assert verify_checksums(shipped) and _weights_sha(shipped) == _weights_sha(built)
    assert store.ensure_reference(PIECES, progress=False) == shipped
    assert not store.reference_dir(PIECES).exists()  # verified, never pretrained

    assert cli.main(["reference", "--micro", "--set", "steps=13", "--set", "lr=0.001", "--ship", str(built)]) == 2
    err = capsys.readouterr().err
    assert "built from another recipe than" in err and "steps 12 (recipe: 13)" in err and "lr 0.003 (recipe: 0.001)" in err
    assert not store.shipped_dir(recipes.from_assignments(PIECES, ["steps=13", "lr=0.001"])).exists()
    (built / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="do not match checksums.json"):
        store.ship(built, PIECES)


def test_candidate_recipes_build_beside_the_default_and_bad_keys_fail():
    cand = recipes.from_assignments(recipes.DEFAULT, ["steps=15000", "lr=1e-3", "extra_corpus=brown_corpus,moby_dick"])
    assert (cand.steps, cand.lr, cand.extra_corpus) == (15000, 1e-3, ("brown_corpus", "moby_dick"))
    assert cand.name == f"exaone-tiny-{dataclasses.replace(cand, name='exaone-tiny').hash[:8]}"
    assert store.reference_dir(cand) != store.reference_dir(recipes.DEFAULT)
    assert recipes.from_assignments(recipes.DEFAULT, []) == recipes.DEFAULT
    with pytest.raises(ValueError, match=r"--set 'step=3': expected key=value with key one of"):
        recipes.from_assignments(recipes.DEFAULT, ["step=3"])
    with pytest.raises(ValueError, match="steps expects a int"):
        recipes.from_assignments(recipes.DEFAULT, ["steps=many"])


def test_brown_tags_are_stripped_back_to_sentences_and_unknown_packages_fail():
    from exaone_bench.data import npm_corpus
    from exaone_bench.data.corpus import extra_documents
    from exaone_bench.data.source import DataError

    tagged = ("\n\n\tDan/np Morgan/np told/vbd himself/ppl he/pps would/md forget/vb Ann/np Turner/np ./.\n"
              "He/pps said/vbd ``/`` no/rb ''/'' ,/, and/cc left/vbd (/( quietly/rb )/) ./.\n\n\n"
              "\tBut/cc all/abn of/in this/dt was/bedz rationalization/nn ./.\n")
    assert npm_corpus._brown_text(tagged) == [
        'Dan Morgan told himself he would forget Ann Turner. He said " no ", and left (quietly).\n'
        "But all of this was rationalization."]
    with pytest.raises(DataError, match=r"unknown extra_corpus \['wikipedia'\]; choose from .*'imdb_reviews'"):
        extra_documents(["brown_corpus", "wikipedia"])
    reviews = extra_documents(["imdb_reviews"])["imdb_reviews"]  # a registry package, no fetch: read here
    assert len(reviews) == 25_000 and reviews[0].startswith("I rented I AM CURIOUS-YELLOW") and "<br" not in reviews[0]


def test_shipped_or_built_builds_once_rebuilds_on_request_and_never_over_a_shipped_copy(tmp_path):
    from exaone_bench.core.cache import atomic_dir, located, shipped_or_built, write_checksums

    builds = []

    def build(target):
        def make():
            with atomic_dir(target) as tmp:
                (tmp / "x.txt").write_text(f"build {len(builds)}")
                write_checksums(tmp, ["x.txt"])
            builds.append(target)
        return make

    (tmp_path / "shipped" / "a").mkdir(parents=True)
    assert located(tmp_path / "shipped", tmp_path / "cache", "a") == tmp_path / "shipped" / "a"
    assert located(tmp_path / "shipped", tmp_path / "cache", "a", local=True) == tmp_path / "cache" / "a"
    assert located(tmp_path / "shipped", tmp_path / "cache", "b") == tmp_path / "cache" / "b"
    cached = tmp_path / "cache" / "a"
    assert shipped_or_built(cached, False, build(cached)) == cached and len(builds) == 1
    shipped_or_built(cached, False, build(cached))
    assert len(builds) == 1  # it checks out: read back, not built again
    shipped_or_built(cached, False, build(cached), rebuild=True)
    assert len(builds) == 2 and (cached / "x.txt").read_text() == "build 1" and verify_checksums(cached)
    with pytest.raises(ValueError, match="never rebuilt in place"):
        shipped_or_built(tmp_path / "shipped" / "a", True, build(tmp_path / "shipped" / "a"), rebuild=True)
    assert len(builds) == 2
