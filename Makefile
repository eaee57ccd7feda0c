# flatsweep — run `make help` for the targets.

GO        ?= go
BIN       := $(CURDIR)/.bin
# Pinned code-generation and lint tools (installed into .bin by `make tools`).
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.7.0

GOFLAGS_TEST ?= -race -count=1 -timeout 20m

.PHONY: help build demo test vet lint proto proto-check tools bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/flatsweep
	$(GO) build -o bin/flatsweep ./cmd/flatsweep

demo: build ## run the quickstart sweep on one machine (embedded data, no servers)
	./bin/flatsweep run sweeps/quickstart.yaml --workers 2

test: ## go vet and the whole test suite with the race detector
	$(GO) vet ./...
	$(GO) test $(GOFLAGS_TEST) ./...

vet: ## go vet
	$(GO) vet ./...

lint: tools ## gofmt, go vet, staticcheck and buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	cd proto && $(BIN)/buf lint

tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/staticcheck ## install pinned tools into .bin

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

proto: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## lint the .proto files and regenerate the Go code
	cd proto && $(BIN)/buf lint
	cd proto && PATH=$(BIN):$$PATH $(BIN)/buf generate

proto-check: proto ## fail when the committed generated code is stale
	@git diff --exit-code -- proto/ || { echo "generated protobuf code is stale: run 'make proto' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard proto/)" || { echo "untracked generated files under proto/: run 'make proto' and commit"; exit 1; }

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## remove build output
	rm -rf bin
