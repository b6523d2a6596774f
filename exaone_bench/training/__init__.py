"""The one training loop every model gets, its optimiser and LR schedule, and the recovery modes (fine-tune, distil, LoRA)."""
