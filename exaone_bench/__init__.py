"""exaone-bench: structural compression experiments for EXAONE 4 models."""

import logging as _logging

# Import-time noise of libraries the suite loads (torchao's optional CUDA kernels failing to load on
# a CPU, torch's pytree deprecation for torchao's enums) is not the user's business; errors still show.
for _name in ("torchao", "torch.utils._pytree"):
    _logging.getLogger(_name).setLevel(_logging.ERROR)


__version__ = "0.1.0"
