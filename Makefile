# Entry points. Everything installs itself: a fresh clone needs only python3, java 17, maven and apt.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install up down status demo test test-unit lint services-start services-stop clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@# torch's CUDA wheels need about 7 GB installed; a cached copy of each wheel would double that, and
	@# a CI machine once ran out of disk here. The free space goes to the log for the next such failure.
	@df -h . | tail -n 1 | awk '{print "disk free for the install: " $$4 " of " $$2}'
	$(PY) -m pip install -q --disable-pip-version-check --no-cache-dir --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check --no-cache-dir -e ".[dev,examples,bayesian,bench]"
	# The bench's peers: dehb pins numpy<2 and syne-tune pulls xgboost's CUDA build; both run on what
	# is installed (numpy 2, xgboost-cpu), so they come without their own dependency pins.
	$(PY) -m pip install -q --disable-pip-version-check --no-cache-dir --no-deps "dehb==0.1.2" "syne-tune==0.16.0"
	@touch $@

up: install
	bash deploy/stack.sh up
	$(VENV)/bin/tunestream db upgrade

down:
	bash deploy/stack.sh down

status:
	bash deploy/stack.sh status
	@bash deploy/services.sh status

services-start: up
	bash deploy/services.sh start

services-stop:
	bash deploy/services.sh stop

demo: install
	bash deploy/demo.sh

test: install
	bash deploy/test.sh

test-unit: install
	$(PY) -m pytest tests/unit -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/tunestream services/tunestream
	$(PY) -m pytest -q tests/unit/test_service_boundaries.py

clean: down
	bash deploy/stack.sh clean
