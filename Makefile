# Sluice. `make run` builds everything and runs the demo; `make test` runs
# every test. `make check` is what CI runs: formatting, vet, tidy modules,
# then the tests.

GO        ?= go
MODULES   := . guest-sdk connectors-wasm conformance/testdata registry/testdata/echo
BUILD     := build
WASM_ENV  := GOOS=wasip1 GOARCH=wasm GOWORK=off
TEST_TIMEOUT ?= 12m
FUZZTIME  ?= 10s
BENCH_USERS ?= 100000
# local-kms (an AWS-KMS-compatible server) for the kms/awskms and secrets
# tests; no tagged release on the module proxy, so a pseudo-version.
LOCAL_KMS_VERSION ?= v0.0.0-20260228092603-2a5e92d09ab6

.PHONY: all build wasm run demo test check lint fmt vet tidy-check bench fuzz clean tools

all: build wasm

build:
	$(GO) build -trimpath -o $(BUILD)/sluice ./cmd/sluice

# Connectors are built the way a partner builds them: standard Go,
# wasip1, c-shared (a reactor module with //go:wasmexport exports).
wasm:
	@mkdir -p $(BUILD)/wasm
	cd connectors-wasm && $(WASM_ENV) $(GO) build -buildmode=c-shared -trimpath -o ../$(BUILD)/wasm/directory.wasm ./directory
	cd connectors-wasm && $(WASM_ENV) $(GO) build -buildmode=c-shared -trimpath -o ../$(BUILD)/wasm/tickets.wasm ./tickets

# The API with the demo: sandbox remotes, the example connector, tenants
# acme and globex (credentials in ./data/demo.json). Ctrl-C stops it.
run: build wasm
	./$(BUILD)/sluice serve --demo --data ./data

# One-shot CLI demo: sync the sandbox into ./data-cli and print the receipt.
demo: build wasm
	./$(BUILD)/sluice demo --data ./data-cli

# Tools the tests run as subprocesses, installed in $(go env GOPATH)/bin.
tools:
	$(GO) install github.com/nsmithuk/local-kms@$(LOCAL_KMS_VERSION)
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing promtool (Debian package prometheus)"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

test:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd guest-sdk && $(GO) test -count=1 ./...
	cd connectors-wasm && $(GO) test -count=1 ./...
	cd conformance/testdata && $(GO) test -count=1 ./...

check: lint test

lint: fmt vet tidy-check

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) vet ./...) || exit 1; done
	cd guest-sdk && $(WASM_ENV) $(GO) vet ./...

tidy-check:
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy) || exit 1; done
	@git diff --exit-code -- '*go.mod' '*go.sum' || { echo "go mod tidy changed the files above"; exit 1; }

bench: build wasm
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./store/... ./receipt/... ./hostfns/... ./engine/... ./export/...
	./$(BUILD)/sluice bench ingest --users $(BENCH_USERS) --json

fuzz:
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -1 | xargs dirname); \
		echo "fuzz $$t in $$pkg"; \
		(cd $$pkg && $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) .) || exit 1; \
	done

clean:
	rm -rf $(BUILD) data data-cli
