# Two commands matter on a new machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean proto

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/spruce serve

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	bash scripts/install-test-deps.sh
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data

# Regenerate the committed gRPC stubs from the proto (grpcio-tools is a dev dependency).
PROTO_DIR := src/spruce/api/grpc/proto
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I $(PROTO_DIR) --python_out=$(PROTO_DIR) \
		--pyi_out=$(PROTO_DIR) --grpc_python_out=$(PROTO_DIR) $(PROTO_DIR)/db_data_2025_10.proto
	sed -i 's/^import db_data_2025_10_pb2 as/from . import db_data_2025_10_pb2 as/' \
		$(PROTO_DIR)/db_data_2025_10_pb2_grpc.py
