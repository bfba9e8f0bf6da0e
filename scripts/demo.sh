#!/usr/bin/env bash
# The main job: generate the demo data (first run only) and preview sampled temporal views.
# Sets up .venv on first use. Extra arguments go to `geossl-preview` (see --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$root/scripts/bootstrap.sh")"
cd "$root"
exec "$venv/bin/geossl-preview" "$@"
