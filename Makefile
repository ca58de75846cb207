# Developer entry points. The commands live in scripts/ (scripts/test.sh is what CI runs), so a target
# here and a CI step cannot drift apart. Every target bootstraps what it needs (scripts/setup.sh).
.DEFAULT_GOAL := all
.PHONY: help setup build-dev dist lint-rust lint-python lint test-rust test-python test-rabbitmq-versions molecule sanity demo demo-clean test all

## setup: Debian tools, .venv and test-requirements.txt, without building the extension
setup:
	OSA_SKIP_BUILD=1 scripts/setup.sh

## build-dev: build osa_hybrid_msg._core into .venv (maturin develop, dev profile)
build-dev:
	scripts/setup.sh

## dist: the release wheel and collection tarball into dist/ (scripts/dist.sh), checked and installed by tests/dist
dist:
	scripts/test.sh dist

## lint-rust: cargo fmt --check; clippy -D warnings with and without the python feature
lint-rust:
	scripts/test.sh lint-rust

## lint-python: ruff; mypy.stubtest of the _core stub against the built module
lint-python:
	scripts/test.sh lint-python

lint: lint-rust lint-python

## test-rust: the Rust unit, proptest and integration tests (starts RabbitMQ)
test-rust:
	scripts/test.sh test-rust

## test-python: pytest tests/unit tests/python against the built module (starts RabbitMQ)
test-python:
	scripts/test.sh test-python

## test-rabbitmq-versions: the RabbitMQ tests (Rust integration, Python module) against RabbitMQ 4.0 and 3.10
test-rabbitmq-versions:
	scripts/test.sh test-rabbitmq-versions

## molecule: every molecule scenario and the oslo.messaging end-to-end test (pytest; starts the brokers)
molecule: build-dev
	scripts/brokers/rabbitmq.sh start
	scripts/brokers/kafka.sh --profile cluster start
	.venv/bin/python -m pytest tests/python/test_molecule.py tests/python/test_e2e_oslo_messaging.py

## sanity: ansible-test sanity on a copy laid out as ansible_collections/osa/hybrid_msg
sanity:
	scripts/test.sh sanity

## demo: converge 16 OpenStack services, RPC on the loopback RabbitMQ and notifications on Kafka, twice
demo:
	scripts/demo.sh

## demo-clean: the demo, after removing what an earlier run made
demo-clean:
	scripts/demo.sh --clean

## test: the whole suite, with a summary, as CI runs it
test:
	scripts/test.sh

## all: the same as test
all: test

help:
	@sed -n 's/^## //p' Makefile
