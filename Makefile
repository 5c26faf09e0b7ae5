# The two commands of the README, and a few conveniences. Every target sets the machine up first (idempotent).
.PHONY: setup conformance test fast lint up down status clean

ENV ?= dev
TARGET ?= static

setup:
	@bash scripts/setup.sh

# The main job: the fast conformance suite on embedded defaults, with a readable summary and reports in reports/.
conformance: setup
	.venv/bin/shopctl conformance run --target $(TARGET) --env $(ENV)

# The tests: unit and integration tests of the engine and the services, plus the conformance scenarios.
# Two workers, a file per worker: much of the suite waits (Terraform's fixed waits, servers starting), and a
# file's expensive fixtures (a platform, an applied environment) are built once.
test: setup
	.venv/bin/pytest -n 2 --dist loadfile --durations=25

# Under two minutes: the static conformance suite for one environment.
fast: setup
	.venv/bin/pytest steps --target static --env $(ENV)

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy conformance reference steps services

up: setup
	.venv/bin/python -m services.runner up

down:
	.venv/bin/python -m services.runner down

status:
	.venv/bin/python -m services.runner status

clean:
	rm -rf .work reports
