"""Every config of configs/ is as complete as the main job's.

Each keeps its last checkpoint (``save_last``), logs to CSV and TensorBoard, keeps a
resumable checkpoint when a run fails and logs skipped samples; each whose data has
images logs a figure of the sampled views.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIGS = sorted((Path(__file__).resolve().parents[1] / 'configs').rglob('*.yaml'))
CALLBACKS = {
    'torchgeo_geossl.callbacks.CheckpointOnException',
    'torchgeo_geossl.callbacks.SkippedSamplesMonitor',
}
LOGGERS = [
    'lightning.pytorch.loggers.CSVLogger',
    'lightning.pytorch.loggers.TensorBoardLogger',
]
#: Data modules whose batches hold no image (no figure of views to log).
WITHOUT_IMAGES = {'torchgeo_geossl.datamodules.points.PointsDataModule'}
#: Fine-tuning configs of TorchGeo's tasks: the task draws its figures itself (no
#: LogSampledViews) and its data module skips no samples (no SkippedSamplesMonitor).
DOWNSTREAM = {'oscd_change_detection'}


def trainer(path: Path) -> dict[str, Any]:
    section: dict[str, Any] = yaml.safe_load(path.read_text())['trainer']
    return section


def test_all_configs_are_found() -> None:
    names = {str(p.relative_to(p.parents[1])) for p in CONFIGS}
    assert {'gassl/own_sentinel2.yaml', 'seco/seco_s2.yaml', 'csp/s2100k.yaml'} <= names
    assert len(CONFIGS) >= 15


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_is_complete(path: Path) -> None:
    section = trainer(path)
    root = section['default_root_dir']
    loggers = section['logger']
    assert [logger['class_path'] for logger in loggers] == LOGGERS
    assert all(logger['init_args']['save_dir'] == root for logger in loggers)
    callbacks = {
        cb['class_path']: cb.get('init_args', {}) for cb in section['callbacks']
    }
    checkpoint = callbacks['lightning.pytorch.callbacks.ModelCheckpoint']
    assert checkpoint['save_last'] is True
    assert checkpoint['dirpath'] == f'{root}/checkpoints'
    views = 'torchgeo_geossl.callbacks.LogSampledViews' in callbacks
    if path.stem in DOWNSTREAM:
        assert 'torchgeo_geossl.callbacks.CheckpointOnException' in callbacks
        assert not views
        return
    assert set(callbacks) >= CALLBACKS
    # an overlay config (demo_validation.yaml) takes the main job's data section
    data = yaml.safe_load(path.read_text()).get('data', {}).get('class_path')
    assert views == (data not in WITHOUT_IMAGES)


def test_output_folders_are_distinct() -> None:
    roots = [trainer(path)['default_root_dir'] for path in CONFIGS]
    assert len(set(roots)) == len(roots)
