# Omniflow: `make dev` runs the whole platform on this machine (moto), `make test` runs every test.
# Works as root on a fresh Debian (CI) and as a normal user.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
STAGE ?= dev
# Many tests wait on moto (visibility timeouts, Step Functions Wait states, the local stack)
# rather than compute, so four workers pay off even on two cores; PYTEST_WORKERS=2 to compare.
# loadfile keeps a file's tests on one worker, so the e2e tests share one local stack
# (xdist's loadgroup does not group under pytest 9).
PYTEST_WORKERS ?= 4
PYTEST_ARGS ?= -n $(PYTEST_WORKERS) --dist loadfile --timeout 900

.PHONY: help venv chromium dev test lint bench cost eval-intent eval-kb eval-quality eval-sentiment eval-tags \
	replay-dlq deploy deploy-plan destroy screenshots vendor clean distclean

help:
	@echo "make dev         run Omniflow locally on moto with the demo (http://127.0.0.1:\$${PORT:-8000}; DEMO=team|none, DEMO_ONLINE=0)"
	@echo "make test        every test: unit, integration, infra, e2e, browser (installs Chromium as root)"
	@echo "make lint        ruff check, ruff format --check, mypy, lint-imports (the layers)"
	@echo "make bench       the load benchmark"
	@echo "make cost        AWS cost per 1 M inbound messages, from the bench's measured requests"
	@echo "make eval-intent intent detection accuracy on the held-out set (EVAL_ARGS=--train|--cv 5|--errors)"
	@echo "make eval-quality quality phrase matching through disguise: recall and false alarms (EVAL_ARGS=--errors)"
	@echo "make eval-kb     KB search: right answers, top-3, right silence, wrong answers (EVAL_ARGS=--errors|--sweep)"
	@echo "make eval-sentiment customer-message sentiment: 5-fold accuracy, negative recall (EVAL_ARGS=--errors|--train|--data F)"
	@echo "make eval-tags   auto-tags' precision and recall per tag, tuning and held-out sets (EVAL_ARGS=--errors)"
	@echo "make replay-dlq  move dead-lettered messages back (QUEUE=inbound|outbound|events, DRY_RUN=1, STAGE=local)"
	@echo "make deploy      deploy to AWS (STAGE=$(STAGE) PROFILE= REGION= PARAMS=\"K=V ...\" ALLOW_ACCOUNT_CHANGE=1)"
	@echo "make deploy-plan what a deploy would change (CloudFormation change sets), applying nothing"
	@echo "make destroy     remove a stage (STAGE=... required); data kept unless DELETE_DATA=1"
	@echo "make screenshots regenerate the README's screenshots from the demo (Chromium)"
	@echo "make vendor      re-fetch the console's pinned JS libraries from npm (Preact, htm, marked, DOMPurify)"
	@echo "make clean       remove caches and local run-time files (distclean: the venv too)"

# The venv's pip is the sentinel: Debian leaves a half-made venv (python, no pip) when
# python3-venv is missing, and that must not count as done.
$(VENV)/bin/pip:
	@rm -rf $(VENV)
	@if ! $(PYTHON) -m venv $(VENV) >/dev/null 2>&1; then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "python3 -m venv failed (python3-venv missing?): installing it with apt-get"; \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null; \
	    $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "error: '$(PYTHON) -m venv' failed. Install python3-venv (sudo apt-get install python3-venv) and retry." >&2; \
	    exit 1; \
	  fi; \
	fi

# Reinstall only when a requirements file changed.
$(STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/pip
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

# DEMO=full (default: customers, conversations, tickets) | team (logins, groups, rules) | none;
# DEMO_ONLINE=0 leaves the demo agents offline (the queues then keep every waiting conversation).
dev: venv
	$(if $(DEMO),OMNIFLOW_DEMO=$(DEMO)) $(if $(DEMO_ONLINE),OMNIFLOW_DEMO_ONLINE=$(DEMO_ONLINE)) \
	  $(PY) -m infra.local.stack

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; never a
# downloaded browser build (`playwright install`). As root it is installed when missing;
# otherwise those tests skip, saying so.
chromium:
	@if command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Chromium and a Chinese font for the browser tests (apt-get)"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	else \
	  echo "note: not root, so Chromium (or a Chinese font) is not installed: browser tests skip without Chromium" \
	    "(sudo apt-get install chromium)"; \
	fi

test: venv chromium
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) -m tests.bench $(BENCH_ARGS)

# docs/operations.md: AWS list-price cost per 1 M inbound messages from the requests the bench
# measures (its section 2, on moto) and the mix tests/bench/cost.py states (COST_ARGS=--channel web).
cost: venv
	$(PY) -m tests.bench --only awscalls --channels $${COST_CHANNELS:-sms,web} --out .local/bench-cost.json >/dev/null
	$(PY) -m tests.bench.cost .local/bench-cost.json $(COST_ARGS)

# docs/routing.md: --train retrains chalicelib/routing/intent_model.json, --cv 5 tunes on train only.
eval-intent: venv
	$(PY) -m chalicelib.routing.evaluate $(EVAL_ARGS)

# tests/data/quality: disguised hits and clean look-alikes against tests/data/quality/rules.json.
eval-quality: venv
	$(PY) -m chalicelib.quality.evaluate $(EVAL_ARGS)
# docs/kb.md: the dev set tunes the answer thresholds (--sweep), the held-out set is never tuned on.
eval-kb: venv
	$(PY) -m chalicelib.kb.evaluate $(EVAL_ARGS)

# tests/data/sentiment/messages.tsv: --train retrains chalicelib/assist/sentiment_model.json.
eval-sentiment: venv
	$(PY) -m chalicelib.assist.evaluate $(EVAL_ARGS)
# the rules were tuned on conversations.jsonl only; heldout.jsonl was written after and never tuned on
eval-tags: venv
	$(PY) -m chalicelib.insight.evaluate --data tests/data/tags/conversations.jsonl $(EVAL_ARGS)
	$(PY) -m chalicelib.insight.evaluate --data tests/data/tags/heldout.jsonl $(EVAL_ARGS)

# STAGE defaults to dev for deploy; here only an explicit STAGE=... leaves the local stack.
replay-dlq: venv
	$(PY) -m infra.local.replay_dlq \
	  --stage $(if $(filter command line environment,$(origin STAGE)),$(STAGE),local) \
	  $(if $(QUEUE),--queue $(QUEUE)) $(if $(DRY_RUN),--dry-run)

# AWS: PROFILE (named profile), REGION, PARAMS="Key=Value ..." (stack parameters, remembered per
# stage), SKIP_CHALICE=1, DATA_ONLY=1, ALLOW_ACCOUNT_CHANGE=1 (the stage's account is recorded in
# .chalice/deployed-accounts.json on its first deploy; any other account is refused). docs/deploy.md
AWS_ARGS = --stage $(STAGE) $(if $(PROFILE),--profile $(PROFILE)) $(if $(REGION),--region $(REGION)) \
  $(if $(ALLOW_ACCOUNT_CHANGE),--allow-account-change)
PARAM_ARGS = $(foreach p,$(PARAMS),--param $(p))

deploy: venv
	$(PY) -m infra.deploy deploy $(AWS_ARGS) $(PARAM_ARGS) \
	  $(if $(SKIP_CHALICE),--skip-chalice) $(if $(DATA_ONLY),--data-only) $(if $(DRY_RUN),--dry-run)

# Build, lint, and show the CloudFormation change sets a deploy would execute; applies nothing.
deploy-plan: venv
	$(PY) -m infra.deploy plan $(AWS_ARGS) $(PARAM_ARGS)

# Remove a stage (STAGE is required: no default here); its data is kept unless DELETE_DATA=1.
destroy: venv
	@if [ "$(origin STAGE)" != "command line" ] && [ "$(origin STAGE)" != "environment" ]; then \
	  echo "make destroy needs STAGE=<stage>" >&2; exit 2; fi
	$(PY) -m infra.deploy destroy $(AWS_ARGS) $(if $(DELETE_DATA),--delete-data)

# The README's screenshots (docs/screenshots/*.png), taken by Chromium from a fresh local stack
# seeded with the whole demo (URL=http://127.0.0.1:8000 to shoot a running `make dev` instead).
screenshots: venv chromium
	OMNIFLOW_DEMO=full $(PY) -m tests.browser.screenshots $(if $(URL),--url $(URL))

# The console's third-party ES modules (chalicelib/console/static/vendor, with their licences and
# MANIFEST.json), copied from npm at the versions pinned in infra/vendor.py. Needs npm; nothing
# else does (the files are committed; no build step at run time). VENDOR_ARGS=--check compares.
vendor: venv
	$(PY) -m infra.vendor $(VENDOR_ARGS)

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache build dist .chalice/deployments
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
