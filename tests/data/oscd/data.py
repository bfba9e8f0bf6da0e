#!/usr/bin/env python3
"""Write a tiny dataset in the layout of TorchGeo's ``OSCD``: 4 cities, 32 x 32 px.

Synthetic: each city has two dates of 13 Sentinel-2 bands (uint16 TIFFs of
reflectance x 10,000, multiples of 100 from 500 to 2,900, one file per band, as in OSCD's
``imgs_<date>_rect`` folders) and a change map ``cm/cm.png`` (255 where a square
of the second date was brightened, 0 elsewhere). ``alpha``, ``beta`` and ``delta`` are in
the train labels (``OSCDDataModule`` splits them into train and validation),
``gamma`` in the test labels. No real OSCD pixel or label is used.
"""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

BANDS = (
    'B01',
    'B02',
    'B03',
    'B04',
    'B05',
    'B06',
    'B07',
    'B08',
    'B8A',
    'B09',
    'B10',
    'B11',
    'B12',
)
SIZE = 32
CITIES = {'alpha': 'Train', 'beta': 'Train', 'delta': 'Train', 'gamma': 'Test'}
IMAGES = 'Onera Satellite Change Detection dataset - Images'


def main() -> None:
    root = Path(__file__).resolve().parent
    for folder in root.glob('Onera*'):
        shutil.rmtree(folder)
    rng = np.random.default_rng(0)
    for index, (city, split) in enumerate(CITIES.items()):
        city_dir = root / IMAGES / city
        before = rng.integers(5, 30, size=(len(BANDS), SIZE, SIZE)) * 100.0
        after = before.copy()
        changed = np.zeros((SIZE, SIZE), dtype=bool)
        start = 4 + 6 * index
        changed[start : start + 10, start : start + 10] = True
        after[:, changed] += 2000
        for date, image in ((1, before), (2, after)):
            folder = city_dir / f'imgs_{date}_rect'
            folder.mkdir(parents=True)
            for band, values in zip(BANDS, image, strict=True):
                Image.fromarray(values.astype(np.uint16)).save(
                    folder / f'{band}.tif', compression='tiff_deflate'
                )
        (city_dir / 'dates.txt').write_text('date_1: 20150701\ndate_2: 20170701\n')
        labels = root / f'Onera Satellite Change Detection dataset - {split} Labels'
        (labels / city / 'cm').mkdir(parents=True)
        Image.fromarray((changed * 255).astype(np.uint8)).save(
            labels / city / 'cm' / 'cm.png'
        )


if __name__ == '__main__':
    main()
