"""Tests of benchmarks/loader.py: a quick run and its bad arguments."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'loader.py'
ENV = os.environ | {'OMP_WAIT_POLICY': 'PASSIVE'}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


@pytest.mark.slow
def test_quick_run_writes_rates_side_by_side(tmp_path: Path) -> None:
    missing = tmp_path / 'no-data'
    result = run('--quick', '--out', str(tmp_path), '--data-root', str(missing))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        f'[skip] {missing / "landsat-timeseries-colorado"} not found' in result.stdout
    )
    payload = json.loads((tmp_path / 'loader.json').read_text())
    (row,) = payload['loaders']
    assert (row['dataset'], row['size'], row['workers']) == ('demo', 64, 0)
    assert row['pairs_timed'] > 0
    assert row['ratio'] == pytest.approx(
        row['stream_pairs_per_s'] / row['geotiff_pairs_per_s']
    )
    # 2 views x 4 bands x 64 x 64 float32 pixels, plus metadata
    assert 131_072 < row['store_bytes_per_pair'] < 140_000
    (model,) = payload['models']
    assert (model['model'], model['size']) == ('resnet18', 64)
    assert model['pairs_per_s'] == pytest.approx(
        model['batch_size'] / model['median_ms'] * 1e3
    )
    assert 'stream / GeoTIFF' in payload['table']
    assert (tmp_path / 'loader.png').stat().st_size > 0


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--sizes', '512'], '--sizes must lie in [8, 64] (half of --tile-size 128'),
        (['--workers', '-1'], '--workers must not be negative'),
        (['--batches', '1'], '--batches must be at least 2'),
    ],
)
def test_bad_arguments(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        loader = importlib.import_module('loader')
    finally:
        sys.path.remove(str(SCRIPT.parent))
    with pytest.raises(SystemExit) as info:
        loader.parse(['--quick', *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
