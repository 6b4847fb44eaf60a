# Entry points. `make demo` runs the main job on the embedded emulator; `make test`
# installs what the tests need and runs every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTIONS := build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/srvlab/rds

.PHONY: venv demo test lint unit sanity bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt emulator/pyproject.toml
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r tests/requirements.txt
	$(BIN)/pip install --quiet -e ./emulator
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn ../../../.. $(COLLECTION_LINK)
	echo "$(abspath $(COLLECTIONS))" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/srvlab-collections.pth"
	touch $@

demo: venv
	$(BIN)/python scripts/library_demo.py

test: venv lint unit sanity

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest

sanity: venv
	bash scripts/ansible-sanity.sh $(BIN)

bench: venv
	$(BIN)/python tests/bench/bench_library.py

clean:
	rm -rf $(VENV) build
