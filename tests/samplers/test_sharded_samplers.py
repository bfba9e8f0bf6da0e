import math
from pathlib import Path
from typing import Any

import pytest
from conftest import SeriesDataset, monthly, write_series
from torch.utils.data import DistributedSampler
from torchgeo.samplers import (
    GriddedPatchSampler,
    RandomPatchSampler,
    RandomTimestampSampler,
    SequentialTimestampSampler,
)

from torchgeo_geossl.datasets import DemoTimeSeries
from torchgeo_geossl.samplers import (
    ScatteredPatchSampler,
    ShardedGeoSampler,
    ShardedIndexSampler,
    TemporalViewSampler,
    ViewsQuery,
)

DEMO = Path(__file__).resolve().parents[1] / 'data' / 'demo'

pytestmark = pytest.mark.filterwarnings('ignore:TemporalViewSampler skipping')


@pytest.fixture(scope='module')
def demo() -> DemoTimeSeries:
    return DemoTimeSeries(paths=DEMO)


def sharded(
    dataset: Any, length: int = 12, views: int = 2, **kwargs: Any
) -> ShardedGeoSampler:
    spatial = ScatteredPatchSampler(dataset, size=4, length=length)
    temporal = TemporalViewSampler(dataset, views=views)
    return ShardedGeoSampler(spatial @ temporal, **{'seed': 0, **kwargs})


def key(query: ViewsQuery) -> tuple[float, float, tuple[str, ...]]:
    return query.x.start, query.y.start, tuple(str(t.start) for t in query.t)


def epoch(sampler: Any, number: int = 0) -> list[Any]:
    sampler.set_epoch(number)
    return [key(q) if isinstance(q, ViewsQuery) else q for q in sampler]


def test_ranks_split_the_single_process_stream(demo: DemoTimeSeries) -> None:
    # every demo location has 6 dates: nothing is skipped
    single = epoch(sharded(demo, length=11))
    ranks = [epoch(sharded(demo, length=11, num_replicas=3, rank=r)) for r in range(3)]
    assert len(single) == 11
    assert [len(r) for r in ranks] == [4, 4, 4]  # ceil(11 / 3) each
    # rank r draws locations r, r + 3, ... of the same stream; the padding is new
    for r, queries in enumerate(ranks):
        assert queries[: len(single[r::3])] == single[r::3]
    drawn = [q for queries in ranks for q in queries]
    assert len(set(drawn)) == 12
    assert set(single) < set(drawn)


def test_reproducible_per_seed_and_epoch(demo: DemoTimeSeries) -> None:
    a, b = sharded(demo), sharded(demo)
    assert epoch(a, 3) == epoch(b, 3)
    assert epoch(a, 3) == epoch(a, 3)  # not a stream that advances
    assert epoch(a, 4) != epoch(a, 3)
    assert epoch(sharded(demo, seed=1), 3) != epoch(a, 3)


@pytest.fixture
def half_skipped(tmp_path: Path) -> SeriesDataset:
    # equal areas: one site with six dates, one with a single date
    write_series(tmp_path, site='many', dates=monthly(6), origin=(500_000, 5_700_000))
    write_series(tmp_path, site='one', dates=monthly(1), origin=(600_000, 5_700_000))
    return SeriesDataset(paths=tmp_path, res=10.0)


def test_skipped_locations_are_made_up_for(half_skipped: SeriesDataset) -> None:
    ranks = [
        epoch(sharded(half_skipped, length=10, num_replicas=2, rank=r))
        for r in range(2)
    ]
    # every rank yields its share: DDP processes run the same number of steps
    assert [len(r) for r in ranks] == [5, 5]
    assert not set(ranks[0]) & set(ranks[1])
    for queries in ranks:
        for x, _, times in queries:
            assert x < 600_000  # only the site with several dates
            assert len(set(times)) == 2


def test_too_few_queries_is_an_error(half_skipped: SeriesDataset) -> None:
    sampler = sharded(half_skipped, length=20, max_rounds=0)
    with pytest.raises(
        RuntimeError, match=r'found only \d+ of its 20 queries.*1 rounds'
    ):
        list(sampler)


def test_resume_after_consumed_queries(demo: DemoTimeSeries) -> None:
    sampler = sharded(demo, length=10, num_replicas=2, rank=1)
    sampler.set_epoch(2)
    iterator = iter(sampler)
    consumed = [key(next(iterator)) for _ in range(3)]
    rest = [key(q) for q in iterator]
    state = sampler.state_at(3)
    assert state == {
        'epoch': 2,
        'seed': 0,
        'num_replicas': 2,
        'consumed': 3,
        'position': 3,
    }

    resumed = sharded(demo, length=10, num_replicas=2, rank=1)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # Lightning sets the same epoch again
    assert [key(q) for q in resumed] == rest
    assert consumed + rest == epoch(sharded(demo, length=10, num_replicas=2, rank=1), 2)
    # the position counts from the start of the epoch, also after a resume
    assert resumed.state_at(5)['consumed'] == 5

    # a position of another epoch is dropped; a resume applies once
    resumed.load_state_dict(state)
    resumed.set_epoch(3)
    assert len(list(resumed)) == 5
    resumed.set_epoch(2)
    assert len(list(resumed)) == 5


def test_resume_position_counts_skipped_locations(half_skipped: SeriesDataset) -> None:
    sampler = sharded(half_skipped, length=10)
    full = [key(q) for q in sampler]
    state = sampler.state_at(4)
    assert state['position'] > 4  # some of the first locations were skipped
    resumed = sharded(half_skipped, length=10)
    resumed.load_state_dict(state)
    assert [key(q) for q in resumed] == full[4:]


def test_resume_with_other_processes_or_seed_restarts_the_epoch(
    demo: DemoTimeSeries,
) -> None:
    state = sharded(demo, num_replicas=2, rank=0).state_at(0) | {'consumed': 2}
    other = sharded(demo, num_replicas=3, rank=0)
    with pytest.warns(UserWarning, match='written by 2 processes, this run has 3'):
        other.load_state_dict(state)
    assert len(list(other)) == 4
    reseeded = sharded(demo, num_replicas=2, rank=0, seed=5)
    with pytest.warns(UserWarning, match='drawn with seed 0, this run has seed 5'):
        reseeded.load_state_dict(state)
    assert len(list(reseeded)) == 6
    with pytest.raises(ValueError, match=r"no \['position'\]"):
        reseeded.load_state_dict({k: v for k, v in state.items() if k != 'position'})


def test_drawn_seed_is_taken_from_the_checkpoint(
    demo: DemoTimeSeries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv('PL_GLOBAL_SEED', raising=False)
    spatial = ScatteredPatchSampler(demo, size=4, length=6)
    first = ShardedGeoSampler(spatial @ TemporalViewSampler(demo))
    queries = [key(q) for q in first]
    again = ShardedGeoSampler(spatial @ TemporalViewSampler(demo))
    assert again.seed != first.seed
    again.load_state_dict(first.state_at(2))
    assert again.seed == first.seed
    assert [key(q) for q in again] == queries[2:]


def test_seed(demo: DemoTimeSeries, monkeypatch: pytest.MonkeyPatch) -> None:
    composed = ScatteredPatchSampler(demo, size=4, length=6) @ TemporalViewSampler(demo)
    monkeypatch.setenv('PL_GLOBAL_SEED', '7')
    assert ShardedGeoSampler(composed, num_replicas=2, rank=0).seed == 7
    assert ShardedGeoSampler(composed, seed=3).seed == 3
    with pytest.raises(ValueError, match='non-negative integer, got -1'):
        ShardedGeoSampler(composed, seed=-1)
    monkeypatch.delenv('PL_GLOBAL_SEED')
    with pytest.raises(ValueError, match='seed=None with 2 processes'):
        ShardedGeoSampler(composed, num_replicas=2, rank=0)


def test_torchgeo_samplers(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(3))
    dataset = SeriesDataset(paths=tmp_path, res=10.0)
    spatial = RandomPatchSampler(dataset, size=4, length=4)
    sampler = ShardedGeoSampler(spatial @ RandomTimestampSampler(dataset), seed=0)
    queries = list(sampler)
    assert len(queries) == 4
    assert queries == list(sampler)
    assert len({q[2].start for q in queries}) > 1
    # TorchGeo's random @ sequential composition is not iterated to find a length
    views = ShardedGeoSampler(spatial @ TemporalViewSampler(dataset), seed=0)
    assert len(views) == 4
    assert views.temporal.stats['locations'] == 0  # type: ignore[union-attr]


def test_refuses_what_it_cannot_shard(demo: DemoTimeSeries) -> None:
    temporal = TemporalViewSampler(demo)
    with pytest.raises(TypeError, match='spatial @ temporal composition'):
        ShardedGeoSampler(ScatteredPatchSampler(demo, size=4), seed=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='draws random locations.*GriddedPatchSampler'):
        ShardedGeoSampler(GriddedPatchSampler(demo, size=4) @ temporal, seed=0)
    spatial = ScatteredPatchSampler(demo, size=4, length=4)
    sequential = spatial @ SequentialTimestampSampler(demo)
    with pytest.raises(
        TypeError, match='at most one query.*SequentialTimestampSampler'
    ):
        ShardedGeoSampler(sequential, seed=0)
    with pytest.raises(ValueError, match='rank must lie in'):
        ShardedGeoSampler(spatial @ temporal, num_replicas=2, rank=2, seed=0)
    with pytest.raises(ValueError, match='max_rounds'):
        ShardedGeoSampler(spatial @ temporal, seed=0, max_rounds=-1)


def test_index_sampler_is_torchs_shuffle_and_resumes() -> None:
    data = list(range(10))
    for rank in range(3):
        ours = ShardedIndexSampler(data, num_replicas=3, rank=rank, seed=4)
        torchs = DistributedSampler(data, num_replicas=3, rank=rank, seed=4)
        ours.set_epoch(1)
        torchs.set_epoch(1)
        assert list(ours) == list(torchs)
        assert len(ours) == math.ceil(10 / 3)
    single = ShardedIndexSampler(data, seed=4)
    assert sorted(single) == data
    assert list(single) != list(range(10))
    single.set_epoch(1)
    order = list(single)
    resumed = ShardedIndexSampler(data, seed=4)
    resumed.load_state_dict(single.state_at(6))
    resumed.set_epoch(1)
    assert list(resumed) == order[6:]
    with pytest.raises(TypeError, match='map-style dataset with a length'):
        ShardedIndexSampler(iter(data))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='empty'):
        ShardedIndexSampler([])
