#!/usr/bin/env bash
# Create (on first use) or refresh (when pyproject.toml changes) the project's virtual
# environment in .venv and print its path. Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GEOSSL_VENV:-$root/.venv}"

find_python() {
    local candidate
    for candidate in "${GEOSSL_PYTHON:-}" python3.12; do
        if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] >= (3, 12)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    # pyenv installs versions that are not on PATH unless selected
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in $(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r); do
            if "$candidate" -c 'import sys' 2>/dev/null; then
                echo "$candidate"
                return 0
            fi
        done
    fi
    return 1
}

stamp_of() {
    cat "$root/pyproject.toml" "$root/scripts/bootstrap.sh" | sha256sum | cut -d' ' -f1
}

# A fresh environment holds PyTorch's CUDA build (about 6.5 GB installed, plus the downloaded
# wheels while pip unpacks them). Say so before pip fails half-way with "No space left on device".
need_gib="${GEOSSL_MIN_FREE_GIB:-8}"
check_free_space() {
    local dir="$1" free_kib
    free_kib="$(df -Pk "$dir" | awk 'NR == 2 {print $4}')"
    if [ -n "$free_kib" ] && [ "$free_kib" -lt $((need_gib * 1024 * 1024)) ]; then
        echo "error: installing PyTorch and the other dependencies into $venv needs about" \
            "$need_gib GiB free, but the file system of $dir has only" \
            "$((free_kib / 1024)) MiB free; free some space or set GEOSSL_VENV to a" \
            "directory on a larger disk" >&2
        exit 1
    fi
}

if [ ! -x "$venv/bin/python" ]; then
    python="$(find_python)" || {
        echo "error: torchgeo-geossl needs Python >= 3.12; set GEOSSL_PYTHON=/path/to/python3.12" >&2
        exit 1
    }
    echo "[bootstrap] creating $venv with $python" >&2
    "$python" -m venv "$venv"
fi

if [ "$(cat "$venv/.geossl-stamp" 2>/dev/null)" != "$(stamp_of)" ]; then
    echo "[bootstrap] installing torchgeo-geossl and its dependencies into $venv (first run takes a few minutes)" >&2
    log="$venv/.geossl-install.log"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    if ! "$venv/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
        check_free_space "$venv"
        "$venv/bin/python" -m pip install torch==2.14.1 torchvision==0.29.1 >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    fi
    "$venv/bin/python" -m pip install -e "$root[tests,style,docs]" >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    stamp_of > "$venv/.geossl-stamp"
fi

echo "$venv"
