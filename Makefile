# Targets mirror the platform's .NET example app (run-local, test, publish-app).
#
#   make run-local      serve the bundled plans on SMP_PORT (default 10101)
#   make test           every test
#   make publish-app    bump the manifest's patch version, build the linux/amd64 image and
#                       publish it with the platform's CLI (`socotra-app`)

SHELL := /bin/bash
SMP_PORT ?= 10101
IMAGE ?= rater/external-rater
MANIFEST := socotra-app.json
VERSION = $(shell sed -n 's/^  "version": "\([0-9]*\.[0-9]*\.[0-9]*\)",$$/\1/p' $(MANIFEST))

.PHONY: run-local test lint publish-app check-publish-tools bump-version image

run-local:
	SMP_PORT=$(SMP_PORT) cargo run --locked --

test:
	cargo test --locked

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings

# Checked before the version is bumped, so a machine without the tools changes nothing.
check-publish-tools:
	@missing=0; \
	if ! command -v socotra-app >/dev/null 2>&1; then \
	  echo "publish-app: the Socotra app CLI 'socotra-app' is not installed (npm install -g @socotra/app-cli)" >&2; missing=1; \
	fi; \
	if ! command -v docker >/dev/null 2>&1; then \
	  echo "publish-app: 'docker' is not installed: it builds the image" >&2; missing=1; \
	elif ! docker info >/dev/null 2>&1; then \
	  echo "publish-app: no Docker engine is running: it builds the image" >&2; missing=1; \
	fi; \
	exit $$missing

bump-version:
	@old="$(VERSION)"; \
	[ -n "$$old" ] || { echo "publish-app: no \"version\": \"X.Y.Z\" line in $(MANIFEST)" >&2; exit 1; }; \
	new=$$(echo "$$old" | awk -F. '{ printf "%d.%d.%d", $$1, $$2, $$3 + 1 }'); \
	sed -i "s/^  \"version\": \"$$old\",$$/  \"version\": \"$$new\",/" $(MANIFEST); \
	echo "$(MANIFEST): version $$old -> $$new"

image:
	docker build --platform linux/amd64 -t $(IMAGE):$(VERSION) .

publish-app: check-publish-tools bump-version
	$(MAKE) image
	socotra-app publish docker $(IMAGE):$(VERSION)
