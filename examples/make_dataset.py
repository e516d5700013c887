"""Write examples/digits8.npz: scikit-learn's bundled handwritten digits (no download) at their own
8x8 size, as a dataset file the pipeline takes (examples/config.yaml).

    python examples/make_dataset.py            # from the project folder

The file holds what a dataset file needs: x_train and x_test, uint8 images N x C x H x W (here
N x 1 x 8 x 8, the digits' 0-16 scaled to 0-255), and y_train and y_test, integer labels 0 to 9.
Make your own the same way: numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...).
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

TEST_FRACTION = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "digits8.npz", help="default: %(default)s")
    args = parser.parse_args()
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # N x 1 x 8 x 8
    order = np.random.default_rng(0).permutation(len(images))  # a fixed split: the same file every time
    n_test = int(len(images) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    np.savez(
        args.out, x_train=images[train], y_train=digits.target[train], x_test=images[test], y_test=digits.target[test]
    )
    print(f"wrote {args.out}: {len(train)} training and {len(test)} test images, 1 x 8 x 8, 10 classes")


if __name__ == "__main__":
    main()
