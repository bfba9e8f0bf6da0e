"""Run the scripts of examples/ as a user would and check what they write."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.image
import pandas as pd
import pytest
import timm
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / 'examples'

pytestmark = pytest.mark.slow


def run_example(script: str, cwd: Path, *args: str) -> str:
    """Run an example in a fresh interpreter; fail with its output if it fails."""
    # One thread each: on a busy shared CPU, OpenMP threads that spin while waiting
    # for a core slow small models down many times over
    env = {
        **os.environ,
        'PYTHONWARNINGS': 'ignore',
        'OMP_NUM_THREADS': '1',
        'MKL_NUM_THREADS': '1',
    }
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f'{script} failed:\n{result.stderr[-4000:]}'
    return result.stdout


def read_json(path: Path) -> Any:
    """Parse a JSON file the example wrote."""
    assert path.is_file(), f'{path} was not written'
    return json.loads(path.read_text())


def assert_png(path: Path, min_height: int, min_width: int) -> None:
    """The file is a readable PNG of at least the given size."""
    assert path.is_file(), f'{path} was not written'
    image = matplotlib.image.imread(path)
    assert image.shape[0] >= min_height
    assert image.shape[1] >= min_width
    assert image.std() > 0.05, f'{path} is (almost) blank'


@pytest.fixture(scope='module')
def demo64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by the examples that use 64-pixel demo tiles."""
    return tmp_path_factory.mktemp('demo64')


def test_sample_temporal_views(tmp_path: Path) -> None:
    out = tmp_path / 'views'
    stdout = run_example('sample_temporal_views.py', tmp_path, '--out', str(out))
    assert f'Wrote {out}' in stdout
    summary = read_json(out / 'views.json')
    assert set(summary) == {'gassl_views', 'seco_seasons'}
    for name, views in (('gassl_views', 2), ('seco_seasons', 3)):
        part = summary[name]
        assert_png(out / part['figure'], 300, 300)
        batch = part['batch']
        assert batch['image'] == {
            'shape': [4, views, 4, 48, 48],
            'dtype': 'torch.float32',
        }
        assert batch['point'] == {'shape': [4, 2], 'dtype': 'torch.float64'}
        assert batch['time'] == {'shape': [4, views], 'dtype': 'torch.float64'}
        assert batch['label'] == {'shape': [4], 'dtype': 'torch.int64'}
        assert batch['skipped'] == {'shape': [4], 'dtype': 'torch.int64'}
        assert len(set(part['sites'])) == 4  # one location per site
        for row in part['dates']:
            dates = pd.to_datetime(row)
            assert len(set(dates)) == views
            if name == 'gassl_views':
                assert abs(dates[1] - dates[0]) >= pd.Timedelta('30D')
            else:
                assert len({d.quarter for d in dates}) == views
    text = (out / 'batches.txt').read_text()
    assert text.count('TemporalViewSampler(views=') == 2


def test_pretrain_gassl(tmp_path: Path, demo64: Path) -> None:
    out = tmp_path / 'gassl'
    run_example('pretrain_gassl.py', tmp_path, '--out', str(out), '--data', str(demo64))
    result = read_json(out / 'result.json')
    assert 0 < result['steps'] <= 12  # 2 epochs of at most 48 / 8 batches
    assert math.isfinite(result['train_loss'])
    metadata = result['backbone_metadata']
    assert metadata['method'] == 'GASSL'
    assert metadata['model'] == 'resnet18'
    assert metadata['in_channels'] == 4
    assert metadata['bands'] == ['blue', 'green', 'red', 'nir']

    exported = torch.load(result['backbone_weights'], weights_only=True)
    weights = exported['state_dict_ema']  # the plain timm names, for timm
    encoder = timm.create_model('resnet18', in_chans=4, num_classes=0)
    encoder.load_state_dict(weights)  # strict: the export is a complete backbone
    assert exported['state_dict'].keys() == {f'model.{k}' for k in weights}
    assert result['classification_loaded_tensors'] == len(weights)
    assert (out / 'checkpoints' / 'last.ckpt').is_file()

    probe = result['probe']
    assert probe['samples'] > 50
    assert set(probe['accuracy']) == {'pretrained', 'random_init'}
    assert all(0 <= acc <= 1 for acc in probe['accuracy'].values())


def test_csp_location_encoder(tmp_path: Path, demo64: Path) -> None:
    out = tmp_path / 'csp'
    run_example(
        'csp_location_encoder.py', tmp_path, '--out', str(out), '--data', str(demo64)
    )
    result = read_json(out / 'result.json')
    assert result['steps'] > 0
    assert math.isfinite(result['train_loss'])
    assert result['encoding'] == 'grid'
    assert result['embed_dim'] == 256
    assert result['grid_points'] == 180 * 90  # 2-degree cells
    assert_png(out / result['figure'], 250, 500)

    similarity = pd.DataFrame(result['site_cosine_similarity'])
    assert similarity.shape == (10, 10)
    for site in similarity.columns:
        assert similarity.loc[site, site] == pytest.approx(1.0, abs=1e-3)
    assert (similarity.to_numpy() <= 1 + 1e-3).all()
    assert (similarity == similarity.T).all().all()
