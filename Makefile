# flatsweep — run `make help` for the targets.

GO        ?= go
BIN       := $(CURDIR)/.bin
# Pinned code-generation and lint tools (installed into .bin by `make tools`).
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.7.0
# Kubernetes manifests (make k8s-check): kustomize renders them, kubeconform
# checks them against JSON schemas made from the OpenAPI documents that this
# client-go version ships (no schema is downloaded from anywhere else).
KUSTOMIZE_VERSION          := v5.8.1
KUBECONFORM_VERSION        := v0.7.0
K8S_OPENAPI_MODULE         := k8s.io/client-go@v0.37.2

GOFLAGS_TEST ?= -race -count=1 -timeout 20m

.PHONY: help build demo test vet lint fuzz proto proto-check tools bench clean blas test-openblas bench-compare docs static image image-openblas k8s-check systemd-check slurm-test

# BLAS backend (see compute/blas): OpenBLAS through cgo (-tags openblas) when
# the library is installed (pkg-config, or libopenblas.so known to ldconfig),
# otherwise pure-Go gonum. Override with BLAS=gonum (static, no cgo) or
# BLAS=openblas. `make test` always runs the default pure-Go build; `make
# test-openblas` runs the same suite against OpenBLAS.
HAVE_OPENBLAS := $(shell pkg-config --exists openblas 2>/dev/null && echo yes || { ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so ' && echo yes; })
BLAS      ?= $(if $(HAVE_OPENBLAS),openblas,gonum)
BLAS_TAGS := $(if $(filter openblas,$(BLAS)),-tags openblas,)

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/flatsweep (with OpenBLAS when installed; BLAS=gonum for a pure-Go build)
	$(GO) build $(BLAS_TAGS) -o bin/flatsweep ./cmd/flatsweep

# The static build of the container image (deploy/docker/Dockerfile runs the
# same command): pure-Go BLAS, no cgo, no paths of this machine in the binary.
STATIC_BUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o

static: bin/flatsweep-static ## build bin/flatsweep-static: pure Go, no cgo, the build of the container image

# A file target, so that systemd-check and slurm-test (one make run or two)
# build it once; it is rebuilt when a Go or embedded file of cmd/flatsweep or
# of a package it imports changes.
STATIC_SRC = $(shell CGO_ENABLED=0 $(GO) list -deps -f '{{if not .Standard}}{{$$d := .Dir}}{{range .GoFiles}}{{$$d}}/{{.}} {{end}}{{range .EmbedFiles}}{{$$d}}/{{.}} {{end}}{{end}}' ./cmd/flatsweep)
bin/flatsweep-static: $(STATIC_SRC) go.mod go.sum
	$(STATIC_BUILD) $@ ./cmd/flatsweep

IMAGE ?= flatsweep
TAG   ?= latest
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DOCKER_BUILD_ARGS ?=
image: ## build the container image $(IMAGE):$(TAG) (static, pure-Go BLAS; deploy/docker/Dockerfile)
	docker build -f deploy/docker/Dockerfile --build-arg REVISION=$(REVISION) $(DOCKER_BUILD_ARGS) -t $(IMAGE):$(TAG) .

image-openblas: ## build the container image $(IMAGE):$(TAG)-openblas (Debian slim + OpenBLAS; deploy/docker/Dockerfile.openblas)
	docker build -f deploy/docker/Dockerfile.openblas --build-arg REVISION=$(REVISION) $(DOCKER_BUILD_ARGS) -t $(IMAGE):$(TAG)-openblas .

demo: build ## run the quickstart sweep on one machine (embedded data, no servers)
	./bin/flatsweep run sweeps/quickstart.yaml --workers 2

test: ## go vet and the whole test suite with the race detector
	$(GO) vet ./...
	$(GO) test $(GOFLAGS_TEST) ./...

vet: ## go vet
	$(GO) vet ./...

# Fuzz targets, as package:Target (go test fuzzes one target per run). A run
# that fails without writing a failing input under testdata/fuzz is run once
# more: Go's fuzzing coordinator can fail at the -fuzztime deadline ("context
# deadline exceeded") with nothing found (golang/go#56238).
FUZZ_TARGETS := \
	./compute/data:FuzzReadIDXImages \
	./compute/data:FuzzReadIDXLabels \
	./compute/data:FuzzReadCIFAR10 \
	./compute/weights:FuzzDecode \
	./compute/weights:FuzzRead \
	./sweeps:FuzzParse \
	./spec:FuzzDecodeTrial \
	./spec:FuzzDecodeSweep \
	./coordinator/store:FuzzDecodeTrialRecord \
	./coordinator/lease:FuzzValidateResult \
	./coordinator/lease:FuzzValidateEpochs
FUZZTIME ?= 10s

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; found() { ls $$pkg/testdata/fuzz/$$name 2>/dev/null | wc -l; }; \
		echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$pkg"; \
		before=$$(found); \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || { \
			test "$$(found)" = "$$before" || exit 1; \
			echo "$$name failed without a failing input: running it once more"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; }; \
	done

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

K8S_SCHEMAS := $(BIN)/k8s-schemas/$(subst @,-,$(notdir $(K8S_OPENAPI_MODULE)))
K8S_DIRS    := deploy/k8s/base $(wildcard deploy/k8s/overlays/*)
KUBECONFORM := $(BIN)/kubeconform -strict -summary -schema-location '$(K8S_SCHEMAS)/{{ .ResourceKind }}{{ .KindSuffix }}.json'

k8s-check: $(BIN)/kustomize $(BIN)/kubeconform $(K8S_SCHEMAS) ## render deploy/k8s (base and overlays) and validate it against the Kubernetes schemas, offline
	@set -e; mkdir -p $(BIN)/k8s; for d in $(K8S_DIRS); do \
		out=$(BIN)/k8s/$$(echo $$d | tr / _).yaml; \
		echo "kustomize build $$d | kubeconform -strict"; \
		$(BIN)/kustomize build $$d > $$out; $(KUBECONFORM) $$out; \
		if command -v kubectl >/dev/null; then \
			echo "kubectl kustomize $$d | kubeconform -strict"; \
			kubectl kustomize $$d > $$out; $(KUBECONFORM) $$out; fi; \
	done
	@echo "kubeconform rejects deploy/k8s/testdata/invalid.yaml (each of its 3 resources)"
	@out=$$($(KUBECONFORM) deploy/k8s/testdata/invalid.yaml) && { echo "$$out"; echo "invalid manifests passed"; exit 1; }; \
		echo "$$out" | grep -q 'Valid: 0, Invalid: 3, Errors: 0' || { echo "$$out"; exit 1; }

$(BIN)/kustomize:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
$(BIN)/kubeconform:
	GOBIN=$(BIN) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
$(K8S_SCHEMAS): scripts/k8s-schemas/main.go
	dir=$$(cd / && $(GO) mod download -json $(K8S_OPENAPI_MODULE) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
		test -n "$$dir" && $(GO) run ./scripts/k8s-schemas -openapi "$$dir/openapi/openapitest/testdata" -out $@

systemd-check: bin/flatsweep-static ## check deploy/systemd's units with systemd-analyze verify (skipped without it)
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found: units not checked"; exit 0; }; \
	d=$$(mktemp -d); for u in deploy/systemd/*.service; do \
		sed "s|/usr/local/bin/flatsweep|$(CURDIR)/bin/flatsweep-static|" $$u > $$d/$${u##*/}; done; \
	out=$$(SYSTEMD_UNIT_PATH=$$d:/lib/systemd/system systemd-analyze verify --man=no $$d/*.service 2>&1); rc=$$?; rm -rf $$d; \
	if [ $$rc != 0 ] || [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	echo "systemd-analyze verify: deploy/systemd/*.service clean"

slurm-test: bin/flatsweep-static ## run a sweep on a one-node Slurm cluster started here (root; slurmctld, slurmd, munge)
	FLATSWEEP_BIN=$(CURDIR)/bin/flatsweep-static scripts/slurm/test.sh

bench: ## run the Go benchmarks (with the BLAS backend `make blas` names)
	$(GO) test $(BLAS_TAGS) -run '^$$' -bench . -benchmem ./...

blas: ## name the BLAS backend the build, bench and bench-compare targets use
	@echo "$(BLAS)"

# The reproductions' tiny profiles (775 trials) run once, in make test: they
# check that every shipped sweep completes, which does not depend on the BLAS.
test-openblas: ## go vet and the whole test suite against OpenBLAS (needs libopenblas-dev)
	@test -n "$(HAVE_OPENBLAS)" || { echo "OpenBLAS not found: apt-get install -y libopenblas-dev"; exit 1; }
	$(GO) vet -tags openblas ./...
	$(GO) test -tags openblas $(GOFLAGS_TEST) -skip '^TestReproductionsTinyProfile$$' ./...

bench-compare: ## flatsweep vs PyTorch side by side (needs python3-torch; docs/BENCHMARKS.md)
	TAGS="$(filter openblas,$(BLAS))" scripts/bench/compare.sh

docs: ## regenerate docs/MEASURES.md from the measure registry
	$(GO) test ./internal/docgen -run TestMeasuresDocCurrent -update

clean: ## remove build output
	rm -rf bin
