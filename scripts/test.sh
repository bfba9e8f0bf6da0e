#!/usr/bin/env bash
# The test suite. Sets up .venv on first use. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$root/scripts/bootstrap.sh")"
cd "$root"
exec "$venv/bin/python" -m pytest "$@"
