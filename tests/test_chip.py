import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.chip import METADATA, ReadSample, chip, main
from torchgeo_geossl.datamodules import DemoDataModule, StreamingViewsDataModule

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
INIT: dict[str, Any] = {
    'tile_size': 48,
    'batch_size': 4,
    'patch_size': 16,
    'length': 12,
    'views': 3,
    'distinct_periods': 'Q',
    'geo_clusters': 4,
}


def write_config(path: Path, root: Path, **init: Any) -> Path:
    data = {
        'class_path': 'torchgeo_geossl.datamodules.DemoDataModule',
        'init_args': {'root': str(root), **INIT, **init},
    }
    path.write_text(yaml.safe_dump({'seed_everything': 0, 'data': data}))
    return path


@pytest.fixture(scope='module')
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp('chip')
    config = write_config(folder / 'source.yaml', folder / 'demo')
    out = folder / 'chips'
    main(['--config', str(config), '--out', str(out), '--samples', '16'])
    return out


def points(batches: list[dict[str, torch.Tensor]]) -> list[list[float]]:
    return [row for batch in batches for row in batch['point'].tolist()]


def test_cli_chips_the_config_with_samples_and_seed(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metadata = json.loads((store / METADATA).read_text())
    assert (metadata['samples'], metadata['drawn'], metadata['skipped']) == (16, 16, 0)
    assert metadata['seed'] == 0
    assert metadata['source']['init_args']['length'] == 12  # as in the config
    assert metadata['views'] == 3
    assert metadata['geo_clusters']['num_clusters'] == 4

    reference = DemoDataModule(root=store.parent / 'demo', **{**INIT, 'length': 16})
    reference.setup('fit')
    loader = reference.train_dataloader()
    loader.sampler.set_epoch(0)
    streamed = StreamingViewsDataModule(store, batch_size=4, shuffle=False)
    streamed.setup('fit')
    assert points(list(streamed.train_dataloader())) == points(list(loader))

    out = tmp_path / 'seeded'
    main(
        [
            '--config',
            str(write_config(tmp_path / 'c.yaml', store.parent / 'demo')),
            '--out',
            str(out),
            '--samples',
            '4',
            '--seed',
            '9',
        ]
    )
    printed = capsys.readouterr().out
    assert f'Wrote 4 samples of 4 drawn to {out} (seed 9)' in printed
    assert 'GB per million samples' in printed
    seeded = StreamingViewsDataModule(out, batch_size=4, shuffle=False)
    seeded.setup('fit')
    (batch,) = list(seeded.train_dataloader())
    assert batch['point'].tolist() != points(list(loader))[:4]


def test_console_script_is_declared() -> None:
    text = (ROOT / 'pyproject.toml').read_text()
    assert 'geossl-chip = "torchgeo_geossl.chip:main"' in text


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--samples', '0'], '--samples must be at least 1, got 0'),
        (['--workers', '0'], '--workers must be at least 1, got 0'),
    ],
)
def test_cli_bad_arguments(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / 'c.yaml', tmp_path / 'demo')
    with pytest.raises(SystemExit) as info:
        main(['--config', str(config), '--out', str(tmp_path / 'out'), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'demo').exists()


def test_config_without_data(tmp_path: Path) -> None:
    config = tmp_path / 'c.yaml'
    config.write_text('trainer: {max_epochs: 1}\n')
    with pytest.raises(ValueError, match=r'has no data: section'):
        main(['--config', str(config), '--out', str(tmp_path / 'out')])


def test_chip_bad_arguments(tmp_path: Path) -> None:
    source = DemoDataModule(root=tmp_path / 'demo', **INIT)
    with pytest.raises(ValueError, match='samples must be at least 1, got 0'):
        chip(source, tmp_path / 'out', samples=0)
    with pytest.raises(ValueError, match='num_workers must be at least 1, got 0'):
        chip(source, tmp_path / 'out', num_workers=0)


def fit(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / 'fit.yaml'
    path.write_text(yaml.safe_dump(config))
    torchgeo_main(
        [
            'fit',
            '--config',
            str(path),
            '--trainer.fast_dev_run=1',
            f'--trainer.default_root_dir={tmp_path}',
        ]
    )


def streaming_section(store: Path) -> dict[str, Any]:
    return {
        'class_path': 'torchgeo_geossl.datamodules.StreamingViewsDataModule',
        'init_args': {
            'input_dir': str(store),
            'batch_size': 4,
            'num_workers': 0,
            'cache_dir': str(store.parent / 'cache'),
        },
    }


@pytest.mark.slow
def test_gassl_example_config_trains_on_the_store(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    config = yaml.safe_load((CONFIGS / 'streaming' / 'gassl_demo.yaml').read_text())
    assert config['data']['class_path'].endswith('StreamingViewsDataModule')
    config['data']['init_args'].update(streaming_section(store)['init_args'])
    config['model']['init_args'].update(queue_size=64, size=12)
    fit(config, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ('task', 'model'),
    [
        ('seco/demo.yaml', {'queue_size': 64, 'size': 12}),
        ('csp/demo.yaml', {'hidden_dim': 16, 'embed_dim': 8}),
    ],
)
def test_tasks_train_on_the_store(
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    model: dict[str, Any],
) -> None:
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((CONFIGS / task).read_text())
    config['model']['init_args'].update(model)
    config['data'] = streaming_section(store)
    fit(config, tmp_path)


def test_read_sample_leaves_out_skipped_samples() -> None:
    samples = [{'image': torch.zeros(2, 1, 2, 2)}, None]
    read = ReadSample(samples)  # type: ignore[arg-type]
    assert inspect.isgeneratorfunction(read.__call__)  # how LitData drops samples
    assert [len(list(read(i))) for i in range(2)] == [1, 0]
