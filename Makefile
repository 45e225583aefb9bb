# Build the virtual environment, run the tests and run the smoke pipeline.
#
#   make install   create .venv (Python 3.11) and install the package with its test extra
#   make test      install, then run every test
#   make smoke     install, then run the pipeline on config/config.yaml; after an
#                  interruption it continues where it stopped (--rerun-incomplete)

PYTHON ?= python3.11
VENV ?= .venv
CORES ?= all
PIP_INSTALL_FLAGS ?=

# The stamp holds the sha256 of the pyproject.toml that was last installed,
# so that install runs pip again only when the dependencies may have changed.
INSTALL_STAMP := $(VENV)/.nats-bench-install

.PHONY: install test smoke

install:
	@test -x "$(VENV)/bin/python" || $(PYTHON) -m venv "$(VENV)"
	@if [ -f "$(INSTALL_STAMP)" ] && [ "$$(cat "$(INSTALL_STAMP)")" = "$$(sha256sum pyproject.toml)" ]; then \
		echo "$(VENV) is up to date with pyproject.toml"; \
	else \
		"$(VENV)/bin/python" -m pip install $(PIP_INSTALL_FLAGS) -e '.[test]' && \
		sha256sum pyproject.toml > "$(INSTALL_STAMP)"; \
	fi

test: install
	"$(VENV)/bin/python" -m pytest -q

smoke: install
	"$(VENV)/bin/snakemake" --cores $(CORES) --rerun-incomplete
