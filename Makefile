# odbackup: the targets CI and developers run. `make test` is the suite CI
# runs on every change (.ci/run); `make e2e` needs real servers and starts
# them itself; `make bench` measures and is not a pass/fail gate.

GO      ?= go
EXAMPLES := $(sort $(wildcard examples/*/site.cue))

.PHONY: all build test fmt-check unit cue-vet out check-out e2e bench fmt clean fuzz

all: build test

build:
	$(GO) build -o bin/odbackup ./cmd/odbackup

# test: unit and CLI tests, the upstream cue tool on every example, and the
# proof that out/ is what the examples build today.
test: fmt-check unit cue-vet check-out

# Go and CUE sources are formatted as gofmt and cue fmt want them.
fmt-check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	cd cue && $(GO) tool cue fmt --check ./...

# shellcheck checks every generated script, the script tests of
# internal/scripttest run them under busybox, and promtool (Debian package
# prometheus) checks every generated alert rule; the tests fail without them.
unit:
	e2e/scripts/ensure-packages.sh shellcheck busybox prometheus
	$(GO) vet ./...
	ODBACKUP_SHELLCHECK=required ODBACKUP_BUSYBOX=required ODBACKUP_PROMTOOL=required $(GO) test -timeout 30m ./...

# The schema works with the upstream cue tool too (see README).
cue-vet:
	cd cue && for f in $(EXAMPLES); do $(GO) tool cue vet -c ./policy ../$$f || exit 1; done

# out/ holds the committed output of every example.
out:
	$(GO) run ./cmd/odbackup build $(EXAMPLES) -o out

check-out:
	$(GO) run ./cmd/odbackup build $(EXAMPLES) -o out --check

# e2e: the end-to-end suite against real servers on loopback: builds the
# pinned tools once (cached outside the repo), installs missing Debian
# packages, starts the servers, runs ./e2e/... and stops the servers on every
# exit path. E2E_FLAGS go to go test, e.g. make e2e E2E_FLAGS='-run Smoke -v'.
# See e2e/README.md.
e2e:
	GO="$(GO)" e2e/scripts/run.sh $(E2E_FLAGS)

# bench: times whole commands and the Go benchmarks per stage; prints the
# figures of BENCHMARKS.md as ratios against baselines of the same run.
bench:
	GO="$(GO)" bench/run.sh

# fuzz: a longer run of the policy loader's fuzz test than the seeds that
# `make test` runs (see README, Development).
FUZZTIME ?= 5m
fuzz:
	$(GO) test ./schema/ -run '^$$' -fuzz FuzzEvaluate -fuzztime $(FUZZTIME)

fmt:
	gofmt -w $$(git ls-files '*.go')
	cd cue && $(GO) tool cue fmt ./...

clean:
	rm -rf bin
