"""What score-driven strategies may need besides the model: calibration tokens, texts, tokenizer."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ...validate import SpecError


@dataclass
class Calibration:
    """A fixed calibration sample of the training split; trim_vocab swaps in its new tokenizer."""

    input_ids: torch.Tensor | None = None   # (n, seq_len) token blocks, no padding
    texts: list[str] = field(default_factory=list)
    tokenizer: Any = None

    def require_ids(self, where: str) -> torch.Tensor:
        if self.input_ids is None:
            raise SpecError(f"{where}: this score needs calibration data (run with --calibration N > 0)")
        return self.input_ids

    def require_texts(self, where: str) -> tuple[list[str], Any]:
        if not self.texts or self.tokenizer is None:
            raise SpecError(f"{where}: this strategy needs the dataset texts and the tokenizer")
        return self.texts, self.tokenizer
