#!/usr/bin/env bash
# Upgrade the pinned LiteLLM in one step (`make upgrade-litellm VERSION=x.y.z`):
#   1. switch the pin everywhere it is written (the list below; any other mention is printed),
#   2. refresh the hash locks (scripts/lock.sh) and reinstall the venv from them,
#   3. regenerate the schema (and the facts file) and print what changed, key by key,
#   4. run the checks of every LiteLLM behaviour the project relies on (marker litellm_contract),
#      the schema guard and the corpus.
# Then review the diff, add a docs/CHANGELOG.md entry, rebuild the images
# (scripts/build-images-offline.sh --rebuild=litellm,mlflow) and run `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
NEW="${1:-}"
[[ "$NEW" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 VERSION (e.g. 1.108.7)" >&2; exit 2; }
PY=.venv/bin/python
OLD="$(sed -n 's/^LITELLM_PIN = "\(.*\)"$/\1/p' llmproxy_ops/__init__.py)"
[ -n "$OLD" ] || { echo "LITELLM_PIN not found in llmproxy_ops/__init__.py" >&2; exit 1; }
[ "$OLD" != "$NEW" ] || { echo "already pinned at $NEW"; exit 0; }
# Where the pin is written; everything else derives from LITELLM_PIN or reads these.
PINNED=(pyproject.toml llmproxy_ops/__init__.py lock/litellm-image.in
        compose/images/litellm/Dockerfile compose/images/mlflow/Dockerfile
        scripts/build-images-offline.sh configs/environments/ci.yaml)
old_re="${OLD//./\\.}"
# Check the index serves it before touching anything.
"$PY" -m pip download --quiet --no-deps --dest "$(mktemp -d)" "litellm==$NEW" \
  || { echo "litellm $NEW cannot be downloaded from the index" >&2; exit 1; }
old_schema="$(mktemp)"
cp llmproxy_ops/validate/litellm_schema.json "$old_schema"
sed -i "s/$old_re/$NEW/g" "${PINNED[@]}"
echo "[upgrade] pin $OLD -> $NEW in: ${PINNED[*]}"
bash scripts/lock.sh
"$PY" -m pip install --quiet --require-hashes --no-deps -r lock/test.txt
"$PY" -m llmproxy_ops.validate.schema_gen
"$PY" -m llmproxy_ops.validate.facts_gen
echo "[upgrade] providers and model map (litellm_facts.json):"
git diff --stat -- llmproxy_ops/validate/litellm_facts.json || true
echo "[upgrade] schema:"
"$PY" -m llmproxy_ops.validate.schema_diff "$old_schema" llmproxy_ops/validate/litellm_schema.json
echo "[upgrade] other mentions of $OLD to review:"
git grep -n "$old_re" -- ':!benchmarks/results' ':!docs/CHANGELOG.md' || echo "  none"
echo "[upgrade] LiteLLM behaviours the project relies on, the schema guard, the corpus:"
export LITELLM_LOCAL_MODEL_COST_MAP=True
"$PY" -m pytest -q -m litellm_contract tests/integration
"$PY" -m pytest -q tests/unit/test_schema_gen.py tests/unit/test_litellm_facts.py tests/unit/test_corpus.py
echo "[upgrade] next: review the diff, add a docs/CHANGELOG.md entry, rebuild the images"
echo "  (scripts/build-images-offline.sh --rebuild=litellm,mlflow) and run make test"
