"""The array backends: registry, dtype policy, the host boundary, random generators, non-portable ops."""

from __future__ import annotations

import numpy as np
import pytest

from minidnn import backend

STRICT = "array-api-strict"


def test_get_returns_one_object_per_name():
    assert backend.get("numpy") is backend.get("numpy")
    assert backend.get("strict") is backend.get(STRICT)
    assert backend.get(backend.get("numpy")) is backend.get("numpy")


def test_unknown_backend_lists_valid_names():
    with pytest.raises(ValueError, match="valid backends: numpy, cupy, array-api-strict"):
        backend.get("torch")


def test_cupy_is_guarded():
    if backend.available("cupy"):
        assert backend.get("cupy").name == "cupy"
    else:
        with pytest.raises(backend.BackendUnavailable, match="cupy"):
            backend.get("cupy")


def test_of_finds_the_owner(be):
    a = be.to_device([1.0, 2.0])
    assert backend.of(a) is be
    assert backend.namespace(a) is be.xp
    with pytest.raises(TypeError, match="expected an array"):
        backend.of([1.0, 2.0])


def test_dtype_policy(be):
    assert be.dtype() == be.xp.float32
    assert be.dtype("float64") == be.xp.float64
    assert be.dtype(be.xp.float64) == be.xp.float64
    with pytest.raises(ValueError, match="dtype must be one of"):
        be.dtype("int8")


def test_python_floats_become_float32_never_float64(be):
    a = be.to_device([0.5, 1.5])
    assert a.dtype == be.xp.float32
    assert be.to_device(np.zeros(3, np.float64)).dtype == be.xp.float64
    assert be.to_device([1.0], dtype="float64").dtype == be.xp.float64


def test_strict_arrays_live_off_the_cpu_and_refuse_implicit_conversion():
    be = backend.get(STRICT)
    a = be.to_device(np.arange(3.0))
    assert str(a.device) != str(be.xp.Device("CPU_DEVICE"))
    with pytest.raises(RuntimeError, match="NumPy"):
        np.asarray(a)


def test_host_boundary_copies_and_counts(be):
    a = be.to_device(np.arange(4.0, dtype=np.float32))
    before = be.host_transfers
    host = be.to_host(a)
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, np.arange(4.0))
    assert be.to_float(be.xp.sum(a)) == 6.0
    assert be.host_transfers == before + 2
    with pytest.raises(ValueError, match="one-element"):
        be.to_float(a)


def test_to_device_keeps_arrays_already_there_and_copies_the_rest():
    host = np.ones(3, np.float32)
    assert backend.get("numpy").to_device(host) is host
    assert backend.get("numpy").to_device(host, dtype="float64").dtype == np.float64
    on_strict = backend.get(STRICT).to_device(host)
    host[0] = 5.0
    assert backend.get(STRICT).to_float(on_strict[0]) == 1.0


def test_rng_same_seed_same_numbers(be):
    draws = [be.to_host(be.rng(7).uniform(-1.0, 1.0, (5,))) for _ in range(2)]
    np.testing.assert_array_equal(*draws)
    other = be.to_host(be.rng(8).uniform(-1.0, 1.0, (5,)))
    assert not np.array_equal(draws[0], other)


def test_rng_draws_in_the_requested_dtype_and_range(be):
    g = be.rng(0)
    u = g.uniform(-2.0, 3.0, (1000,))
    assert u.dtype == be.xp.float32
    host = be.to_host(u)
    assert host.min() >= -2.0 and host.max() < 3.0
    z = g.normal(1.0, 2.0, (4000,), dtype="float64")
    assert z.dtype == be.xp.float64
    assert abs(be.to_host(z).mean() - 1.0) < 0.15
    assert sorted(be.to_host(g.permutation(6)).tolist()) == list(range(6))
    assert be.to_host(g.bernoulli(0.0, (10,))).sum() == 0
    ints = be.to_host(g.integers(2, 5, (50,)))
    assert ints.min() >= 2 and ints.max() < 5


def test_rng_refuses_a_missing_seed(be):
    with pytest.raises(ValueError, match="integer seed"):
        be.rng(None)


def test_add_at_accumulates_repeated_indices():
    be = backend.get("numpy")
    a = be.zeros((4,))
    be.add_at(a, np.array([0, 2, 2, 2]), np.ones(4, np.float32))
    np.testing.assert_array_equal(a, [1, 0, 3, 0])


def test_strict_add_at_serves_basic_indices_and_refuses_integer_arrays():
    be = backend.get(STRICT)
    a = be.zeros((4,))
    be.add_at(a, (slice(1, 3),), be.to_device([1.0, 2.0]))
    np.testing.assert_array_equal(be.to_host(a), [0, 1, 2, 0])
    # The stand-in cannot serve integer-array scatter-add: the Array API standard has none.
    with pytest.raises(NotImplementedError, match="scatter-add"):
        be.add_at(a, be.to_device(np.array([0, 0])), be.to_device([1.0, 1.0]))


def test_add_along_axis_is_the_adjoint_of_take_along_axis(be):
    rng = np.random.default_rng(0)
    shape, axis = (3, 5, 2), 1
    idx = rng.integers(0, 5, (3, 4, 2))
    vals = rng.standard_normal((3, 4, 2)).astype(np.float32)
    out = be.to_host(be.add_along_axis(shape, be.to_device(idx), be.to_device(vals), axis))
    expected = np.zeros(shape, np.float32)
    for i, j, k in np.ndindex(idx.shape):
        expected[i, idx[i, j, k], k] += vals[i, j, k]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize(("window", "stride"), [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((1, 3), (2, 1))])
def test_sliding_windows_match_a_loop(be, window, stride):
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float32).reshape(2, 3, 6, 7)
    got = be.to_host(be.sliding_windows(be.to_device(x), window, stride))
    (kh, kw), (sh, sw) = window, stride
    oh, ow = (6 - kh) // sh + 1, (7 - kw) // sw + 1
    assert got.shape == (2, 3, oh, ow, kh, kw)
    for i, j in np.ndindex(oh, ow):
        np.testing.assert_array_equal(got[:, :, i, j], x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw])


def test_apply_into_writes_the_result_into_out_and_keeps_its_dtype(be):
    a = be.to_device(np.array([1.0, 4.0, 9.0]), dtype="float32")
    out = be.zeros((3,), be.dtype("float32"))
    assert be.apply_into("sqrt", out, a) is out
    np.testing.assert_array_equal(be.to_host(out), [1.0, 2.0, 3.0])
    be.apply_into("divide", out, 1.0, out)  # in place, a Python scalar first
    np.testing.assert_allclose(be.to_host(out), [1.0, 0.5, 1 / 3], rtol=1e-7)
    be.apply_into("multiply", out, a, 2.0)
    np.testing.assert_array_equal(be.to_host(out), [2.0, 8.0, 18.0])
    assert out.dtype == be.dtype("float32")
