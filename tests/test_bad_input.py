"""Every known bad input, the error (or counted warning) it gets and its words.

The table is ``docs/user/bad_input.csv``, which the reliability page of the docs
shows: one row per bad input, with the exception (or warning) class and the words
the user must see, as fragments separated by `` … `` that must appear in this
order. Each row has a function here that feeds that input to the package; a row
without a function, or a function without a row, fails the test, so the page and
the behaviour cannot drift apart.
"""

import csv
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import fiona
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import timm
import torch
from conftest import SeriesDataset, monthly, write_series
from lightning.pytorch import Trainer
from pyproj import Transformer
from torch import nn
from torchgeo.datasets import DatasetNotFoundError
from torchgeo.tasks import Classification

from torchgeo_geossl.checkpoint import AtomicCheckpointIO, CheckpointReadError
from torchgeo_geossl.chip import main as chip_main
from torchgeo_geossl.datamodules import (
    DemoDataModule,
    PointsDataModule,
    S2100kDataModule,
    Sentinel2ViewsDataModule,
    StreamingViewsDataModule,
    TemporalGeoDataModule,
)
from torchgeo_geossl.datamodules.streaming import METADATA, METADATA_VERSION
from torchgeo_geossl.datasets import (
    BandCountError,
    DatasetLayoutError,
    MissingCRSError,
    TemporalViewsDataset,
    ViewReadError,
)
from torchgeo_geossl.datasets import views as views_module
from torchgeo_geossl.datasets.demo import (
    DEMO_LOCATIONS,
    MANIFEST_NAME,
    generate_demo_data,
)
from torchgeo_geossl.evaluation import HeldOutComparison, held_out_regions
from torchgeo_geossl.export import export_backbone, load_into, normalization_from
from torchgeo_geossl.faults import NonFiniteError
from torchgeo_geossl.location import GeoClusters, lonlat_to_unit_vectors
from torchgeo_geossl.preview import datamodule_from_config, first_batch
from torchgeo_geossl.samplers import (
    ScatteredPatchSampler,
    TemporalViewSampler,
    ViewsQuery,
)
from torchgeo_geossl.trainers import GeoMoCoTask, GeoPriorTask

TABLE = Path(__file__).resolve().parents[1] / 'docs' / 'user' / 'bad_input.csv'
S2100K = Path(__file__).resolve().parent / 'data' / 's2100k'
ERRORS: dict[str, type[BaseException] | type[Warning]] = {
    cls.__name__: cls
    for cls in (
        ValueError,
        UserWarning,
        DatasetNotFoundError,
        DatasetLayoutError,
        MissingCRSError,
        ViewReadError,
        NonFiniteError,
        BandCountError,
        CheckpointReadError,
        FileNotFoundError,
    )
}
SITES = {
    'ams': ('EPSG:32631', (630_000.0, 5_800_000.0)),
    'syd': ('EPSG:32756', (330_000.0, 6_250_000.0)),
    'fij': ('EPSG:32760', (700_000.0, 8_150_000.0)),
}
FIRST = 'site_20210115.tif'
VECTOR = Path(__file__).resolve().parent / 'data' / 'vector'
POINTS = Path(__file__).resolve().parent / 'data' / 'points' / 'points.csv'
SQUARE = fiona.Geometry(
    type='Polygon', coordinates=[[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]]
)


def rows() -> list[dict[str, str]]:
    with TABLE.open(newline='') as f:
        return list(csv.DictReader(f))


def datamodule(root: Path, **kwargs: object) -> TemporalGeoDataModule:
    options: dict[str, object] = {
        'paths': str(root),
        'batch_size': 2,
        'patch_size': 8,
        'length': 4,
    }
    options.update(kwargs)
    return TemporalGeoDataModule(SeriesDataset, **options)  # type: ignore[arg-type]


def series(root: Path, n: int = 3, **kwargs: object) -> Path:
    write_series(root, dates=monthly(n), **kwargs)  # type: ignore[arg-type]
    return root


def patch_size_zero(tmp: Path) -> None:
    datamodule(series(tmp), patch_size=0)


def sampler_size_zero(tmp: Path) -> None:
    ScatteredPatchSampler(SeriesDataset(series(tmp)), size=0)


def batch_size_zero(tmp: Path) -> None:
    datamodule(series(tmp), batch_size=0)


def length_zero(tmp: Path) -> None:
    datamodule(series(tmp), length=0)


def max_nodata_fraction(tmp: Path) -> None:
    datamodule(series(tmp), max_nodata_fraction=1.5)


def single_date(tmp: Path) -> None:
    TemporalViewSampler(SeriesDataset(series(tmp, 1)), views=2)


def views_gt_dates(tmp: Path) -> None:
    datamodule(series(tmp), views=4).setup('fit')


def min_gap_too_long(tmp: Path) -> None:
    datamodule(series(tmp, 12), min_gap='400D').setup('fit')


def min_gap_gt_max_gap(tmp: Path) -> None:
    TemporalViewSampler(SeriesDataset(series(tmp)), min_gap='60D', max_gap='30D')


def patch_larger(tmp: Path) -> None:
    datamodule(series(tmp), patch_size=64).setup('fit')


def roi_outside(tmp: Path) -> None:
    datamodule(series(tmp), roi=shapely.box(0, 0, 10, 10)).setup('fit')


def missing_folder(tmp: Path) -> None:
    datamodule(tmp / 'nope').setup('fit')


def no_crs(tmp: Path) -> None:
    datamodule(series(tmp, crs=None)).setup('fit')


def mixed_crs(tmp: Path) -> None:
    write_series(tmp, dates=monthly(2))
    write_series(tmp, dates=monthly(3)[2:], crs=None)  # type: ignore[arg-type]
    TemporalViewsDataset(SeriesDataset(tmp))


def unindexed_file(tmp: Path) -> None:
    paths = write_series(tmp, dates=monthly(3))
    paths[1].write_bytes(b'')
    TemporalViewsDataset(SeriesDataset(tmp))


def first_view() -> ViewsQuery:
    """The whole tile written by write_series, at its first date (2021-01-15)."""
    start = pd.Timestamp('2021-01-15')
    t = slice(start, start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    return ViewsQuery(
        slice(500_000.0, 500_320.0), slice(5_699_680.0, 5_700_000.0), (t,)
    )


def truncated_file(tmp: Path) -> None:
    wrapper = TemporalViewsDataset(SeriesDataset(series(tmp)))
    first = tmp / FIRST
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    wrapper[first_view()]


def nan_pixels(tmp: Path) -> None:
    series(tmp, dtype='float32')
    with rasterio.open(tmp / FIRST, 'r+') as f:
        data = f.read()
        data[:, 3, 5] = np.nan
        f.write(data)
    TemporalViewsDataset(SeriesDataset(tmp))[first_view()]


def bands_differ(tmp: Path) -> None:
    write_series(tmp, dates=monthly(2))
    write_series(tmp, dates=monthly(3)[2:], bands=3)
    TemporalViewsDataset(SeriesDataset(tmp))


def latitude_out_of_range(tmp: Path) -> None:
    lonlat_to_unit_vectors(torch.tensor([[10.0, 91.0]]))


def clusters_gt_locations(tmp: Path) -> None:
    GeoClusters(num_clusters=5).fit(np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]]))


def in_channels(tmp: Path) -> None:
    task = GeoMoCoTask(model='resnet18', in_channels=2, queue_size=8, geo_classes=0)
    task.views_from_batch({'image': torch.zeros(1, 2, 4, 8, 8)})


def empty_checkpoint(tmp: Path) -> None:
    empty = tmp / 'empty.ckpt'
    empty.write_bytes(b'')
    AtomicCheckpointIO().load_checkpoint(empty)


def truncated_checkpoint(tmp: Path) -> None:
    whole = tmp / 'whole.ckpt'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, whole)
    half = tmp / 'half.ckpt'
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    AtomicCheckpointIO().load_checkpoint(half)


def export_out_file(tmp: Path) -> None:
    notes = tmp / 'notes.txt'
    notes.write_text('not a folder')
    export_backbone(tmp / 'any.ckpt', notes)


def write_squares(path: Path, count: int, **options: object) -> Path:
    """Write *count* unit squares into a vector file."""
    schema = {'geometry': 'Polygon', 'properties': {}}
    with fiona.open(path, 'w', schema=schema, **options) as dst:
        for _ in range(count):
            dst.write(fiona.Feature(geometry=SQUARE, properties=fiona.Properties()))
    return path


def patches_within(tmp: Path, roi: Path) -> None:
    ScatteredPatchSampler(SeriesDataset(series(tmp / 'tiles')), size=4, roi=roi)


def roi_file_missing(tmp: Path) -> None:
    datamodule(series(tmp), roi=tmp / 'nope.gpkg').setup('fit')


def roi_no_crs(tmp: Path) -> None:
    shp = write_squares(tmp / 'region.shp', 1, driver='ESRI Shapefile')
    patches_within(tmp, shp)


def roi_no_features(tmp: Path) -> None:
    empty = write_squares(tmp / 'empty.gpkg', 0, driver='GPKG', crs='EPSG:32631')
    patches_within(tmp, empty)


def roi_not_polygon(tmp: Path) -> None:
    patches_within(tmp, VECTOR / 'points.gpkg')


def vector_layers(tmp: Path) -> None:
    path = tmp / 'layers.gpkg'
    for layer in ('a', 'b'):
        write_squares(path, 1, driver='GPKG', crs='EPSG:32631', layer=layer)
    patches_within(tmp, path)


def points_label_column(tmp: Path) -> None:
    PointsDataModule(VECTOR / 'points.gpkg').load()


def geoprior_num_classes(tmp: Path) -> None:
    datamodule = PointsDataModule(
        POINTS,
        lon_column='lon',
        lat_column='lat',
        label_column='biome',
        val_split_pct=0.2,
        test_split_pct=0.2,
    )
    task = GeoPriorTask(num_classes=5, output_dim=8, hidden_dim=8)
    Trainer(accelerator='cpu', logger=False, enable_progress_bar=False).validate(
        task, datamodule=datamodule
    )


def preview_data_absent(tmp: Path) -> None:
    config = Path(__file__).resolve().parents[1] / 'configs' / 'seco' / 'seco_s2.yaml'
    root = f'--data.init_args.root={tmp / "absent"}'
    first_batch(datamodule_from_config(config, [root]), 'seco_s2.yaml')


def sentinel2_band(tmp: Path) -> None:
    Sentinel2ViewsDataModule(root=tmp, bands=['B02', 'B13'])


def exported_resnet18(tmp: Path, **meta: object) -> Path:
    """A file in geossl-export's layout: a random 4-band ResNet-18, no training."""
    state = timm.create_model('resnet18', in_chans=4, num_classes=0).state_dict()
    path = tmp / 'backbone.pth'
    description = {'model': 'resnet18', 'in_chans': 4, 'bands': None} | meta
    torch.save({'geossl_export': 1, 'state_dict_ema': state, 'meta': description}, path)
    return path


def backbone_channels(tmp: Path) -> None:
    task = Classification(model='resnet18', in_channels=3, num_classes=2)
    load_into(task, exported_resnet18(tmp))


def backbone_architecture(tmp: Path) -> None:
    task = Classification(model='resnet34', in_channels=4, num_classes=2)
    load_into(task, exported_resnet18(tmp))


def backbone_no_match(tmp: Path) -> None:
    load_into(nn.Sequential(nn.Linear(2, 2)), exported_resnet18(tmp))


def normalization_missing(tmp: Path) -> None:
    normalization_from(exported_resnet18(tmp, mean=None, std=None))


def weights_task(weights: object, **kwargs: object) -> None:
    options: dict[str, object] = {
        'model': 'resnet18',
        'in_channels': 4,
        'queue_size': 8,
        'geo_classes': 0,
    }
    options.update(kwargs)
    GeoMoCoTask(**options, weights=weights)  # type: ignore[arg-type]


def resnet18_file(tmp: Path, in_chans: int = 4) -> Path:
    path = tmp / 'backbone.pth'
    encoder = timm.create_model('resnet18', in_chans=in_chans, num_classes=0)
    torch.save(encoder.state_dict(), path)
    return path


def weights_architecture(tmp: Path) -> None:
    weights_task(str(resnet18_file(tmp)), model='resnet50')


def weights_channels(tmp: Path) -> None:
    path = tmp / 'task.ckpt'
    encoder = timm.create_model('resnet18', in_chans=4, num_classes=0)
    state = {f'model.{k}': v for k, v in encoder.state_dict().items()}
    torch.save({'state_dict': state, 'hyper_parameters': {'model': 'resnet18'}}, path)
    weights_task(str(path), in_channels=3)


def weights_enum_model(tmp: Path) -> None:
    # refused from the enum's meta, before anything is downloaded
    weights_task('ResNet50_Weights.FMOW_RGB_GASSL', in_channels=3)


def weights_unknown_name(tmp: Path) -> None:
    weights_task('gassl')


def weights_missing_file(tmp: Path) -> None:
    weights_task('outputs/missing.ckpt')


def weights_truncated(tmp: Path) -> None:
    whole = resnet18_file(tmp)
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    weights_task(str(whole))


def weights_not_a_state_dict(tmp: Path) -> None:
    path = tmp / 'list.pth'
    torch.save([1, 2, 3], path)
    weights_task(str(path))


def weights_partial(tmp: Path) -> None:
    weights_task(str(resnet18_file(tmp)))


def streaming_not_a_store(tmp: Path) -> None:
    StreamingViewsDataModule(tmp)


def streaming_held_out_stage(tmp: Path) -> None:
    (tmp / METADATA).write_text(json.dumps({'version': METADATA_VERSION}))
    StreamingViewsDataModule(tmp).setup('validate')


def chip_config_without_data(tmp: Path) -> None:
    config = tmp / 'model_only.yaml'
    config.write_text('model: {class_path: torchgeo_geossl.trainers.GeoMoCoTask}\n')
    chip_main(['--config', str(config), '--out', str(tmp / 'chips')])


def comparison_split(tmp: Path) -> None:
    HeldOutComparison(split='train')  # type: ignore[arg-type]


def lonlat(*xy: tuple[float, float]) -> torch.Tensor:
    x, y = np.array(xy).T
    lon, lat = Transformer.from_crs(32631, 4326, always_xy=True).transform(x, y)
    return torch.from_numpy(np.stack([lon, lat], axis=1))


def comparison_no_geo_dataset(tmp: Path) -> None:
    held_out_regions(None, lonlat((500_100.0, 5_699_900.0)))


def comparison_one_region(tmp: Path) -> None:
    dataset = SeriesDataset(str(series(tmp)))
    held_out_regions(
        dataset, lonlat((500_100.0, 5_699_900.0), (500_200.0, 5_699_800.0))
    )


def comparison_place_outside(tmp: Path) -> None:
    series(tmp, site='a')
    series(tmp, site='b', origin=(600_000.0, 5_700_000.0))
    inside = ((500_100.0, 5_699_900.0), (600_100.0, 5_699_900.0))
    held_out_regions(SeriesDataset(str(tmp)), lonlat(*inside, (550_000.0, 5_699_900.0)))


def validate_without_holdout(tmp: Path) -> None:
    datamodule(series(tmp)).setup('validate')


def held_out_share_zero(tmp: Path) -> None:
    S2100kDataModule(root=S2100K).setup('validate')


def held_out_split_empty(tmp: Path) -> None:
    S2100kDataModule(root=S2100K, val_split_pct=0.01).setup('fit')


def predict_roi_outside(tmp: Path) -> None:
    datamodule(series(tmp), roi=shapely.box(0, 0, 10, 10)).setup('predict')


def bn_splits_zero(tmp: Path) -> None:
    GeoMoCoTask(model='resnet18', queue_size=8, geo_classes=0, bn_splits=0)


def demo_data_old_version(tmp: Path) -> None:
    locations = DEMO_LOCATIONS[:1]
    generate_demo_data(tmp, size=8, dates_per_location=1, locations=locations)
    manifest = json.loads((tmp / MANIFEST_NAME).read_text())
    del manifest['settings']['version']  # as written by version 1
    (tmp / MANIFEST_NAME).write_text(json.dumps(manifest))
    DemoDataModule(root=tmp, tile_size=8, data_seed=0).prepare_data()


def held_out_batch_without_point(tmp: Path) -> None:
    task = GeoMoCoTask(model='resnet18', queue_size=8, geo_classes=0)
    task.validation_step({'image': torch.rand(2, 2, 3, 16, 16)}, 0)


BUILDERS: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        patch_size_zero,
        sampler_size_zero,
        batch_size_zero,
        length_zero,
        max_nodata_fraction,
        single_date,
        views_gt_dates,
        min_gap_too_long,
        min_gap_gt_max_gap,
        patch_larger,
        roi_outside,
        missing_folder,
        no_crs,
        mixed_crs,
        unindexed_file,
        truncated_file,
        nan_pixels,
        bands_differ,
        latitude_out_of_range,
        clusters_gt_locations,
        in_channels,
        empty_checkpoint,
        truncated_checkpoint,
        export_out_file,
        roi_file_missing,
        roi_no_crs,
        roi_no_features,
        roi_not_polygon,
        vector_layers,
        points_label_column,
        geoprior_num_classes,
        preview_data_absent,
        sentinel2_band,
        backbone_channels,
        backbone_architecture,
        backbone_no_match,
        normalization_missing,
        weights_architecture,
        weights_channels,
        weights_enum_model,
        weights_unknown_name,
        weights_missing_file,
        weights_truncated,
        weights_not_a_state_dict,
        weights_partial,
        streaming_not_a_store,
        streaming_held_out_stage,
        chip_config_without_data,
        comparison_split,
        comparison_no_geo_dataset,
        comparison_one_region,
        comparison_place_outside,
        validate_without_holdout,
        held_out_share_zero,
        held_out_split_empty,
        predict_roi_outside,
        bn_splits_zero,
        demo_data_old_version,
        held_out_batch_without_point,
    )
}


def test_every_row_has_a_case_and_every_case_a_row() -> None:
    ids = [row['id'] for row in rows()]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(BUILDERS)
    assert {row['Error (or warning)'] for row in rows()} <= set(ERRORS)


@pytest.mark.parametrize('row', rows(), ids=lambda row: row['id'])
def test_bad_input(
    row: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views_module, '_WARNED', set())
    expected = ERRORS[row['Error (or warning)']]
    build = BUILDERS[row['id']]
    if issubclass(expected, Warning):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            build(tmp_path)
        messages = [str(w.message) for w in caught if w.category is expected]
        assert messages, f'no {expected.__name__} for {row["id"]}'
        message = '\n'.join(messages)
    else:
        with pytest.raises(expected) as info:  # type: ignore[arg-type]
            build(tmp_path)
        assert type(info.value) is expected or expected is ValueError, type(info.value)
        message = str(info.value)
    fragments = [f.strip() for f in row['What the message says'].split('…')]
    pattern = '.*?'.join(re.escape(f) for f in fragments if f)
    assert re.search(pattern, message, re.DOTALL), message
