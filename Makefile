# The two commands a fresh machine needs: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch is pinned: on this machine torch==2.13.0 is a CPU wheel on local disk, while an
# unpinned torch pulls a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: install chromium run test bench clean

install: $(STAMP) chromium

# The browser tests (tests/browser) drive Debian's chromium: Playwright's own browser
# download needs the internet. CI runs as root on a fresh machine, so apt-get works there;
# elsewhere (no root) `make run` must still work: the browser tests then skip, and with
# CI=true they fail, saying chromium is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "make: installing Debian's chromium for the browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "make: could not install chromium (not root?); the browser tests will skip"; }

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ./sdk -e '.[dev]'
	touch $(STAMP)

run: install
	$(PY) -m api.serve

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

bench: install
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
