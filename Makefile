# taxhub — see README.md.
#   make demo    install what is missing, build, run the hub in dev mode with sample traffic
#   make test    install what is missing, build, run every test (PostgreSQL tests included)
#   make build   build only (build/bin)
#   make bench   issue 8's targets, each measured with its baseline (installs RabbitMQ, the peer)
#   make scale   a 10-million-event PostgreSQL ledger: progress lookup and claim figures
#   make bench-chain  completed chains/s through file -> TIPS pay -> SMS, with time per stage
#                (real processes, stand-ins and Kannel; CHAIN_RETURNS=300 by default)
#   make fuzz    the libFuzzer targets (clang, ASan, UBSan), FUZZ_SECONDS=300 each (scripts/fuzz.sh)
#   make soak    issue 9's six fault tests with ten times the load (SOAK_SCALE=10); each prints
#                its lost / duplicated / unexpected counts (scripts/soak.sh)

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
CTEST_JOBS ?= 2

SOAK_SCALE ?= 10

.PHONY: all deps configure build test demo bench bench-chain scale soak fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest -j$(CTEST_JOBS) --output-on-failure

demo: build
	@./scripts/demo.sh

bench:
	@./scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build
	@./scripts/bench.sh

bench-chain: build
	@$(BUILD_DIR)/bin/chain_e2e_test --gtest_also_run_disabled_tests \
	    --gtest_filter=MonthTest.DISABLED_ChainThroughput 2>&1 | grep -E '^chain:|FAILED|OK \]'

scale: build
	@./scripts/ledger-scale.sh

fuzz:
	@./scripts/fuzz.sh

soak: build
	@BUILD_DIR=$(BUILD_DIR) TAXHUB_SOAK_SCALE=$(SOAK_SCALE) ./scripts/soak.sh

clean:
	rm -rf $(BUILD_DIR) build-fuzz
