"""TorchGeo dataset classes for the real data of ``../shared/data``, shared by benchmarks.

Recipes from ``shared/data/README.md``; the data itself is never copied here.
"""

from torchgeo.datasets import RasterDataset


class ColoradoLandsat(RasterDataset):
    """Landsat-5/7 surface reflectance b3, b4, b5 of the Colorado time series.

    One 61 × 61 pixel window (WRS-2 path 035, row 032) at 105 dates, one file per
    band; ``-9999`` marks pixels without data (SLC-off stripes of Landsat-7).
    """

    filename_glob = 'L*_b3.tif'
    filename_regex = (
        r'^L[ET][57]\d{6}(?P<date>\d{7})[A-Z]{3}\d{2}_(?P<band>b3|b4|b5)\.tif$'
    )
    date_format = '%Y%j'
    separate_files = True
    all_bands = ('b3', 'b4', 'b5')
    nodata = -9999
