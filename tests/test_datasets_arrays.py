"""from_arrays (one's own arrays as a Dataset) and train_test_split."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from minidnn.datasets import Dataset, DatasetError, DatasetWarning, from_arrays, train_test_split
from minidnn.nlpmodels import NeuralNetModel

import minidnn as md
from minidnn import models
from minidnn.layers import Dense


def quiet(x, y, **options):
    """from_arrays with its range warning turned into an error: the inputs here lie in [0, 1]."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)
        return from_arrays(x, y, **options)


# -- samples -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, stored",
    [((6, 5), (6, 5)), ((6, 4, 3), (6, 1, 4, 3)), ((6, 2, 4, 3), (6, 2, 4, 3))],
    ids=["N x D", "N x H x W", "N x C x H x W"],
)
def test_sample_layouts(shape, stored):
    x = np.random.default_rng(0).random(shape)
    data = quiet(x, np.arange(6) % 2)
    assert data.x.shape == stored and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x.reshape(shape), x.astype(np.float32))
    assert data.name == "arrays" and data.split == "train" and data.classes == ("0", "1")


@given(
    x=hnp.arrays(
        st.sampled_from(["u1", "i2", "u4", "i8", "f2", "f4", "f8", "?"]),
        st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
        elements={"min_value": 0, "max_value": 1},
    )
)
def test_any_real_dtype_is_converted_once_to_float32(x):
    data = quiet(x, np.zeros(len(x), dtype=np.int8), classes=1)
    assert data.x.dtype == np.float32 and data.y.dtype == np.int64
    np.testing.assert_array_equal(data.x[:, 0], x.astype(np.float32))


def test_the_callers_arrays_are_copied_not_frozen():
    x, y = np.zeros((3, 2), dtype=np.float32), np.array([0, 1, 0])
    data = quiet(x, y)
    x[0, 0], y[0] = 0.5, 1
    assert data.x[0, 0] == 0.0 and data.y[0] == 0
    assert x.flags.writeable and not data.x.flags.writeable and not data.y.flags.writeable


def test_values_outside_the_unit_interval_load_with_a_warning():
    with pytest.warns(DatasetWarning, match=r"x values lie in \[-1, 255\], outside \[0, 1\].*divide by 255"):
        data = from_arrays(np.array([[-1.0, 255.0], [0.0, 1.0]]), [0, 1], name="raw")
    assert data.x.max() == 255.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39], ids=["nan", "inf", "-inf", "beyond-float32"])
def test_non_finite_samples_are_refused_naming_the_first(bad):
    x = np.zeros((3, 4))
    x[2, 1] = bad
    with pytest.raises(
        DatasetError, match=r"mine: 1 of the 12 values of x are NaN, infinite .* at index \(2, 1\)"
    ):
        from_arrays(x, [0, 1, 0], name="mine")


@pytest.mark.parametrize(
    "x, fault",
    [
        (np.zeros(4), r"x is 1-D \(shape \(4,\)\).*x.reshape\(-1, 1\)"),
        (np.zeros((4, 1, 1, 1, 1)), "x must be N x D, N x H x W or N x C x H x W"),
        (np.zeros((4, 2), dtype=complex), "x must hold real numbers .* got dtype complex128"),
        ([["a", "b"]] * 4, "x must hold real numbers .* got dtype <U1"),
        (np.array([[object()]] * 4), "x must hold real numbers .* got dtype object"),
        ([[0.0], [0.0, 1.0], [0.0], [0.0]], "x cannot be read as an array"),
        (np.zeros((4, 0)), r"x of shape \(4, 0\) is empty"),
    ],
    ids=["1-D", "5-D", "complex", "strings", "objects", "ragged", "empty-axis"],
)
def test_samples_that_are_not_real_arrays_are_refused(x, fault):
    with pytest.raises(DatasetError, match=fault):
        from_arrays(x, [0, 1, 0, 1])


# -- class labels ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "?"])
def test_integer_labels_of_any_width_become_int64(dtype):
    y = np.array([0, 1, 1, 0], dtype=dtype)
    data = quiet(np.zeros((4, 2)), y)
    assert data.y.dtype == np.int64 and data.classes == ("0", "1") and data.task == "classification"
    np.testing.assert_array_equal(data.y, [0, 1, 1, 0])


def test_classes_as_a_count_or_as_names():
    assert quiet(np.zeros((3, 2)), [0, 2, 1], classes=5).classes == ("0", "1", "2", "3", "4")
    named = quiet(np.zeros((3, 2)), [0, 2, 1], classes=["cat", "dog", "cow"])
    assert named.classes == ("cat", "dog", "cow") and named.num_classes == 3


@pytest.mark.parametrize(
    "y, classes, fault",
    [
        ([0, 1, 3], ["a", "b", "c"], r"label 3 at index 2 is out of range 0..2 \(3 classes\)"),
        ([0, -1, 1], None, "label -1 at index 1 is negative"),
        ([0, 1], None, "3 samples but 2 labels"),
        ([[0], [1], [0]], None, r"vector of N labels, got \(3, 1\) \(labels.ravel\(\)"),
        ([0, 7, 1], None, "labels go up to 7, more classes than the 3 samples; pass classes="),
        ([0, 1, 1], 0, "classes must be a positive count"),
        ([0, 1, 1], "ab", "classes must be a positive count or a non-empty sequence of names"),
        ([0, 1, 1], [0, 1], "class names must be strings"),
        (["0", "1", "1"], None, "y must hold real numbers"),
        ([0.0, 1.0, 1.0], 2, "y holds float64 values, read as regression targets, but classes= was given"),
    ],
)
def test_bad_labels_are_refused(y, classes, fault):
    with pytest.raises(DatasetError, match=fault):
        quiet(np.zeros((3, 2)), y, classes=classes)


# -- regression targets ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (5, 3)])
def test_float_targets_make_a_regression_data_set(shape):
    y = np.linspace(-3.0, 3.0, int(np.prod(shape))).reshape(shape)
    data = quiet(np.zeros((5, 2)), y)
    assert data.task == "regression" and data.classes == () and data.num_classes == 0
    assert data.y.dtype == np.float32 and data.y.shape == shape
    np.testing.assert_array_equal(data.y, y.astype(np.float32))


@pytest.mark.parametrize(
    "y, fault",
    [
        (np.array([0.0, np.nan, 1.0]), "1 of the 3 values of y are NaN"),
        (np.zeros((3, 2, 2)), r"regression targets must be shaped N or N x K \(N = 3\)"),
        (np.zeros(4), r"regression targets must be shaped N or N x K \(N = 3\), got \(4,\)"),
        (np.zeros(3, dtype=complex), "y must hold real numbers"),
    ],
)
def test_bad_targets_are_refused(y, fault):
    with pytest.raises(DatasetError, match=fault):
        quiet(np.zeros((3, 2)), y)


@pytest.mark.parametrize("argument", ["name", "split"])
def test_name_and_split_are_strings(argument):
    with pytest.raises(DatasetError, match=f"from_arrays: {argument} must be a non-empty string"):
        quiet(np.zeros((2, 2)), [0, 1], **{argument: 3})


# -- use with the models -----------------------------------------------------------------------------
def test_flat_features_fit_an_mlp_and_a_dense_first_network():
    rng = np.random.default_rng(1)
    data = quiet(rng.random((20, 4)), rng.integers(0, 3, 20), classes=3)
    for network in (models.mlp([4, 5, 3]), md.Network(Dense(4, 3))):
        nlp = NeuralNetModel(network, data, batch_size=10)
        assert np.isfinite(nlp.obj(nlp.meta.x0))
    with pytest.raises(ValueError, match="read-only"):
        nlp.train_data.x[0, 0] = np.nan  # the data a model checked once cannot change under it


# -- train_test_split --------------------------------------------------------------------------------
def labelled(n=40, classes=4):
    rng = np.random.default_rng(2)
    return quiet(rng.random((n, 3)), np.repeat(np.arange(classes), n // classes), classes=classes)


def test_split_is_stratified_seeded_and_a_partition():
    data = labelled()
    train, test = train_test_split(data, 0.2, seed=3)
    assert (len(train), len(test)) == (32, 8) and (train.split, test.split) == ("train", "test")
    np.testing.assert_array_equal(np.bincount(test.y), [2, 2, 2, 2])
    rows = {tuple(r) for r in np.concatenate([train.x, test.x])}
    assert len(rows) == len(data) and rows == {tuple(r) for r in data.x}
    again, _ = train_test_split(data, 0.2, seed=3)
    np.testing.assert_array_equal(again.x, train.x)
    other, _ = train_test_split(data, 0.2, seed=4)
    assert not np.array_equal(other.x, train.x)
    assert train.classes == data.classes and not train.x.flags.writeable


def test_each_class_keeps_its_share():
    data = quiet(np.zeros((30, 1)), np.repeat([0, 1], [20, 10]))
    train, test = train_test_split(data, 0.3)
    np.testing.assert_array_equal(np.bincount(test.y), [6, 3])
    np.testing.assert_array_equal(np.bincount(train.y), [14, 7])


def test_parts_keep_the_original_order():
    data = quiet(np.arange(10, dtype=float).reshape(10, 1) / 10, np.zeros(10, dtype=int))
    train, test = train_test_split(data, 0.4, seed=1)
    assert np.all(np.diff(train.x[:, 0]) > 0) and np.all(np.diff(test.x[:, 0]) > 0)


def test_regression_and_unstratified_splits_take_the_rounded_share():
    data = quiet(np.zeros((9, 2)), np.linspace(0, 1, 9))
    train, test = train_test_split(data, 0.5)
    assert (len(train), len(test)) == (4, 5) and test.task == "regression"
    train, test = train_test_split(labelled(), 0.3, stratify=False)
    assert len(test) == 12


@pytest.mark.parametrize(
    "options, fault",
    [
        ({"test_fraction": 0.0}, r"test_fraction must lie in \(0, 1\), got 0.0"),
        ({"test_fraction": 1}, r"test_fraction must lie in \(0, 1\)"),
        ({"test_fraction": "0.2"}, r"test_fraction must lie in \(0, 1\), got '0.2'"),
        ({"test_fraction": 0.01}, "test_fraction 0.01 of 40 samples leaves the test part empty"),
        ({"test_fraction": 0.99}, "leaves the train part empty"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_split_arguments_are_checked(options, fault):
    with pytest.raises(DatasetError, match=fault):
        train_test_split(labelled(), **options)


def test_split_needs_a_dataset():
    with pytest.raises(DatasetError, match="expected a Dataset, got tuple"):
        train_test_split((np.zeros((2, 2)), np.zeros(2)))
    assert isinstance(train_test_split(labelled())[0], Dataset)
