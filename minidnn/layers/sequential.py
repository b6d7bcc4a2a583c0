"""Sequential: layers applied in order, with every parameter a view of one flat vector.

Building a Sequential draws the parameters of its not-yet-initialised layers from ``seed`` (on the
host, in layout order, so a seed gives the same weights on every backend), copies those of already
initialised layers (a nested Sequential), packs everything into one vector on the chosen backend and
dtype, and binds each layer's parameters as tensors that view it. The layout (names "i.weight",
"i.bias", nested "i.j.weight", shapes, offsets) is fixed at that moment.

    net.vector()          a copy of the flat vector
    net.load(x)           copies x in (one copy; x is never kept)
    net.parameters()      the parameter tensors, in layout order (requires_grad=True)
    net.gradient_vector(grads, out)   per-parameter gradients written into one flat vector
    net.set_tangent(v)    forward-mode tangents: each parameter carries its slice of v (None clears)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from minidnn import backend as _backend
from minidnn import init as _init
from minidnn.backend import Backend
from minidnn.layers.layer import Layer, ParameterSpec
from minidnn.parameters import ParameterLayout
from minidnn.tensor import Tensor


class Sequential(Layer):
    def __init__(
        self, *layers: Layer, seed: int = 0, backend: str | Backend = "numpy", dtype: str = "float32"
    ):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Layer")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"Sequential: seed must be an int, got {seed!r}")
        self.layers = list(layers)
        self.seed = seed
        self._packed_into: Sequential | None = None
        self._pack(_backend.get(backend), dtype)

    # -- structure ------------------------------------------------------------------------------------
    def named_specs(self, prefix: str = "") -> Iterator[tuple[str, Layer, ParameterSpec]]:
        """(qualified name, owning layer, spec) for every parameter, in layout order."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Sequential):
                yield from layer.named_specs(f"{prefix}{i}.")
            else:
                for spec in layer.specs():
                    yield f"{prefix}{i}.{spec.name}", layer, spec

    def leaves(self) -> Iterator[Layer]:
        for layer in self.layers:
            if isinstance(layer, Sequential):
                yield from layer.leaves()
            else:
                yield layer

    def is_bound(self) -> bool:
        return True

    # -- packing --------------------------------------------------------------------------------------
    def _pack(self, be: Backend, dtype: str) -> None:
        entries = list(self.named_specs())
        self.layout = ParameterLayout.from_shapes([(name, spec.shape) for name, _, spec in entries])
        host = _backend.get("numpy")
        rng = host.rng(self.seed)
        host_dtype = host.dtype(dtype)
        values = []
        for _, layer, spec in entries:
            current = getattr(layer, spec.name, None)
            if current is not None:
                values.append(current.backend.to_host(current.data).astype(host_dtype, copy=False))
            else:
                values.append(_init.get(spec.init)(rng, spec.shape, host_dtype))
        for layer in self.leaves():
            layer.seed_noise(int(rng.integers(0, 2**62, ())[()]))
        flat = host.zeros((self.layout.nvar,), host_dtype)
        self.layout.flatten_into(host, flat, values)
        self.backend = be
        self.dtype = be.dtype(dtype)
        self._flat = be.to_device(flat, dtype=dtype)
        for inner in self._nested():
            inner._packed_into = self
        self._bind()

    def _nested(self) -> Iterator[Sequential]:
        for layer in self.layers:
            if isinstance(layer, Sequential):
                yield layer
                yield from layer._nested()

    def _bind(self) -> None:
        views = self.layout.views(self.backend, self._flat)
        self._tensors = [
            Tensor(v, requires_grad=True, name=name) for name, v in zip(self.layout.names, views)
        ]
        by_layer: dict[int, dict[str, Tensor]] = {}
        for (_, layer, spec), tensor in zip(self.named_specs(), self._tensors):
            by_layer.setdefault(id(layer), {})[spec.name] = tensor
        for layer in self.leaves():
            layer.bind(by_layer.get(id(layer), {}))

    def _owner_check(self) -> None:
        if self._packed_into is not None:
            raise RuntimeError(
                "this Sequential was packed into an enclosing network: use that network's vector"
            )

    # -- the flat vector -----------------------------------------------------------------------------
    @property
    def nvar(self) -> int:
        return self.layout.nvar

    def parameters(self) -> list[Tensor]:
        self._owner_check()
        return list(self._tensors)

    def vector(self) -> Any:
        """A copy of the flat parameter vector."""
        self._owner_check()
        return self.backend.xp.asarray(self._flat, copy=True)

    def load(self, x: Any) -> None:
        """Copies ``x`` into the flat vector (checked: length, dtype, backend); ``x`` is not kept."""
        self._owner_check()
        self.check_vector("x", x)
        self._flat[...] = x
        views = self.layout.views(self.backend, self._flat)
        for tensor, view in zip(self._tensors, views):
            tensor.data = view

    def gradient_vector(self, grads: list[Tensor], out: Any = None) -> Any:
        """Per-parameter gradients (layout order) written into one flat vector."""
        self._owner_check()
        if out is None:
            out = self.backend.zeros((self.nvar,), self.dtype)
        return self.layout.flatten_into(self.backend, out, [g.data for g in grads])

    def set_tangent(self, v: Any | None) -> None:
        """Gives each parameter its slice of ``v`` as forward-mode tangent (``None`` removes them)."""
        self._owner_check()
        if v is None:
            for tensor in self._tensors:
                tensor.tangent = None
            return
        self.check_vector("v", v)
        for tensor, view in zip(self._tensors, self.layout.views(self.backend, v)):
            tensor.tangent = view

    def check_vector(self, name: str, x: Any) -> None:
        if not self.backend.owns(x):
            raise ValueError(
                f"Sequential: {name} must be an array of backend {self.backend.name}, got {type(x).__name__}"
            )
        if tuple(x.shape) != (self.nvar,) or x.dtype != self.dtype:
            raise ValueError(
                f"Sequential: {name} must be a vector of shape ({self.nvar},) and dtype {self.dtype}, "
                f"got shape {tuple(x.shape)} and dtype {x.dtype}"
            )

    def to(self, backend: str | Backend, dtype: str | None = None) -> Sequential:
        """Moves the flat vector to another backend and/or dtype (an explicit copy); returns self."""
        self._owner_check()
        be = _backend.get(backend)
        name = dtype or _backend._dtype_name(self.dtype)
        host = self.backend.to_host(self._flat)
        self.backend, self.dtype = be, be.dtype(name)
        self._flat = be.to_device(host, dtype=name)
        self._bind()
        return self

    # -- modes ------------------------------------------------------------------------------------------
    def train(self) -> Sequential:
        self.set_training(True)
        return self

    def eval(self) -> Sequential:
        self.set_training(False)
        return self

    def set_training(self, training: bool) -> None:
        self.training = training
        for layer in self.layers:
            layer.set_training(training)

    def fix_noise(self, step: int | None) -> None:
        for layer in self.layers:
            layer.fix_noise(step)

    # -- forward ------------------------------------------------------------------------------------------
    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as err:
                raise ValueError(f"layer {i}, {err}") from None
        return shape

    def check_input(self, x: Tensor) -> None:
        """Shapes through every layer, then finiteness of the values (one scalar host transfer)."""
        self.output_shape(x.shape)
        xp = x.backend.xp
        if x.size and not x.backend.to_float(xp.all(xp.isfinite(x.data))):
            raise ValueError(f"Sequential: the input batch of shape {x.shape} contains NaN or Inf")

    def __call__(self, x: Any, check: bool = True) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if check:
            self.check_input(x)
        return self.forward(x)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def summary(self, input_shape: tuple[int, ...] | None = None) -> str:
        """One line per layer (with output shapes when ``input_shape`` is given) and the total."""
        lines, shape = [], input_shape
        for i, layer in enumerate(self.layers):
            count = sum(s for n, s in zip(self.layout.names, self.layout.sizes) if n.split(".")[0] == str(i))
            if shape is not None:
                shape = layer.output_shape(shape)
            lines.append(f"{i:3d}  {layer!r:40s} {str(shape) if shape else '':22s} {count:10,d}")
        lines.append(f"     {'parameters':40s} {'':22s} {self.nvar:10,d}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"
