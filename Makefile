# deephealth — two commands matter: `make demo` and `make test` (see README.md).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   := .data/.fetched
SYS    := .data/.system
export OMP_NUM_THREADS ?= 2

.PHONY: install system-deps data assets demo test lint typecheck bench serve clean

# system deps first: gcc builds the Tensor ops' C extension (src/deephealth/eddl/tensor/_fastcall.c)
$(STAMP): pyproject.toml setup.py src/deephealth/eddl/tensor/_fastcall.c | $(SYS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned for this machine (CPU build on local disk); the package itself needs torch>=2.4.
	$(PY) -m pip install -q torch==2.13.0 numpy
	$(PY) -m pip install -q -e ".[all,test]"
	# Federated extra: Flower without its pins (they would downgrade fastapi, packaging and
	# protobuf below what the toolkit uses; its gRPC API runs with ours), then its own small deps.
	$(PY) -m pip install -q --no-deps "flwr==1.42.*" "grpcio-health-checking>=1.70"
	$(PY) -m pip install -q "opacus>=1.5" "grpcio>=1.70" "iterators>=0.0.2,<0.0.3" \
		"pycryptodome>=3.18,<4" "cryptography>=50,<51" "rich>=14,<15" tomli-w "typer<0.21" \
		"uv<0.14" prompt-toolkit tomli
	touch $(STAMP)

install: $(STAMP)

$(SYS):
	mkdir -p .data
	bash scripts/install_system_deps.sh
	touch $(SYS)

system-deps: $(SYS)

$(DATA): $(STAMP) scripts/fetch_data.sh
	PYTHON=$(abspath $(PY)) bash scripts/fetch_data.sh
	touch $(DATA)

data: $(DATA)

# Front-end libraries from npm (Swagger UI, NiiVue, OpenSeadragon) into the static folder.
assets:
	bash scripts/fetch_server_assets.sh

demo: install system-deps data
	$(VENV)/bin/deephealth demo

lint: install
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

typecheck: install
	$(PY) -m mypy

test: install system-deps data assets lint typecheck
	$(PY) -m pytest -q --durations=30

bench: install system-deps data
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/run_all.py

serve: install assets
	$(VENV)/bin/deephealth serve

clean:
	rm -rf $(VENV) .data build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
