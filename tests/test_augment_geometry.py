"""vflip, scale, shear and elastic distortion: shapes, seeds, identity at zero strength, known transformations."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.config import ConfigError, load_config
from dlbasics.data.augment import augment, elastic, gaussian_matrix, scale, shear

NEW = {"vflip": True, "scale": 0.2, "shear": 15.0, "elastic": {"alpha": 34.0, "sigma": 4.0}}


def _batch(n=6, c=2, h=11, w=9):
    return np.random.default_rng(0).random((n, c, h, w)).astype(np.float32)


def test_new_augmentations_keep_shape_and_dtype_and_repeat_with_the_seed():
    x = _batch()
    a = augment(x, np.random.default_rng(5), **NEW)
    b = augment(x, np.random.default_rng(5), **NEW)
    c = augment(x, np.random.default_rng(6), **NEW)
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, _batch())  # the input is never written


def test_zero_strength_is_the_identity():
    x = _batch()
    np.testing.assert_array_equal(scale(x, np.ones(6)), x)
    np.testing.assert_array_equal(shear(x, np.zeros(6)), x)
    np.testing.assert_array_equal(elastic(x, np.random.default_rng(0), alpha=0.0, sigma=4.0), x)
    off = augment(x, np.random.default_rng(1), vflip=False, scale=0.0, shear=0.0, elastic={"alpha": 0.0, "sigma": 4})
    np.testing.assert_array_equal(off, x)


def test_vflip_turns_about_half_the_images_upside_down():
    x = _batch(n=40, c=1)
    out = augment(x, np.random.default_rng(2), vflip=True)
    flipped = [np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x)]
    kept = [np.array_equal(o, xi) for o, xi in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 30


def test_scale_moves_a_pixel_away_from_the_centre_by_the_factor():
    x = np.zeros((1, 1, 9, 9))
    x[0, 0, 5, 4] = 1.0  # one row below the centre (4, 4)
    out = scale(x, np.array([2.0]))
    assert out[0, 0, 6, 4] == pytest.approx(1.0)  # two rows below: (6 - 4) / 2 = 1 reads the pixel
    assert out[0, 0, 5, 4] == pytest.approx(0.5)  # half-way: bilinear between the centre (0) and the pixel (1)
    half = scale(np.ones((1, 1, 9, 9)), np.array([0.5]))
    assert half[0, 0, 4, 4] == 1.0 and half[0, 0, 0, 0] == 0.0  # shrunk: zeros come in at the border


def test_shear_leans_a_vertical_line_by_the_angle():
    x = np.zeros((1, 1, 9, 9))
    x[0, 0, :, 4] = 1.0
    out = shear(x, np.array([45.0]))  # tan 45 = 1: the row dy below the centre moves dy to the right
    for dy in range(-4, 5):
        assert out[0, 0, 4 + dy, 4 + dy] == pytest.approx(1.0)
    assert out.sum() == pytest.approx(9.0)


class _Constant:
    """A generator stand-in whose displacement field is 1 everywhere."""

    def uniform(self, low, high, size):
        return np.ones(size)


def test_elastic_with_a_constant_field_is_a_translation_in_the_interior():
    g = gaussian_matrix(20, 2.0)
    np.testing.assert_allclose(g[8:12].sum(axis=1), 1.0)  # rows away from the border hold the whole kernel
    x = np.random.default_rng(3).random((2, 1, 20, 20))
    out = elastic(x, _Constant(), alpha=1.0, sigma=2.0)  # every pixel reads the one at (+1, +1)
    np.testing.assert_allclose(out[:, :, 8:11, 8:11], x[:, :, 9:12, 9:12], rtol=1e-12)


@pytest.mark.parametrize("text,fragment", [
    ("data: {augment: {scale: 1.5}}\n", "data.augment.scale: expected a number >= 0 and < 1"),
    ("data: {augment: {elastic: {sigma: 0}}}\n", "data.augment.elastic.sigma: expected a number > 0"),
    ("data: {augment: {shaer: 5}}\n", "data.augment.shaer: unknown key; did you mean 'shear'?"),
])
def test_bad_augmentation_values_name_their_key(write_config, text, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(text))
    assert fragment in str(err.value)
