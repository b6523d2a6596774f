"""What score-driven strategies may need besides the model: calibration tokens, texts, tokenizer."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from exaone_bench.core.validate import SpecError
from exaone_bench.data.batches import token_blocks
from exaone_bench.data.split import DataSpec, split_texts


class MissingCalibration(SpecError):
    """A score or strategy asked the sample for what it does not hold; the caller names where."""


@dataclass
class Calibration:
    """A fixed calibration sample of the training split; trim_vocab swaps in its new tokenizer."""

    input_ids: torch.Tensor | None = None   # (n, seq_len) token blocks, no padding
    texts: list[str] = field(default_factory=list)
    tokenizer: Any = None

    def require_ids(self) -> torch.Tensor:
        if self.input_ids is None:
            raise MissingCalibration("this score needs calibration data (run with --calibration N > 0)")
        return self.input_ids

    def require_texts(self) -> tuple[list[str], Any]:
        if not self.texts or self.tokenizer is None:
            raise MissingCalibration("this strategy needs the dataset texts and the tokenizer")
        return self.texts, self.tokenizer


def calibration_for(tokenizer, n: int, seq_len: int = 64, seed: int = 0, data: DataSpec = DataSpec(),
                    texts: list[str] | None = None) -> Calibration:
    """n token blocks of the training split (never validation/test) plus its texts for token counts."""
    texts = texts if texts is not None else split_texts("train", data)
    ids = calibration_batch(tokenizer, texts, n, seq_len, seed) if n > 0 else None
    return Calibration(input_ids=ids, texts=texts, tokenizer=tokenizer)


def calibration_batch(tokenizer, texts: list[str], n: int, seq_len: int = 64, seed: int = 0) -> torch.Tensor:
    """(n, seq_len) token blocks cut from an EOS-joined stream of `texts` shuffled by `seed`."""
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed)).tolist()
    return token_blocks(tokenizer, [texts[i] for i in order], seq_len, n)
