import math
from collections.abc import Iterator
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor, nn
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.models.geoprior import GeoPriorFusion
from torchgeo_geossl.trainers.geoprior import GeoPriorTask

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'csp' / 'geoprior_demo.yaml'
FIXTURE = ROOT / 'tests' / 'data' / 'points' / 'points.csv'
CENTERS = torch.tensor([[20.0, 25.0], [-60.0, -5.0], [100.0, 65.0]])


class TinyEncoder(nn.Module):
    """Stand-in location encoder: wrap features and a two-layer MLP."""

    def __init__(self, output_dim: int = 16) -> None:
        """Build the MLP with *output_dim* outputs."""
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, output_dim))

    def forward(self, points: Tensor) -> Tensor:
        """Embed (lon, lat) points."""
        rad = torch.deg2rad(points)
        feats = torch.cat([rad.sin(), rad.cos()], dim=1)
        out: Tensor = self.mlp(feats)
        return out


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run far faster on one thread on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def easy_batch(n: int, generator: torch.Generator) -> dict[str, Tensor]:
    """3 classes, each in a 16-degree box around one of CENTERS."""
    label = torch.randint(0, 3, (n,), generator=generator)
    offset = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 16 - 8
    return {'point': CENTERS.double()[label] + offset, 'label': label}


def quiet(task: GeoPriorTask) -> dict[str, float]:
    logged: dict[str, float] = {}
    task.log = lambda name, value, **_: logged.__setitem__(
        name, float(torch.as_tensor(value).detach())
    )  # type: ignore[method-assign]
    return logged


def fit(task: GeoPriorTask, steps: int, seed: int = 0) -> None:
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(
        [p for p in task.parameters() if p.requires_grad], lr=0.01
    )
    generator = torch.Generator().manual_seed(seed)
    task.train()
    for step in range(steps):
        optimizer.zero_grad()
        task.training_step(easy_batch(64, generator), step).backward()
        optimizer.step()


def test_learns_location_only_classes() -> None:
    task = GeoPriorTask(
        num_classes=3, output_dim=32, hidden_dim=64, dropout=0.1,
        encoder_kwargs={'min_radius': 1.0, 'frequencies': 8},
    )  # fmt: skip
    logged = quiet(task)
    fit(task, 300)
    task.eval()
    generator = torch.Generator().manual_seed(1)
    test = easy_batch(300, generator)
    task.validation_step(test, 0)
    assert logged['val_top1'] > 0.9  # chance is 1/3
    # the prior is high for the true class at its region, low at random places
    probs = torch.sigmoid(task(CENTERS))
    assert (probs.diagonal() > 0.5).all()
    far = torch.tensor([[-150.0, -60.0], [170.0, 0.0]])
    assert (torch.sigmoid(task(far)) < 0.5).all()


def test_stand_in_encoder_and_logging() -> None:
    task = GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder())
    logged = quiet(task)
    loss = task.training_step(easy_batch(8, torch.Generator().manual_seed(0)), 0)
    assert torch.isfinite(loss)
    assert set(logged) == {'train_loss', 'train_top1'}
    assert logged['train_loss'] == pytest.approx(float(loss))
    assert 0 <= logged['train_top1'] <= 1
    # untrained head near 0: every entry is about log 2, lambda = K = 3 on the positive
    head = nn.init.zeros_(task.class_head.weight)
    assert head.abs().sum() == 0
    loss = task.training_step(easy_batch(8, torch.Generator().manual_seed(0)), 1)
    expected = (3 * math.log(2) + 2 * math.log(2)) / 3 + math.log(2)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_predict_step_returns_columns() -> None:
    encoder = TinyEncoder()
    task = GeoPriorTask(num_classes=7, output_dim=16, location_encoder=encoder).eval()
    label = torch.tensor([2, 0, 1])
    columns = task.predict_step({'point': CENTERS.double(), 'label': label}, 0)
    # no trainer, so no data module and no class names
    assert list(columns) == ['probability', 'top_class', 'label', 'embedding']
    embedding = encoder(CENTERS)
    torch.testing.assert_close(columns['embedding'], embedding)
    probs = torch.sigmoid(embedding @ task.class_head.weight.T)
    torch.testing.assert_close(columns['probability'], probs)
    assert ((probs > 0) & (probs < 1)).all()
    # the 5 most probable of the 7 classes, most probable first
    expected_top = np.argsort(-probs.detach().numpy(), axis=1, kind='stable')[:, :5]
    np.testing.assert_array_equal(columns['top_class'].numpy(), expected_top)
    assert torch.equal(columns['label'], label)
    # fewer than 5 classes: all of them, ranked
    three = GeoPriorTask(num_classes=3, output_dim=16, location_encoder=encoder)
    assert three.predict_step({'point': CENTERS}, 0)['top_class'].shape == (3, 3)


def test_freeze_encoder_trains_only_the_head() -> None:
    task = GeoPriorTask(
        num_classes=3, output_dim=16, location_encoder=TinyEncoder(),
        freeze_encoder=True,
    )  # fmt: skip
    quiet(task)
    encoder_before = {
        k: v.clone() for k, v in task.location_encoder.state_dict().items()
    }
    head_before = task.class_head.weight.clone()
    fit(task, 5)
    assert not task.location_encoder.training
    for key, value in task.location_encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key])
    assert not torch.equal(task.class_head.weight, head_before)
    optimizer = task.configure_optimizers()['optimizer']  # type: ignore[index]
    assert sum(len(g['params']) for g in optimizer.param_groups) == 1


def test_load_encoder_from_checkpoint(tmp_path: Path) -> None:
    source = GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder())
    # a Lightning-style checkpoint of another task (e.g. CSPTask): only the
    # location_encoder.* tensors are taken
    state = {
        f'location_encoder.{k}': v
        for k, v in source.location_encoder.state_dict().items()
    }
    state['image_encoder.weight'] = torch.zeros(2)
    ckpt = tmp_path / 'csp.ckpt'
    torch.save({'state_dict': state, 'hyper_parameters': {}}, ckpt)
    task = GeoPriorTask(
        num_classes=5, output_dim=16, location_encoder=TinyEncoder(), weights=ckpt
    )
    for key, value in source.location_encoder.state_dict().items():
        assert torch.equal(task.location_encoder.state_dict()[key], value)
    # a plain state dict of a whole GeoPriorTask works too
    plain = tmp_path / 'plain.pt'
    torch.save(source.state_dict(), plain)
    again = GeoPriorTask(
        num_classes=3, output_dim=16, location_encoder=TinyEncoder(), weights=str(plain)
    )
    points = CENTERS.double()
    source.eval()
    again.eval()
    assert torch.equal(
        source.location_encoder(points.float()), again.location_encoder(points.float())
    )


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='missing.ckpt'):
        GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder(),
                     weights=tmp_path / 'missing.ckpt')  # fmt: skip
    other = tmp_path / 'other.ckpt'
    torch.save({'state_dict': {'model.conv.weight': torch.zeros(1)}}, other)
    with pytest.raises(
        ValueError, match=r'no location_encoder\.\* tensors.*model\.conv'
    ):
        GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder(),
                     weights=other)  # fmt: skip
    wide = tmp_path / 'wide.ckpt'
    state = {f'location_encoder.{k}': v for k, v in TinyEncoder(8).state_dict().items()}
    torch.save({'state_dict': state}, wide)
    with pytest.raises(
        ValueError,
        match=r'mlp\.2\.weight: \[8, 32\] in the checkpoint, \[16, 32\] here',
    ):
        GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder(),
                     weights=wide)  # fmt: skip


def test_batch_and_argument_errors() -> None:
    task = GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder())
    quiet(task)
    batch = easy_batch(4, torch.Generator().manual_seed(0))
    with pytest.raises(KeyError, match=r"lacks \['label'\]"):
        task.training_step({'point': batch['point']}, 0)
    with pytest.raises(KeyError, match=r"lacks \['point'\]"):
        task.training_step(
            {'image': torch.zeros(4, 3, 8, 8), 'label': batch['label']}, 0
        )
    with pytest.raises(ValueError, match='integer class labels'):
        task.training_step(
            {'point': batch['point'], 'label': batch['label'].float()}, 0
        )
    with pytest.raises(ValueError, match=r'points \[B, 2\]'):
        task(torch.zeros(4, 3))
    with pytest.raises(KeyError, match='predict_step needs point'):
        task.predict_step({'label': batch['label']}, 0)
    wrong = GeoPriorTask(num_classes=3, output_dim=32, location_encoder=TinyEncoder(16))
    with pytest.raises(ValueError, match='output_dim=32'):
        wrong(batch['point'])
    with pytest.raises(ValueError, match='num_classes must be positive'):
        GeoPriorTask(num_classes=0)
    with pytest.raises(ValueError, match='lr_decay=1.5'):
        GeoPriorTask(num_classes=3, lr_decay=1.5)


class FixedPrior(nn.Module):
    """Logits +5 for class 0 west of 0°, for class 1 east of it, -5 otherwise."""

    def __init__(self) -> None:
        """Record calls; a dropout makes the module's mode matter."""
        super().__init__()
        self.calls: list[Tensor] = []
        self.dropout = nn.Dropout(0.5)

    def forward(self, points: Tensor) -> Tensor:
        """Logits of the points; only ever called in eval mode on finite points."""
        assert not self.training
        assert torch.isfinite(points).all()
        self.calls.append(points)
        east = (points[:, 0] > 0).long()
        logits = torch.full((len(points), 3), -5.0)
        logits[torch.arange(len(points)), east] = 5.0
        return logits


def test_fusion_argmax_and_fallback() -> None:
    prior = FixedPrior()
    fusion = GeoPriorFusion(prior)
    fusion.train()
    image = torch.tensor([[0.4, 0.35, 0.25]] * 4)
    points = torch.tensor(
        [[-10.0, 0.0], [10.0, 0.0], [float('nan'), float('nan')], [10.0, 0.0]]
    )
    valid = torch.tensor([True, True, True, False])
    scores = fusion(image, points, valid)
    s = torch.sigmoid(torch.tensor(5.0))
    n = torch.sigmoid(torch.tensor(-5.0))
    torch.testing.assert_close(scores[0], image[0] * torch.stack([s, n, n]))
    torch.testing.assert_close(scores[1], image[1] * torch.stack([n, s, n]))
    assert torch.equal(scores[2], image[2])  # NaN point: image only
    assert torch.equal(scores[3], image[3])  # valid False: image only
    assert fusion.predict(image, points, valid).tolist() == [0, 1, 0, 0]
    assert [c.shape for c in prior.calls] == [(2, 2), (2, 2)]  # valid rows only
    probs, used = fusion.location_probabilities(points, valid)
    assert used.tolist() == [True, True, False, False]
    assert torch.equal(probs[2:], torch.ones(2, 3))


def test_fusion_from_logits_and_with_a_task() -> None:
    task = GeoPriorTask(num_classes=3, output_dim=16, location_encoder=TinyEncoder())
    fusion = GeoPriorFusion(task, from_logits=True)
    logits = torch.randn(3, 3)
    points = CENTERS.double()
    expected = torch.softmax(logits, 1) * torch.sigmoid(task(points))
    torch.testing.assert_close(fusion(logits, points), expected)
    assert not task.training


def test_fusion_errors() -> None:
    fusion = GeoPriorFusion(FixedPrior())
    points = torch.zeros(2, 2)
    with pytest.raises(ValueError, match='from_logits=True'):
        fusion(torch.tensor([[1.0, -2.0, 0.0], [0.1, 0.2, 0.7]]), points)
    with pytest.raises(ValueError, match='4 classes but the location prior has 3'):
        fusion(torch.full((2, 4), 0.25), points)
    with pytest.raises(ValueError, match='B = 2'):
        fusion(torch.full((3, 3), 0.3), points)
    with pytest.raises(ValueError, match=r'points \[B, 2\]'):
        fusion(torch.full((2, 3), 0.3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match='boolean mask'):
        fusion(torch.full((2, 3), 0.3), points, torch.ones(2))


def test_demo_config_runs_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    torchgeo_main([
        'fit', '--config', str(CONFIG), '--trainer.fast_dev_run=1',
        f'--trainer.default_root_dir={tmp_path}', f'--data.init_args.path={FIXTURE}',
    ])  # fmt: skip


def test_vector_points_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    points = ROOT / 'tests' / 'data' / 'vector' / 'points.gpkg'
    torchgeo_main([
        'fit', '--config', str(CONFIG), '--trainer.fast_dev_run=1',
        f'--trainer.default_root_dir={tmp_path}', f'--data.init_args.path={points}',
    ])  # fmt: skip


def test_cli_refuses_a_class_count_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match='data module has 3 classes'):
        torchgeo_main([
            'fit', '--config', str(CONFIG), '--trainer.fast_dev_run=1',
            f'--trainer.default_root_dir={tmp_path}',
            f'--data.init_args.path={FIXTURE}', '--model.init_args.num_classes=4',
        ])  # fmt: skip


def test_load_encoder_from_a_csp_task_checkpoint(tmp_path: Path) -> None:
    from torchgeo_geossl.trainers.csp import CSPTask

    csp = CSPTask(
        model='resnet18', embed_dim=16, frequencies=4, hidden_dim=32, dropout=0.1
    )
    ckpt = tmp_path / 'csp.ckpt'
    torch.save({'state_dict': csp.state_dict()}, ckpt)
    task = GeoPriorTask(
        num_classes=3, output_dim=16, hidden_dim=32, dropout=0.1,
        encoder_kwargs={'frequencies': 4}, weights=ckpt,
    )  # fmt: skip
    csp.eval()
    task.eval()
    torch.testing.assert_close(
        task.location_encoder(CENTERS), csp.location_encoder(CENTERS)
    )
    with pytest.raises(ValueError, match='do not fit the location encoder'):
        GeoPriorTask(num_classes=3, output_dim=16, hidden_dim=64, weights=ckpt)


def grid_mlp_prior(
    state: dict[str, Tensor], points: Tensor, scales: int = 32
) -> tuple[Tensor, Tensor]:
    """The demo config's prior in plain torch: grid encoding, CSP's MLP, class head.

    Grid: sin and cos of lon and lat over 32 scales from 0.1 to 360 degrees; MLP
    (eval mode): LayerNorm(LeakyReLU(L0 f) + f) (128 = 128 features, so a skip),
    then LeakyReLU(L1 h); probability: sigmoid(W e).
    """
    lambdas = 0.1 * (360 / 0.1) ** (torch.arange(scales, dtype=torch.float64) / 31)
    angles = points.double()[:, :, None] / lambdas
    features = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1).float()
    mlp = 'location_encoder.mlp.'

    def leaky(x: Tensor) -> Tensor:
        return torch.where(x > 0, x, 0.2 * x)

    hidden = leaky(features @ state[mlp + '0.weight'].T + state[mlp + '0.bias'])
    hidden = torch.nn.functional.layer_norm(
        hidden + features,
        (hidden.shape[1],),
        state[mlp + '3.weight'],
        state[mlp + '3.bias'],
    )
    embedding = leaky(hidden @ state[mlp + '4.weight'].T + state[mlp + '4.bias'])
    probability = torch.sigmoid(embedding @ state['class_head.weight'].T)
    return embedding, probability


@pytest.mark.slow
def test_predict_writes_geoparquet_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    data = f'--data.init_args.path={FIXTURE}'
    torchgeo_main([
        'fit', '--config', str(CONFIG), data, '--trainer.max_epochs=1',
        '--trainer.limit_train_batches=2', '--trainer.limit_val_batches=1',
        '--trainer.num_sanity_val_steps=0',
    ])  # fmt: skip
    outputs = tmp_path / 'outputs' / 'csp' / 'geoprior_demo'
    checkpoint = outputs / 'checkpoints' / 'last.ckpt'
    capsys.readouterr()
    torchgeo_main(
        ['predict', '--config', str(CONFIG), data, f'--ckpt_path={checkpoint}']
    )
    # the config's default_root_dir, relative to the working directory
    path = 'outputs/csp/geoprior_demo/predictions.parquet'
    assert f'Wrote 18 predictions (GeoParquet, EPSG:4326) to {path}' in (
        capsys.readouterr().out
    )
    frame = geopandas.read_parquet(tmp_path / path)
    assert frame.crs.to_epsg() == 4326
    assert (frame.geom_type == 'Point').all()
    assert list(frame.columns) == [
        'probability', 'top_class', 'top_class_name', 'label', 'label_name',
        'embedding', 'geometry',
    ]  # fmt: skip
    # the 18 test points (20 % of 90) of the CSV, each once, with its biome
    table = pd.read_csv(FIXTURE)
    classes = sorted(table['biome'].unique())
    assert classes == ['desert', 'forest', 'tundra']
    assert len(frame) == 18
    rows = [
        table.index[(table['lon'] == x) & (table['lat'] == y)]
        for x, y in zip(frame.geometry.x, frame.geometry.y, strict=True)
    ]
    assert all(len(row) == 1 for row in rows)
    rows_ = [row[0] for row in rows]
    assert len(set(rows_)) == 18
    biomes = table['biome'].to_numpy()[rows_]
    assert frame['label_name'].tolist() == biomes.tolist()
    assert frame['label'].tolist() == [classes.index(b) for b in biomes]
    # the prior, recomputed from the checkpoint's tensors with plain torch
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    points = torch.tensor(np.stack([frame.geometry.x, frame.geometry.y], axis=1))
    embedding, probability = grid_mlp_prior(state, points)
    written = torch.tensor(np.stack(frame['probability'].to_numpy()))
    assert written.shape == (18, 3)
    torch.testing.assert_close(written, probability, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        torch.tensor(np.stack(frame['embedding'].to_numpy())),
        embedding,
        rtol=1e-4,
        atol=1e-4,
    )
    # 3 classes, so all 3 ranked
    top = np.argsort(-probability.numpy(), axis=1, kind='stable')
    np.testing.assert_array_equal(np.stack(frame['top_class'].to_numpy()), top)
    names = [[classes[i] for i in row] for row in top]
    assert [list(row) for row in frame['top_class_name']] == names
