"""Tensors at their boundaries: scalars of other dtypes, non-numeric payloads, division by zero,
the repr, and the way values reach NumPy (``__array__``, ``.numpy()``)."""

import operator

import numpy as np
import pytest

import minidnn as md
from minidnn import Tensor, backend, ops
from minidnn.testing import graph_tensors

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]
NUMPY_SCALARS = [np.float64(2.5), np.float32(2.5), np.float16(2.5), np.int64(3), np.uint8(3), 2.5, 3]


def leaf(values, dtype=np.float32, be="numpy"):
    return Tensor(backend.get(be).to_device(np.asarray(values, dtype=dtype)), requires_grad=True)


# -- scalars combine in the tensor's dtype -------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scalar", NUMPY_SCALARS, ids=lambda s: f"{type(s).__name__}")
@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_a_scalar_keeps_the_tensors_dtype_on_either_side(op, scalar, dtype):
    x = leaf([0.5, 1.5, 2.0], dtype)
    sides = [op(x, scalar)] if op is operator.pow else [op(x, scalar), op(scalar, x)]
    for y in sides:
        assert y.dtype == dtype
        (g,) = md.grad(y.sum(), [x], create_graph=True)
        assert g.dtype == dtype
        assert all(t.dtype == dtype for t in graph_tensors(y, g))


def test_values_match_numpy_computed_in_the_tensors_dtype():
    x = leaf([0.5, 1.5, 2.0])
    np.testing.assert_array_equal((x * np.float64(0.1)).data, x.data * np.float32(0.1))
    np.testing.assert_array_equal((x / np.float64(3)).data, x.data / np.float32(3))
    np.testing.assert_array_equal((np.float64(1) - x).data, np.float32(1) - x.data)


def test_comparisons_with_numpy_scalars_take_the_tensors_dtype():
    x = leaf([0.5, 1.5])
    np.testing.assert_array_equal((x > np.float64(1.0)).data, [False, True])
    assert ops.maximum(x, np.float64(1.0)).dtype == np.float32


def test_a_zero_dimensional_array_is_an_array_and_must_match():
    with pytest.raises(ValueError, match="mul: operands have different dtypes"):
        leaf([1.0]) * np.array(2.0)


def test_bools_are_not_scalars():
    with pytest.raises(TypeError, match="mul: expected a Tensor or a backend array, got bool"):
        leaf([1.0]) * True
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number, got bool"):
        leaf([1.0]) ** np.bool_(True)


# -- payloads are numbers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, fault",
    [
        ("abc", "got dtype <U3 from str"),
        (None, "got dtype object from NoneType"),
        ([1, "a"], "got dtype <U21 from list"),
        (np.array([1, object()]), "got dtype object from ndarray"),
        (np.array([b"ab"]), "got dtype |S2 from ndarray"),
        (1 + 2j, "got dtype complex128 from complex"),
        (np.str_("x"), "got dtype <U1 from str_"),
    ],
    ids=["str", "None", "mixed-list", "object-array", "bytes", "complex", "numpy-str"],
)
def test_non_numeric_payloads_are_refused(data, fault):
    with pytest.raises(
        TypeError, match=r"Tensor\(data\): data must hold numbers .*" + fault.replace("|", r"\|")
    ):
        Tensor(data)


def test_ragged_lists_are_refused():
    with pytest.raises(TypeError, match=r"Tensor\(data\): cannot make an array from list"):
        Tensor([[1.0], [1.0, 2.0]])


def test_numeric_payloads_are_accepted():
    assert Tensor([True, False]).dtype == np.bool_
    assert Tensor(np.arange(3, dtype=np.uint8)).dtype == np.uint8
    assert Tensor(backend.get("array-api-strict").to_device(np.ones(2))).shape == (2,)


# -- division by zero follows IEEE 754, as NumPy arrays do ---------------------------------------------
def test_division_by_zero_gives_what_numpy_arrays_give():
    values = np.array([1.0, 0.0, -2.0], dtype=np.float32)
    x = leaf(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x / 0
        expected = values / np.float32(0)
        (g,) = md.grad(y.sum(), [x])
        reciprocal = 1 / x
    np.testing.assert_array_equal(y.data, expected)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(g.data, np.full(3, np.inf, dtype=np.float32))
    np.testing.assert_array_equal(reciprocal.data, [1.0, np.inf, -0.5])


def test_division_by_zero_warns_as_numpy_does():
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        leaf([1.0]) / 0


# -- repr -----------------------------------------------------------------------------------------------
def test_repr_shows_values_shape_and_dtype():
    assert repr(Tensor(np.array([1.5, -2.0], dtype=np.float32))) == (
        "Tensor([ 1.5, -2. ], shape=(2,), dtype=float32)"
    )
    y = leaf([[1.0, 2.0], [3.0, 4.0]]) * 2.0
    assert repr(y) == (
        "Tensor([[2., 4.],\n        [6., 8.]], shape=(2, 2), dtype=float32, requires_grad=True, "
        "creator=MulConst)"
    )
    assert repr(Tensor(np.float64(3.0))) == "Tensor(3., shape=(), dtype=float64)"


def test_repr_abbreviates_large_tensors_like_numpy():
    text = repr(Tensor(np.arange(10_000, dtype=np.float32)))
    assert "..." in text and "9.999e+03]" in text and "shape=(10000,)" in text and len(text) < 200


def test_repr_of_a_device_tensor_names_its_backend_and_counts_one_transfer():
    be = backend.get("array-api-strict")
    t = Tensor(be.to_device(np.array([1.0, 2.0], dtype=np.float32)))
    before = be.host_transfers
    assert repr(t) == "Tensor([1., 2.], shape=(2,), dtype=float32, backend=array-api-strict)"
    assert be.host_transfers == before + 1


# -- values on the host -----------------------------------------------------------------------------------
def test_numpy_asarray_gives_the_values_on_the_cpu():
    x = leaf([1.0, 2.0, 3.0])
    a = np.asarray(x)
    assert type(a) is np.ndarray and a.dtype == np.float32
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert not np.shares_memory(np.array(x, copy=True), x.data)
    np.testing.assert_array_equal(np.asarray([x, x]), [[1.0, 2.0, 3.0]] * 2)


def test_numpy_asarray_refuses_a_device_tensor_and_says_what_to_call():
    t = Tensor(backend.get("array-api-strict").to_device(np.ones(2)))
    with pytest.raises(
        TypeError, match=r"backend array-api-strict, not on the CPU.*tensor.numpy\(\) or backend.to_host"
    ):
        np.asarray(t)


@pytest.mark.parametrize("be", ["numpy", "array-api-strict"])
def test_numpy_method_returns_a_host_copy_through_the_backend(be):
    owner = backend.get(be)
    t = Tensor(owner.to_device(np.array([1.0, 2.0], dtype=np.float32)))
    before = owner.host_transfers
    host = t.numpy()
    assert owner.host_transfers == before + 1
    assert type(host) is np.ndarray and host.dtype == np.float32
    np.testing.assert_array_equal(host, [1.0, 2.0])
    host[0] = 9.0
    assert t.numpy()[0] == 1.0


def test_numpy_arrays_still_defer_to_the_tensor_operators():
    x = leaf([1.0, 2.0])
    y = np.ones(2, dtype=np.float32) * x
    assert isinstance(y, Tensor) and y.requires_grad
