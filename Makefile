# Aliases of `cargo xtask` commands, one line each; the xtask is the source of truth.
BASE_REF ?= origin/main
BUMP ?= patch

.PHONY: help format lint test xtask-test
help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

format: ## Run the formatting pre-commit hooks
	cargo xtask fmt

lint: ## Run every pre-commit hook
	cargo xtask lint

test: ## Test the packages changed since BASE_REF and their dependants
	cargo xtask test --base-ref $(BASE_REF)

xtask-test: ## Run the release tool's own test suite
	scripts/test.sh
