# Two commands do everything: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_ROOT ?= $(or $(LATENT_EXPLORER_DATA),data)
PORT ?= 8501
# More model folders to list (`make run CHECKPOINTS=~/my-models`), and TRUST_CODE=1 to open models that bring
# their own Python code (model.json naming module:callable): that code is imported and run.
CHECKPOINTS ?=
TRUST_CODE ?=
# Where the app listens: this machine only, unless asked (`make run ADDRESS=0.0.0.0` shares it on the network).
ADDRESS ?= 127.0.0.1
LOOPBACK := 127.0.0.1 localhost ::1

ORT := static/ort
ORT_FILES := ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm

.PHONY: run test lint bench install install-dev browser clean

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The browser's model runtime: onnxruntime-web from npm, pinned with its checksum in package-lock.json
# (npm ci checks it), copied into static/ort/, which Streamlit serves. Without npm, the live views
# decode on the server.
$(ORT)/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && mkdir -p $(ORT) && \
	  cp $(addprefix node_modules/onnxruntime-web/dist/,$(ORT_FILES)) $(ORT)/ && touch $@; \
	else echo "npm not found: the live views will decode on the server (install Node.js with npm, then make)"; fi

install: $(VENV)/.installed $(ORT)/.installed
install-dev: $(VENV)/.installed-dev $(ORT)/.installed

run: install
	$(if $(filter-out $(LOOPBACK),$(ADDRESS)),@echo "warning: the explorer is shared on $(ADDRESS):$(PORT): anyone who can reach this machine can open it and upload files and start work on it" >&2)
	LATENT_EXPLORER_DATA=$(DATA_ROOT) $(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true \
		--server.address $(ADDRESS) $(if $(CHECKPOINTS)$(TRUST_CODE),-- $(addprefix --checkpoints ,$(CHECKPOINTS)) \
		$(if $(TRUST_CODE),--trust-code))

test: install-dev
	$(VENV)/bin/ruff check .
	LATENT_EXPLORER_DATA=$(DATA_ROOT) $(PY) -m pytest -q

lint: install-dev
	$(VENV)/bin/ruff check .

bench: install-dev
	LATENT_EXPLORER_DATA=$(DATA_ROOT) $(PY) bench/train_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts node_modules static .cache
