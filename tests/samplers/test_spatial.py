import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import SeriesDataset, monthly, write_series
from torchgeo.samplers import (
    GriddedPatchSampler,
    RandomTimestampSampler,
    SpatioTemporalSampler,
)

from torchgeo_geossl.datasets import DemoTimeSeries
from torchgeo_geossl.samplers import (
    ScatteredGridSampler,
    ScatteredPatchSampler,
    TemporalViewSampler,
)

DEMO = Path(__file__).resolve().parents[1] / 'data' / 'demo'


@pytest.fixture(scope='module')
def demo() -> DemoTimeSeries:
    return DemoTimeSeries(paths=DEMO)


def test_patches_lie_inside_footprints(demo: DemoTimeSeries) -> None:
    sampler = ScatteredPatchSampler(demo, size=4, length=300, generator=0)
    footprints = demo.index.geometry.union_all()
    patches = list(sampler)
    assert len(patches) == 300
    for x, y in patches:
        assert x.stop - x.start == pytest.approx(40.0)
        assert y.stop - y.start == pytest.approx(40.0)
        assert footprints.covers(shapely.box(x.start, y.start, x.stop, y.stop))


def test_snapped_to_pixel_grid(demo: DemoTimeSeries) -> None:
    sampler = ScatteredPatchSampler(demo, size=4, length=50, generator=1)
    xmin, ymin = sampler.bounds[0], sampler.bounds[1]
    for x, y in sampler:
        assert (x.start - xmin) / 10.0 == pytest.approx(round((x.start - xmin) / 10.0))
        assert (y.start - ymin) / 10.0 == pytest.approx(round((y.start - ymin) / 10.0))


def test_parts_drawn_in_proportion_to_area(demo: DemoTimeSeries) -> None:
    sampler = ScatteredPatchSampler(demo, size=2, length=20_000, generator=2)
    centers = shapely.points(
        [((x.start + x.stop) / 2, (y.start + y.stop) / 2) for x, y in sampler]
    )
    part = np.array([int(sampler.parts.distance(c).argmin()) for c in centers[:2000]])
    observed = np.bincount(part, minlength=len(sampler.parts)) / len(part)
    np.testing.assert_allclose(observed, sampler.weights, atol=0.03)
    assert len(sampler.parts) == 10  # one part per demo site


def test_seeded(demo: DemoTimeSeries) -> None:
    def draw(seed: int) -> list[tuple[float, float]]:
        return [
            (x.start, y.start)
            for x, y in ScatteredPatchSampler(demo, size=4, length=20, generator=seed)
        ]

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_patch_larger_than_every_file(demo: DemoTimeSeries) -> None:
    with pytest.raises(ValueError, match='No patch of 400 × 400 CRS units'):
        ScatteredPatchSampler(demo, size=40, length=5)


def test_views_composition_has_length_without_iterating(demo: DemoTimeSeries) -> None:
    spatial = ScatteredPatchSampler(demo, size=4, length=12, generator=0)
    temporal = TemporalViewSampler(demo, views=2, generator=0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        composed = spatial @ temporal
    assert isinstance(composed, SpatioTemporalSampler)
    assert len(composed) == 12
    assert temporal.stats['locations'] == 0  # len() did not draw an epoch
    queries = list(composed)
    assert len(queries) == 12
    assert all(len(set(q.t)) == 2 for q in queries)


def test_other_temporal_samplers_compose_as_in_torchgeo(demo: DemoTimeSeries) -> None:
    spatial = ScatteredPatchSampler(demo, size=4, length=7, generator=0)
    composed = spatial @ RandomTimestampSampler(demo, generator=0)
    queries = list(composed)
    assert len(composed) == len(queries) == 7
    assert all(len(q) == 3 for q in queries)


def grid_patches(sampler: object) -> list[tuple[float, float, float, float]]:
    return [(x.start, y.start, x.stop, y.stop) for x, y in sampler]  # type: ignore[attr-defined]


@pytest.mark.parametrize(('size', 'stride'), [(4, None), (6, 4), ((4, 8), (3, 5))])
def test_grid_of_each_part_is_torchgeos(
    demo: DemoTimeSeries, size: object, stride: object
) -> None:
    sampler = ScatteredGridSampler(demo, size=size, stride=stride)  # type: ignore[arg-type]
    parts = shapely.get_parts(demo.index.geometry.union_all())
    assert len(sampler.parts) == len(parts) == 10
    expected = []
    for part in sampler.parts:
        # TorchGeo's sampler on a region of one part (fast: a small bounding box)
        torchgeo = GriddedPatchSampler(demo, size=size, stride=stride, roi=part)  # type: ignore[arg-type]
        patches = grid_patches(torchgeo)
        assert patches
        expected += patches
    assert grid_patches(sampler) == expected
    assert len(sampler) == len(expected)


def test_grid_covers_every_footprint(demo: DemoTimeSeries) -> None:
    sampler = ScatteredGridSampler(demo, size=4)
    footprints = demo.index.geometry.union_all()
    boxes = [shapely.box(*patch) for patch in grid_patches(sampler)]
    # up to the snapping of each grid to the pixel grid (half a pixel), as TorchGeo
    assert shapely.union_all(boxes).buffer(5.0, join_style='mitre').covers(footprints)
    for box in boxes:
        assert footprints.intersects(box)
        assert not footprints.touches(box)
    # patches of a part do not overlap with stride == size
    assert shapely.union_all(boxes).area == pytest.approx(sum(b.area for b in boxes))


def test_grid_composes_with_temporal_views(demo: DemoTimeSeries) -> None:
    spatial = ScatteredGridSampler(demo, size=4)
    temporal = TemporalViewSampler(demo, views=2, generator=0)
    # patches at the edges of the tilted footprints overhang every date
    with pytest.warns(UserWarning, match='no date covers the patch'):
        queries = list(spatial @ temporal)
    assert 0 < len(queries) < len(spatial)
    assert temporal.stats['uncovered'] > 0
    points = {(q[0].start, q[1].start) for q in queries}
    assert points <= {(x, y) for x, y, _, _ in grid_patches(spatial)}


VECTOR = Path(__file__).resolve().parents[1] / 'data' / 'vector'


@pytest.fixture(scope='module')
def utm_tile(tmp_path_factory: pytest.TempPathFactory) -> SeriesDataset:
    """A 2 × 2 km tile in EPSG:32631 at 10 m, which the vector regions lie inside."""
    root = tmp_path_factory.mktemp('tile')
    write_series(root, dates=monthly(2), size=200)
    return SeriesDataset(root)


def region_in_utm(name: str) -> shapely.Geometry:
    """The region of a vector fixture in EPSG:32631, computed with geopandas."""
    frame = gpd.read_file(VECTOR / name, engine='pyogrio')
    # densify in the file's CRS, as a straight edge there is curved in UTM
    xmin, ymin, xmax, ymax = frame.total_bounds
    frame = frame.set_geometry(frame.segmentize(max(xmax - xmin, ymax - ymin) / 1000))
    return frame.to_crs('EPSG:32631').union_all()


def test_random_patches_from_a_vector_roi(utm_tile: SeriesDataset) -> None:
    # region.geojson is drawn in longitude/latitude, the tile is in UTM
    sampler = ScatteredPatchSampler(
        utm_tile, size=4, length=500, roi=VECTOR / 'region.geojson', generator=0
    )
    region = region_in_utm('region.geojson')
    boxes = [shapely.box(*patch) for patch in grid_patches(sampler)]
    assert len(boxes) == 500
    assert all(region.buffer(0.01).covers(box) for box in boxes)
    # the patches reach every side of the region (within one 40 m patch)
    sampled = np.array(shapely.union_all(boxes).bounds)
    inward = (sampled - np.array(region.bounds)) * [1, 1, -1, -1]
    assert np.all((inward >= -0.01) & (inward < 60.0)), inward


def test_grid_patches_from_a_vector_roi(utm_tile: SeriesDataset) -> None:
    # region.gpkg is stored in Web Mercator (EPSG:3857)
    sampler = ScatteredGridSampler(utm_tile, size=10, roi=str(VECTOR / 'region.gpkg'))
    region = region_in_utm('region.gpkg')
    boxes = [shapely.box(*patch) for patch in grid_patches(sampler)]
    for box in boxes:
        assert region.intersects(box)
        assert not region.touches(box)
    # the grid covers the region, up to the snapping to the pixel grid
    assert shapely.union_all(boxes).buffer(5.0, join_style='mitre').covers(region)
