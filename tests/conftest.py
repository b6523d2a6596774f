"""Shared fixtures: an isolated data dir per test session, tiny real models."""
from __future__ import annotations

import os

import pytest
import torch

# Before transformers/huggingface_hub are imported: no test may reach for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def data_root(tmp_path_factory):
    """Point EXAONE_BENCH_DATA (and MLflow) at a per-worker temp dir so tests never touch ./data."""
    root = tmp_path_factory.mktemp("data")
    mp = pytest.MonkeyPatch()
    mp.setenv("EXAONE_BENCH_DATA", str(root))
    # One MLflow store per worker for every suite run a test starts: a new sqlite store runs
    # MLflow's schema migrations (seconds) each time. The default store (sqlite at the project
    # root) is tested where a test removes this (test_suite.test_pass_fail_and_readable_message).
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def micro_reference(data_root):
    """The micro recipe built through the real reference path (seconds)."""
    from exaone_bench.base_models.exaone_tiny.recipe import MICRO
    from exaone_bench.base_models.exaone_tiny.store import ensure_reference

    return ensure_reference(MICRO, progress=False)


def tiny_exaone_config(**overrides):
    """A small real Exaone4Config: 4 layers, 8 query heads in 2 KV groups, tied embeddings."""
    from transformers import Exaone4Config

    kwargs = dict(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=16, max_position_embeddings=128,
                  sliding_window=None, layer_types=["full_attention"] * 4, tie_word_embeddings=True,
                  pad_token_id=0, bos_token_id=1, eos_token_id=2)
    kwargs.update(overrides)
    if "num_hidden_layers" in overrides and "layer_types" not in overrides:
        kwargs["layer_types"] = ["full_attention"] * overrides["num_hidden_layers"]
    return Exaone4Config(**kwargs)


@pytest.fixture
def tiny_exaone():
    from transformers import Exaone4ForCausalLM

    torch.manual_seed(0)
    return Exaone4ForCausalLM(tiny_exaone_config()).eval()


@pytest.fixture(scope="session")
def tiny_llama_dir(micro_reference, tmp_path_factory):
    """A seeded random LlamaForCausalLM saved with the micro model's tokenizer: another family and size,
    loadable as a model source (a comparison model, say)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(micro_reference)
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=96, intermediate_size=192, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    out = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# Modules whose tests start whole suite runs or pretraining in subprocesses (a minute each): sent to the
# xdist workers first, so that two workers do not end on one long test while the other waits (make test
# must stay within its budget on 2 cores).
LONG_FIRST = ("test_shards.py", "test_tracking.py", "test_reference.py", "test_suite.py", "test_progress.py",
              "test_smollm2.py", "test_original.py", "test_usage.py", "test_generations.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))
