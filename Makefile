# Aliases of `cargo xtask` commands, one line each; the xtask is the source of truth.
BASE_REF ?= origin/main
BUMP ?= patch

.PHONY: help format lint test changelog release publish rehearse xtask-test
help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

format: ## Run the formatting pre-commit hooks
	cargo xtask fmt

lint: ## Run every pre-commit hook
	cargo xtask lint

test: ## Test the packages changed since BASE_REF and their dependants
	cargo xtask test --base-ref $(BASE_REF)

changelog: ## Write the changelog section of the pull requests since the last release
	cargo xtask changelog

release: ## Prepare a BUMP release and open its pull request
	cargo xtask release prepare --bump $(BUMP) --pr

publish: ## Publish the merged release commit
	cargo xtask release publish

rehearse: ## Rehearse a whole release on a generated sample monorepo
	scripts/rehearse.sh

xtask-test: ## Run the release tool's own test suite
	scripts/test.sh
