#!/usr/bin/env bash
# Refresh the hash locks from pyproject.toml and lock/*.in (`make lock`).
#   lock/runtime.txt        what `make up` installs: llmproxy-ops's deps (the pinned LiteLLM)
#                           and the build back-end for the editable install
#   lock/test.txt           runtime.txt's pins + the [test] extra
#   lock/litellm-image.txt  what the llmproxy-ops/litellm image installs
# Every file carries sha256 hashes of every distribution; installs use --require-hashes, so
# a package the index serves tomorrow (or a tampered one) is refused instead of installed.
# Needs pip-tools in the venv (the [test] extra has it) and the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
compile() {
  "$PY" -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --newline=LF "$@"
}
# The pins file's path is written into the locks' headers: a fixed one keeps a refresh that
# changes nothing from changing the image lock (whose sha256 decides an image rebuild).
pins=lock/.runtime-pins.txt
trap 'rm -f "$pins"' EXIT

compile --output-file=lock/runtime.txt pyproject.toml lock/build.in
# The test lock is constrained to the runtime pins so both venvs run the same versions.
grep -E '^[A-Za-z0-9._-]+==' lock/runtime.txt | sed 's/ *\\$//' >"$pins"
compile --extra=test --constraint="$pins" --output-file=lock/test.txt \
  pyproject.toml lock/build.in
# The image runs the same versions as the local venv wherever the two overlap.
compile --constraint="$pins" --output-file=lock/litellm-image.txt \
  lock/litellm-image.in
echo "[lock] refreshed: lock/runtime.txt lock/test.txt lock/litellm-image.txt"
