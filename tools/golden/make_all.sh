#!/usr/bin/env bash
# Regenerates every golden fixture under tests/golden/ from the reference libraries.
# Usage: bash tools/golden/make_all.sh   (PYTHON=/path/to/python to pick an interpreter)
# Needs the packages pinned in tools/golden/requirements.txt; the tests themselves never run Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
for script in tools/golden/*.py; do
  echo "golden: $script"
  "$PYTHON" "$script"
done
