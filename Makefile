# SPARC build. `make run` and `make test` work on a fresh machine: they install
# what is missing (PostGIS from Debian, pinned code generators with go install).
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS      := $(CURDIR)/.tools/bin
BUF        := $(TOOLS)/buf
GOMODCACHE := $(shell go env GOMODCACHE)
POSTGIS    := /usr/share/postgresql/15/extension/postgis.control
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

BUF_VERSION          := v1.75.0
PROTOC_GEN_GO        := v1.36.12
PROTOC_GEN_GO_GRPC   := v1.6.2
GRPC_GATEWAY_VERSION := v2.33.0
GATEWAY_V1_VERSION   := v1.16.0
STATICCHECK_VERSION  := v0.8.2
STATICCHECK          := $(TOOLS)/staticcheck

.PHONY: help run test test-search-index fuzz bench generate lint check-generated api-snapshot postgis chromium poppler promtool node web screenshots tools third_party build clean image deploy-test deploy-lint ha-test ha-packages

help:
	@echo "make run       start sparcd with the embedded database and demo data"
	@echo "make test      run every test (real PostgreSQL + PostGIS, -race)"
	@echo "make fuzz      run every fuzz target for FUZZTIME (default 30s) each"
	@echo "make bench     benchmark tables: service vs raw SQL"
	@echo "make web       build the web console (web/ into internal/console/dist)"
	@echo "make generate  regenerate gen/ from proto/"
	@echo "make lint      buf lint, buf breaking, go vet, staticcheck, gofmt, go mod tidy check"
	@echo "make api-snapshot  record proto/ as the released API that buf breaking compares with"
	@echo "make ha-test   Patroni failover under load: etcd, 3 PostgreSQL nodes, HAProxy, 3 sparcd (deploy/patroni, ~3 min, root or sudo)"
	@echo "make image     build the sparcd container image (OCI tarball, no Docker daemon) into $(IMAGE)"

run: postgis web
	go run ./cmd/sparcd --demo

test: postgis chromium poppler web check-generated lint
	go test -race -count=1 -timeout 20m ./...
	$(MAKE) test-search-index
	$(MAKE) deploy-test

# The search tests again with sparcd's in-memory search index answering
# (strict: every search as fresh as PostGIS), so the oracle, paging,
# remote-service, session and places-left tests check both paths.
test-search-index: postgis
	SPARC_TEST_SEARCH_INDEX=strict go test -race -count=1 -run 'Search|Remote|Point|Page|Session' ./internal/assets/
	SPARC_TEST_SEARCH_INDEX=strict go test -race -count=1 -run 'TestSearchCanAskForAssetsWithAPlaceFreeNow|TestPlacesLeftInAssetReadsAndSearch' ./internal/referrals/

# Every Go fuzz target (func FuzzXxx in a _test.go file), one at a time as
# go test requires, for FUZZTIME each, from its committed corpus in
# testdata/fuzz. A failing input is written there: commit it with the fix.
FUZZTIME ?= 30s
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd internal | xargs -n1 dirname | sort -u); do \
		for target in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //'); do \
			echo "fuzzing ./$$dir $$target for $(FUZZTIME)"; \
			go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./$$dir; \
		done; \
	done

bench: postgis
	go run ./cmd/sparcbench $(BENCH_FLAGS)

build: web
	go build -o bin/ ./cmd/...

# The sparcd container image, built without a Docker daemon by deploy/image
# (go-containerregistry): an OCI image layout tarball holding the static
# binary (migrations embedded), CA certificates and time zones. VERSION is
# what sparcd --version prints; file times come from the last commit, so the
# same commit gives the same image digest.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE   := bin/sparcd-image.tar
image:
	@mkdir -p bin/image
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/image/sparcd ./cmd/sparcd
	cd deploy/image && SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) go run . --binary ../../bin/image/sparcd \
		--version $(VERSION) --zoneinfo "$$(go env GOROOT)/lib/time/zoneinfo.zip" --out ../../$(IMAGE)

# deploy/k8s (the manifests, decoded strictly into the upstream API types)
# and deploy/image are Go modules of their own, kept out of sparcd's
# dependencies: ./... does not reach them.
DEPLOY_MODULES := deploy/k8s deploy/image
deploy-test:
	@set -e; for m in $(DEPLOY_MODULES); do echo "go test $$m"; (cd $$m && go test -count=1 ./...); done

deploy-lint: tools
	@set -e; for m in $(DEPLOY_MODULES); do (cd $$m && go vet ./... && $(STATICCHECK) ./... && \
		{ go mod tidy -diff >/dev/null 2>&1 || { echo "$$m: go.mod/go.sum are not tidy: run 'go mod tidy' there"; exit 1; }; }); done

# High availability on Patroni (deploy/patroni, docs/operations-ha.md):
# etcd, three PostgreSQL 15 + PostGIS nodes with synchronous replication
# and HAProxy on this machine, three sparcd replicas under load, the
# primary killed; fails when a target is missed. Not part of `make test`
# (about two minutes of a loaded machine). PostgreSQL runs as the
# postgres user, so the script needs root or sudo; the binaries are built
# here, as the invoking user, and the script is given the HA_* variables
# (deploy/patroni/ha-test.sh lists them).
ha-test: postgis ha-packages
	go build -o bin/ha/sparcd ./cmd/sparcd
	go build -o bin/ha/hatest ./deploy/patroni/hatest
	$(SUDO) env HA_BIN=$(CURDIR)/bin/ha $$(env | grep -E '^HA_[A-Z_]+=' | grep -v '^HA_BIN=') deploy/patroni/ha-test.sh

ha-packages:
	@if ! command -v patroni >/dev/null 2>&1 || ! command -v etcd >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1 \
		|| ! command -v envsubst >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then \
		echo "installing patroni, etcd-server, haproxy, envsubst and curl (make ha-test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends patroni python3-etcd etcd-server haproxy gettext-base curl >/dev/null; \
	fi

# Headless Chromium for the browser tests (internal/coverage, internal/console).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium (map page test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

# pdftotext and pdfinfo for the printable referral's PDF test (internal/referrals);
# curl and jq for the README's link worker's day, which a test runs as written.
poppler:
	@if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdfinfo >/dev/null 2>&1 \
		|| ! command -v curl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1 \
		|| ! command -v xmllint >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import networkx, igraph' >/dev/null 2>&1; then \
		echo "installing poppler-utils, curl, jq, xmllint, NetworkX and igraph (PDF, README and GraphML tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq poppler-utils curl jq libxml2-utils python3-networkx python3-igraph >/dev/null; \
	fi

# promtool (Debian's prometheus package) checks deploy/prometheus in lint.
promtool:
	@if ! command -v promtool >/dev/null 2>&1; then \
		echo "installing promtool (Prometheus rules check)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

# The web console: installed from the committed lockfile (npm ci) when
# the lockfile changes, built when a source changes. dist/ is not
# committed; sparcd embeds what is there (internal/console).
WEB_DIST := internal/console/dist/index.html
WEB_DEPS := web/node_modules/.stamp

web: $(WEB_DIST)

$(WEB_DIST): $(WEB_DEPS) web/build.mjs web/tsconfig.json $(shell find web/src -type f 2>/dev/null)
	cd web && npx tsc --noEmit -p . && node build.mjs

$(WEB_DEPS): web/package.json web/package-lock.json | node
	cd web && npm ci --no-audit --no-fund
	@touch $@

# The console's screenshots in docs/ (README), from its browser test.
screenshots: postgis chromium web
	SPARC_SCREENSHOTS=1 go test -count=1 ./internal/console/ -run 'InChromium$$'

node:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "installing nodejs and npm (web console build)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; \
	fi

postgis:
	@if [ ! -f $(POSTGIS) ]; then \
		echo "installing PostGIS (postgresql-15-postgis-3)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql-15-postgis-3 >/dev/null; \
	fi

$(TOOLS)/.stamp-$(BUF_VERSION)-$(PROTOC_GEN_GO)-$(PROTOC_GEN_GO_GRPC)-$(GRPC_GATEWAY_VERSION):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO)
	GOBIN=$(TOOLS) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC)
	GOBIN=$(TOOLS) go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION) \
		github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	@touch $@

$(TOOLS)/.stamp-staticcheck-$(STATICCHECK_VERSION):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@touch $@

tools: $(TOOLS)/.stamp-$(BUF_VERSION)-$(PROTOC_GEN_GO)-$(PROTOC_GEN_GO_GRPC)-$(GRPC_GATEWAY_VERSION) \
	$(TOOLS)/.stamp-staticcheck-$(STATICCHECK_VERSION)

# googleapis protos (Apache 2.0): annotations and http ship inside the
# grpc-gateway v1 Go module; resource and field_behavior are committed in
# proto/vendor (see its README).
third_party:
	@mkdir -p third_party/google/api
	@dir=$$(go mod download -json github.com/grpc-ecosystem/grpc-gateway@$(GATEWAY_V1_VERSION) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); \
		for f in annotations http; do install -m 644 $$dir/third_party/googleapis/google/api/$$f.proto third_party/google/api/; done
	@install -m 644 proto/vendor/google/api/resource.proto proto/vendor/google/api/field_behavior.proto third_party/google/api/

generate: tools third_party
	rm -rf gen/sparc gen/openapi/sparc.swagger.json
	$(BUF) generate

# Generates into a temporary directory and compares with gen/: a check
# never rewrites the working tree.
check-generated: tools third_party
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BUF) generate -o "$$tmp" || exit 1; \
	if ! diff -r -q "$$tmp/gen/sparc" gen/sparc || ! diff -q "$$tmp/gen/openapi/sparc.swagger.json" gen/openapi/sparc.swagger.json; then \
		echo "gen/ is out of date with proto/: run 'make generate' and commit"; exit 1; fi

# The API as released, for `buf breaking`: a change that would break
# clients fails lint. When a break is deliberate (a new major version, or
# an API not yet released), run `make api-snapshot` and say so in the commit.
API_SNAPSHOT := testdata/api/sparc-v1.binpb

api-snapshot: tools third_party
	@mkdir -p $(dir $(API_SNAPSHOT))
	$(BUF) build proto -o $(API_SNAPSHOT)

lint: tools third_party promtool
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/sparc-rules.yml
	cd deploy/prometheus && promtool test rules sparc-rules.test.yml
	$(BUF) lint
	$(BUF) breaking proto --against $(API_SNAPSHOT)
	go vet ./...
	$(STATICCHECK) ./...
	$(MAKE) deploy-lint
	@go mod tidy -diff >/dev/null 2>&1 || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; go mod tidy -diff; exit 1; }
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '^gen/' || true); \
		if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi

clean:
	rm -rf bin .tools third_party
