# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Rasa 3.6 installs on Python 3.8-3.10 only: find a real 3.10 (a pyenv shim may not be one).
PYTHON310 := $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)

.PHONY: run install test test-fast train validate lint-conversations designer nlu-report eval bench translations browser shell interactive clean audit

run: install ## Start everything: web chat, Rasa, actions, backend (Ctrl-C stops all)
	$(PY) -m bot import-placements demo/placements.csv --creditors demo/creditors.yml
	$(PY) -m bot up

install: $(VENV)/.installed node_modules/.installed ## Virtual environment, Python and npm packages, catalogs
	$(PY) -m bot translations compile

$(VENV)/.installed: requirements.txt requirements-test.txt constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6 does not run on newer Pythons)."; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt pip setuptools wheel
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt -c constraints.txt
	$(PY) -m pip check
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

train: install ## Train the model if the training data changed since the last one
	$(PY) -m bot train

validate: install ## Check the training data and domain for conflicts
	$(PY) -m bot validate

lint-conversations: install ## Rasa validation plus the product's conversation-design rules (docs/designers.md)
	$(PY) -m bot lint-conversations

designer: install ## Check, train only if the data changed, run the conversation tests, print a report
	$(PY) -m bot designer

nlu-report: train ## Intent accuracy per language on the held-out sets in tests/nlu
	$(PY) -m bot nlu-report

eval: train ## Intent and entity scores, confusions, critical-intent recall on the held-out sets (also in results/)
	$(PY) -m bot nlu-report --out results

bench: train ## Load benchmark of the whole stack against a plain Rasa assistant (writes benchmarks/results.md)
	$(PY) -m benchmarks.run

translations: install ## Extract, update and compile the message catalogs in locales/
	$(PY) -m bot translations

browser: ## Debian's Chromium for the browser tests
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

test: install browser train lint-conversations audit ## The whole suite: unit, integration, e2e, browser, stories, NLU
	$(PY) -m pytest
	$(PY) -m bot test-stories
	$(PY) -m bot nlu-report

test-fast: install ## Everything that needs no running stack
	$(PY) -m pytest -m "not e2e and not browser"

AUDIT_VENV := var/audit-venv
# pip-audit needs packaging>=23 and Rasa 3.6 pins packaging<21: it gets a virtual environment of its own.
# No network (or no advisories reachable): a loud "NOT RUN" and success; a fixable vulnerability: failure.
audit: ## Known vulnerabilities in the pinned dependencies (pip-audit; see .ci/audit.py)
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON310) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/pip install --quiet -r requirements-audit.txt; } || \
		{ echo "audit: NOT RUN, pip-audit could not be installed (no network?)"; rm -rf $(AUDIT_VENV); exit 0; }
	$(PYTHON310) .ci/audit.py $(AUDIT_VENV)/bin/pip-audit constraints.txt

# `make run` serves the actions (5055) and the NLG (8000) that endpoints.yml names; Rasa's own
# server there holds 5005, so the shell's runs beside it. AS is the sender: a phone number on file
# identifies that demo consumer (verification still follows).
SHELL_PORT ?= 5006
AS ?= +14155550101

shell: train ## Talk to the assistant in the terminal (needs `make run` in another terminal)
	$(PY) -m bot.rasa_server shell --model models --endpoints endpoints.yml -p $(SHELL_PORT) --conversation-id '$(AS)'

interactive: train ## Teach the assistant by correcting it turn by turn (needs `make run` in another terminal)
	$(PY) -m bot.rasa_server interactive --model models --endpoints endpoints.yml -p $(SHELL_PORT) \
		--conversation-id '$(AS)' --skip-visualization

clean:
	rm -rf var/runtime .pytest_cache results
