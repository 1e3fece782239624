# Aliases of `cargo xtask` commands; the xtask is the source of truth.
.PHONY: help test
help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: ## Run the xtask's own test suite (installs the pinned tools first)
	scripts/test.sh
