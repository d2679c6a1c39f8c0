"""The 8x8 handwritten digits: 1,797 images, 64 pixel counts in 0..16, labels 0..9.

``digits.npz`` beside this module holds them as uint8 (``images`` (1797, 64), ``target``
(1797,)). It was written once from scikit-learn's copy, which is the test set of the UCI
"Optical Recognition of Handwritten Digits" data (E. Alpaydin, C. Kaynak, 1998):

    from sklearn.datasets import load_digits
    d = load_digits()
    np.savez_compressed("digits.npz", images=d.data.astype(np.uint8),
                        target=d.target.astype(np.uint8))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DIGITS_FILE = Path(__file__).with_name("digits.npz")
DIGIT_CLASSES = tuple(str(k) for k in range(10))


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Raw pixel counts (1797, 64) uint8 and labels (1797,) int64."""
    with np.load(DIGITS_FILE) as archive:
        return archive["images"], archive["target"].astype(np.int64)
