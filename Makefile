# Firebreak: the two commands the README promises, and their parts.
GO ?= go

.PHONY: demo test setup vet unit build bench

# Run the embedded demo: broker, engine, every stage and a shop workload.
demo:
	$(GO) run ./cmd/firebreak demo

# Everything CI runs. Fetches the embedded engine first (idempotent).
test:
	bash scripts/test.sh

setup:
	$(GO) run ./cmd/firebreak setup

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 40m ./...

build:
	$(GO) build -o bin/firebreak ./cmd/firebreak

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...
