#!/usr/bin/env bash
# Lines of the xtask (`.rs` and `.py`) at a commit (default HEAD), by what they are: product code (`xtask/src`
# without its unit tests), unit tests (each `#[cfg(test)] mod … { … }` to its closing brace, and
# the files of `#[cfg(test)] mod name;`), integration tests (`xtask/tests`) and the GitHub stand-in
# (`xtask/standin`). Every line counts, blank and comment lines included, as `wc -l` counts them.
#
#   scripts/bench/lines.sh            # HEAD
#   scripts/bench/lines.sh main       # any commit, branch or tag
#
# With CLEAN_BUILD=1 it also times a clean `cargo build -p xtask` (debug) of the working tree
# in a target directory of its own, `target/bench/clean-build`, and prints the load around it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rev=${1:-HEAD}

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
git archive "$rev" xtask | tar -x -C "$tree"

# The files of test-only modules declared as `#[cfg(test)] mod name;`, relative to the tree:
# beside `lib.rs`/`main.rs`/`mod.rs`, else in the directory named after the declaring file.
test_files() {
  (cd "$tree" && find xtask/src -name '*.rs' | sort | while read -r file; do
    awk '/^#\[cfg\(test\)\]$/ { t = 1; next } t && /^(pub(\([a-z]+\))? )?mod [a-z_0-9]+;$/ { sub(/;$/, ""); print $NF } { t = 0 }' "$file" |
      while read -r name; do
        dir=$(dirname "$file")
        case $(basename "$file") in
          lib.rs | main.rs | mod.rs) base=$dir ;;
          *) base=$dir/$(basename "$file" .rs) ;;
        esac
        for candidate in "$base/$name.rs" "$base/$name/mod.rs"; do
          [ -f "$candidate" ] && echo "$candidate"
        done
        # A test module's own directory (`tests/` beside its `tests.rs`) holds test code too.
        [ -d "$base/$name" ] && find "$base/$name" -name '*.rs'
      done
  done) | sort -u
}

# `product unit` line counts of one source file that is not a test file.
split_file() {
  awk '
    pending && /^(pub(\([a-z]+\))? )?mod [a-z_0-9]+ \{$/ { unit += 2; inside = 1; pending = 0; next }
    pending { product += 1; pending = 0 }
    inside { unit += 1; if ($0 == "}") inside = 0; next }
    /^#\[cfg\(test\)\]$/ { pending = 1; next }
    { product += 1 }
    END { if (pending) product += 1; print product + 0, unit + 0 }
  ' "$1"
}

tests=$(test_files)
product=0
unit=0
while read -r file; do
  if grep -qxF "$file" <<<"$tests"; then
    unit=$((unit + $(wc -l <"$tree/$file")))
  else
    read -r p u < <(split_file "$tree/$file")
    product=$((product + p))
    unit=$((unit + u))
  fi
done < <(cd "$tree" && find xtask/src -type f \( -name '*.rs' -o -name '*.py' \) | sort)

count() { (cd "$tree" && find "$1" -type f \( -name '*.rs' -o -name '*.py' \) -print0 | xargs -0 cat 2>/dev/null | wc -l) }
integration=$(count xtask/tests)
standin=$(count xtask/standin)

echo "lines at $(git rev-parse --short "$rev") ($rev):"
echo "  product (xtask/src without unit tests): $product"
echo "  unit tests (in xtask/src):              $unit"
echo "  integration tests (xtask/tests):        $integration"
echo "  stand-in (xtask/standin):               $standin"

if [ "${CLEAN_BUILD:-0}" = 1 ]; then
  dir=target/bench/clean-build
  rm -rf "$dir"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s)
  CARGO_TARGET_DIR=$dir cargo build --quiet -p xtask
  end=$(date +%s)
  echo "clean cargo build -p xtask (debug, $(nproc) cores): $((end - start)) s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
