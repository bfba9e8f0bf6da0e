"""``torchgeo validate``, ``test`` and ``predict`` with every config of the package."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import geopandas
import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.callbacks import GeoParquetWriter
from torchgeo_geossl.datasets.demo import generate_demo_data

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
DATA = ROOT / 'tests' / 'data'
STAGES = ('validate', 'test', 'predict')

SMALL_MOCO = [
    '--model.init_args.model=resnet18',
    '--model.init_args.size=16',
    '--model.init_args.queue_size=64',
]
# 64 px demo tiles (640 m): 160 m patches in held-out cells of 320 m
SMALL_DEMO = [
    '--data.init_args.tile_size=64',
    '--data.init_args.patch_size=16',
    '--data.init_args.batch_size=4',
    '--data.init_args.num_workers=0',
    '--data.init_args.holdout.cell_size=320',
]
SMALL_FMOW = [
    *SMALL_MOCO,
    f'--data.init_args.root={DATA / "fmow"}',
    '--data.init_args.size=32',
    '--data.init_args.batch_size=2',
    '--data.init_args.num_workers=0',
]
FMOW_GEO = ['--model.init_args.geo_classes=2', '--data.init_args.geo_clusters=2']
SMALL_CSP = ['--model.init_args.hidden_dim=16', '--model.init_args.embed_dim=8']

#: Per config: the overrides that point it at the package's fixtures (``{demo}``:
#: generated demo tiles of 64 px), and whether its default data is absent.
FIXTURES: dict[str, tuple[list[str], bool]] = {
    'demo.yaml': ([*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO], False),
    'gassl/moco_v2.yaml': (
        [*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO],
        False,
    ),
    'gassl/moco_v2_geo.yaml': (
        [*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO],
        False,
    ),
    'gassl/moco_v2_tp.yaml': (
        [*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO],
        False,
    ),
    'gassl/moco_v2_tp_geo.yaml': (
        [*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO],
        False,
    ),
    'gassl/fmow_moco_v2.yaml': (SMALL_FMOW, True),
    'gassl/fmow_moco_v2_geo.yaml': ([*SMALL_FMOW, *FMOW_GEO], True),
    'gassl/fmow_moco_v2_tp.yaml': (SMALL_FMOW, True),
    'gassl/fmow_tp_geo.yaml': ([*SMALL_FMOW, *FMOW_GEO], True),
    'seco/demo.yaml': (
        [*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO],
        False,
    ),
    'seco/seco_s2.yaml': (
        [
            *SMALL_MOCO,
            f'--data.init_args.root={DATA / "seco"}',
            '--data.init_args.version=100k',
            '--data.init_args.batch_size=1',
            '--data.init_args.num_workers=0',
        ],
        True,
    ),
    'csp/demo.yaml': ([*SMALL_CSP, '--data.init_args.root={demo}', *SMALL_DEMO], False),
    'csp/s2100k.yaml': (
        [
            *SMALL_CSP,
            '--model.init_args.model=resnet18',
            '--model.init_args.weights=null',
            f'--data.init_args.root={DATA / "s2100k"}',
            '--data.init_args.batch_size=3',
            '--data.init_args.num_workers=0',
        ],
        True,
    ),
    'csp/geoprior_demo.yaml': (
        [f'--data.init_args.path={DATA / "points" / "points.csv"}'],
        False,
    ),
    # the OSCD fixture's 4 bands, 32 px crops, the pre-training checkpoint of
    # conftest's pretrained (4 bands) for the LoadPretrainedBackbone callback
    # (the last callback of the config)
    'seco/oscd_change_detection.yaml': (
        [
            f'--data.dict_kwargs.root={DATA / "oscd"}',
            '--data.dict_kwargs.bands=[B04, B03, B02, B08]',
            '--model.init_args.in_channels=4',
            '--trainer.callbacks.init_args.checkpoint={pretrained}',
            '--data.init_args.patch_size=32',
            '--data.init_args.batch_size=2',
            '--data.init_args.num_workers=0',
            '--data.init_args.val_split_pct=0.34',
        ],
        False,
    ),
    'demo_validation.yaml': (
        [*SMALL_MOCO, '--data.init_args.root={demo}', *SMALL_DEMO],
        False,
    ),
    # two 320 m granules: 80 m patches in held-out cells of 160 m
    'gassl/own_sentinel2.yaml': (
        [
            *SMALL_MOCO,
            f'--data.init_args.root={DATA / "sentinel2"}',
            '--data.init_args.patch_size=8',
            '--data.init_args.batch_size=2',
            '--data.init_args.num_workers=0',
            '--data.init_args.holdout.cell_size=160',
        ],
        False,
    ),
}

#: Overlay configs and the config they are given after (``--config A --config B``).
OVERLAYS = {'demo_validation.yaml': 'demo.yaml'}

#: Configs without validate/test/predict of their own, and why.
NOT_STAGED = {
    # a store of training samples only: the stages run on the chipped config, and
    # the store's data module says so (tests/datamodules/test_streaming.py)
    'streaming/gassl_demo.yaml'
}

#: Configs whose predict returns TorchGeo's outputs (change probability maps of
#: ChangeDetection) to a prediction writer of the user's, writing no file itself.
WITHOUT_GEOPARQUET = {'seco/oscd_change_detection.yaml'}


#: Per config and stage: further overrides.
STAGE_FIXTURES = {
    # 2 usable locations: one held out for the stage, one for training
    'seco/seco_s2.yaml': {
        'validate': [
            '--data.init_args.val_split_pct=0.5',
            '--data.init_args.test_split_pct=0',
        ],
        'test': [
            '--data.init_args.val_split_pct=0',
            '--data.init_args.test_split_pct=0.5',
        ],
    }
}


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('demo')
    generate_demo_data(root, size=64)
    return root


def run(
    stage: str, config: str, arguments: list[str], tmp_path: Path, demo: Path
) -> None:
    """Run ``torchgeo <stage> --config <config>`` for one batch."""
    base = [str(CONFIGS / OVERLAYS[config]), '--config'] if config in OVERLAYS else []
    torchgeo_main(
        [
            stage,
            '--config',
            *base,
            str(CONFIGS / config),
            '--trainer.fast_dev_run=1',
            '--trainer.accelerator=cpu',
            f'--trainer.default_root_dir={tmp_path}',
            *(a.format(demo=demo) for a in arguments),
        ]
    )


def test_every_config_is_covered() -> None:
    configs = {str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob('*.yaml')}
    assert configs == set(FIXTURES) | NOT_STAGED, (
        'give each config its fixture overrides here'
    )


@pytest.mark.slow
@pytest.mark.parametrize('stage', STAGES)
@pytest.mark.parametrize('config', sorted(FIXTURES))
def test_stage_runs_on_the_fixtures(
    config: str,
    stage: str,
    demo_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pretrained: Callable[[str], Path],
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    extra = STAGE_FIXTURES.get(config, {}).get(stage, [])
    arguments = [*FIXTURES[config][0], *extra]
    if any('{pretrained}' in a for a in arguments):
        checkpoint = pretrained('resnet18')
        arguments = [a.replace('{pretrained}', str(checkpoint)) for a in arguments]
    run(stage, config, arguments, tmp_path, demo_root)
    if config in WITHOUT_GEOPARQUET:
        assert not (tmp_path / 'predictions.parquet').exists()
    elif stage == 'predict':
        frame = geopandas.read_parquet(tmp_path / 'predictions.parquet')
        assert len(frame) > 0
        assert frame.crs.to_epsg() == 4326


#: Per config whose data is absent: model overrides that keep the runs small (and,
#: for S2-100K, no weights download), and the root its message must name.
ABSENT = {
    'gassl/fmow_moco_v2.yaml': (SMALL_MOCO, 'data/fmow'),
    'gassl/fmow_moco_v2_geo.yaml': (SMALL_MOCO, 'data/fmow'),
    'gassl/fmow_moco_v2_tp.yaml': (SMALL_MOCO, 'data/fmow'),
    'gassl/fmow_tp_geo.yaml': (SMALL_MOCO, 'data/fmow'),
    'seco/seco_s2.yaml': (SMALL_MOCO, 'data/seco'),
    'csp/s2100k.yaml': (
        [
            *SMALL_CSP,
            '--model.init_args.model=resnet18',
            '--model.init_args.weights=null',
        ],
        'data/s2-100k',
    ),
}


def error_of(stage: str, config: str, tmp_path: Path) -> BaseException:
    """The error of a stage run on the config's own (absent) data."""
    with pytest.raises(Exception) as info:  # noqa: PT011 (compared below)
        run(stage, config, ABSENT[config][0], tmp_path, tmp_path)
    return info.value


def test_absent_data_is_listed() -> None:
    assert set(ABSENT) == {name for name, (_, absent) in FIXTURES.items() if absent}


@pytest.mark.slow
@pytest.mark.parametrize('config', sorted(ABSENT))
def test_absent_data_fails_as_fit_does(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing under data/ here
    fit = error_of('fit', config, tmp_path)
    root = ABSENT[config][1]
    assert root in str(fit)
    for stage in STAGES:
        error = error_of(stage, config, tmp_path)
        assert type(error) is type(fit)
        # the same message, naming the split directory of the stage where it has one
        assert str(error).replace('/val', '/train') == str(fit), stage


class Spy(GeoParquetWriter):
    """Record what the writer receives."""

    batches: ClassVar[list[dict[str, Any]]] = []

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Record the batch and prediction, then write them."""
        Spy.batches.append(
            {
                'point': batch['point'].clone(),
                'time': batch['time'].clone(),
                'embedding': prediction.clone(),
            }
        )
        super().write_on_batch_end(
            trainer,
            pl_module,
            prediction,
            batch_indices,
            batch,
            batch_idx,
            dataloader_idx,
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ('config', 'dim', 'clusters'),
    [('demo.yaml', 512, 4), ('seco/demo.yaml', 512, 0), ('csp/demo.yaml', 8, 0)],
)
def test_predict_writes_geoparquet(
    config: str,
    dim: int,
    clusters: int,
    demo_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Spy.batches = []
    output = tmp_path / 'out' / 'embeddings.parquet'
    arguments = [
        *FIXTURES[config][0],
        '--trainer.limit_predict_batches=2',
        '--trainer.callbacks+=test_stages.Spy',
        f'--trainer.callbacks.output={output}',
    ]
    torchgeo_main(
        [
            'predict',
            '--config',
            str(CONFIGS / config),
            '--trainer.accelerator=cpu',
            f'--trainer.default_root_dir={tmp_path}',
            *(a.format(demo=demo_root) for a in arguments),
        ]
    )
    assert str(output) in capsys.readouterr().out
    assert not (tmp_path / 'predictions.parquet').exists()  # the user's writer only
    frame = geopandas.read_parquet(output)
    points = torch.cat([b['point'] for b in Spy.batches]).numpy()
    times = torch.cat([b['time'].reshape(-1) for b in Spy.batches]).numpy()
    embeddings = torch.cat([b['embedding'] for b in Spy.batches]).numpy()
    # 2 batches of up to 4 (a location at one date; samples without data are left out)
    assert 0 < len(frame) == len(points) <= 8
    assert frame.crs.to_epsg() == 4326
    assert (frame.geom_type == 'Point').all()
    np.testing.assert_array_equal(frame.geometry.x, points[:, 0])
    np.testing.assert_array_equal(frame.geometry.y, points[:, 1])
    assert (np.abs(points[:, 0]) <= 180).all()
    assert (np.abs(points[:, 1]) <= 90).all()
    expected_times = pd.to_datetime(times, unit='s', utc=True)
    assert (frame['time'] == expected_times).all()
    assert frame['time'].dt.year.eq(2021).all()  # the demo data's year
    stacked = np.stack(frame['embedding'].to_numpy())
    assert stacked.shape == (len(points), dim)
    np.testing.assert_array_equal(stacked, embeddings)
    if clusters:
        assert frame['cluster'].between(0, clusters - 1).all()
    else:
        assert 'cluster' not in frame


@pytest.mark.slow
def test_predict_without_writer_writes_in_default_root_dir(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run(
        'predict',
        'gassl/moco_v2.yaml',
        FIXTURES['gassl/moco_v2.yaml'][0],
        tmp_path / 'runs',
        demo_root,
    )
    frame = geopandas.read_parquet(tmp_path / 'runs' / 'predictions.parquet')
    assert 0 < len(frame) <= 4  # fast_dev_run: one batch
