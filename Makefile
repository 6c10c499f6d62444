# Two entry points: `make demo` (set up + run the nightly job on demo data) and
# `make test` (set up + run the whole test suite). Everything else is a helper.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install spark demo test lint manifest clean

$(BIN)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,postgres,celery]'
	$(BIN)/bullseye dbt-manifest
	touch $@

install: $(BIN)/.installed

# The [spark] extra (dbt-spark in session mode, pyspark; about 530 MB, needs Java 17) for tests/test_spark_parity.py,
# which builds the demo on a local Spark session and compares it with the DuckDB night (issue 18). Only `make test`
# installs it; `make install` and `make demo` stay without it.
$(BIN)/.spark-installed: $(BIN)/.installed pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[spark]'
	touch $@

spark: $(BIN)/.spark-installed

demo: install
	$(BIN)/bullseye run

test: install spark
	$(BIN)/ruff check bullseye dags tests
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 tests

lint: install
	$(BIN)/ruff check bullseye dags tests

manifest: install
	$(BIN)/bullseye dbt-manifest

clean:
	rm -rf var dbt_project/target dbt_project/logs
