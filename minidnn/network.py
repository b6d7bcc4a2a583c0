"""Network: layers and the one flat vector that holds all their parameters.

    net = Network(Flatten(), Dense(64, 32), ReLU(), Dense(32, 10), seed=0)

The layers given are applied in order (several are held by a ``Sequential``; a single one is the
network's root as it is). Building a network walks the root depth first: a layer's own parameters
(weight before bias), then those of the layers it holds, in their order (a Sequential's by position,
any other layer's in the order of its attributes, see :mod:`minidnn.layers.layer`). That walk fixes
the layout once (qualified names such as ``1.weight`` or ``0.body.2.bias``, shapes, offsets: an
immutable :class:`~minidnn.parameters.ParameterLayout`). Every parameter is then drawn from ``seed``
on the host in layout order (so a seed gives the same weights on every backend), the whole is packed
into one vector on the chosen backend and dtype, and each layer's parameters are bound as tensors that
view that vector.

    net.vector()          a copy of the flat vector
    net.load(x)           copies x in (one copy; x is never kept)
    net.parameters()      the parameter tensors, in layout order (requires_grad=True)
    net.gradient_vector(grads, out)   per-parameter gradients written into one flat vector
    net.set_tangent(v)    forward-mode tangents: each parameter carries its slice of v (None clears)
    net.copy(backend, dtype)          an independent network: new layers, the values converted
    net.workspace         reusable buffers for repeated passes: ``with net.workspace:`` around a
                          step makes its large temporaries come from buffers kept between steps
                          (see :mod:`minidnn.workspace`); models evaluate inside it

A layer belongs to at most one network: building a network over a layer that another (live) network
holds is a ValueError naming the layer, and nothing changes; ``copy`` gives a second network. Inside
one network a layer may be held at several places: its parameters are then shared (tied weights) and
laid out once, at its first place. A layer attribute holding a trainable Tensor that the layer does
not declare in ``specs()``, or holding a whole Network, is refused: those parameters would never be
trained by this network. ``copy.copy`` and ``copy.deepcopy`` of a network are ``net.copy()``.
"""

from __future__ import annotations

import copy as _copy
import weakref
from collections.abc import Iterator
from typing import Any

from minidnn import backend as _backend
from minidnn import init as _init
from minidnn.backend import Backend
from minidnn.layers.layer import Layer, ParameterSpec
from minidnn.layers.sequential import Sequential
from minidnn.ops import buffers
from minidnn.parameters import ParameterLayout
from minidnn.tensor import Tensor
from minidnn.workspace import Workspace

Entry = tuple[str, Layer, ParameterSpec]


class Network:
    """The layers of a model and its flat parameter vector (see the module docstring)."""

    def __init__(
        self, *layers: Layer, seed: int = 0, backend: str | Backend = "numpy", dtype: str = "float32"
    ):
        root = _root(layers)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"Network: seed must be an int, got {seed!r}")
        be = _backend.get(backend)
        be.dtype(dtype)
        entries = _entries(root, self)
        host = _backend.get("numpy")
        rng = host.rng(seed)
        host_dtype = host.dtype(dtype)
        values = [_init.get(spec.init)(rng, spec.shape, host_dtype) for _, _, spec in entries]
        layout = _layout(entries)
        flat = layout.flatten_into(host, host.zeros((layout.nvar,), host_dtype), values)
        for _, layer in root.named_layers():
            layer.seed_noise(int(rng.integers(0, 2**62, ())[()]))
        self._assemble(root, entries, layout, flat, be, dtype, seed)

    def _assemble(
        self,
        root: Layer,
        entries: list[Entry],
        layout: ParameterLayout,
        host_flat: Any,
        be: Backend,
        dtype: str,
        seed: int,
    ) -> None:
        """Takes ownership of the layers and binds them to a device copy of ``host_flat``."""
        self.root = root
        self.seed = seed
        self.layout = layout
        self.backend = be
        self.dtype = be.dtype(dtype)
        self._entries = entries
        self._layers = [layer for _, layer in root.named_layers()]
        self._flat = be.to_device(host_flat, dtype=dtype)
        self.workspace = Workspace(be)
        for layer in self._layers:
            layer._network = weakref.ref(self)
        self._bind()

    def _bind(self) -> None:
        self._views = self.layout.views(self.backend, self._flat)
        self._tensors = [
            Tensor(v, requires_grad=True, name=name) for name, v in zip(self.layout.names, self._views)
        ]
        by_layer: dict[int, dict[str, Tensor]] = {}
        for (_, layer, spec), tensor in zip(self._entries, self._tensors):
            by_layer.setdefault(id(layer), {})[spec.name] = tensor
        for layer in self._layers:
            layer.bind(by_layer.get(id(layer), {}))

    # -- structure ------------------------------------------------------------------------------------
    @property
    def nvar(self) -> int:
        return self.layout.nvar

    def named_specs(self) -> Iterator[Entry]:
        """(qualified name, owning layer, spec) for every parameter, in layout order."""
        return iter(self._entries)

    # -- the flat vector -----------------------------------------------------------------------------
    def parameters(self) -> list[Tensor]:
        """The parameter tensors (views of the flat vector), in layout order."""
        return list(self._tensors)

    def vector(self) -> Any:
        """A copy of the flat parameter vector."""
        return self.backend.xp.asarray(self._flat, copy=True)

    def load(self, x: Any) -> None:
        """Copies ``x`` into the flat vector (checked: length, dtype, backend); ``x`` is not kept."""
        self.check_vector("x", x)
        self._flat[...] = x
        for tensor, view in zip(self._tensors, self._views):
            tensor.data = view

    def gradient_vector(self, grads: list[Tensor], out: Any = None) -> Any:
        """Per-parameter gradients (layout order) written into one flat vector."""
        if out is None:
            out = buffers.empty(self._flat, (self.nvar,))
        return self.layout.flatten_into(self.backend, out, [g.data for g in grads])

    def set_tangent(self, v: Any | None) -> None:
        """Gives each parameter its slice of ``v`` as forward-mode tangent (``None`` removes them)."""
        if v is None:
            for tensor in self._tensors:
                tensor.tangent = None
            return
        self.check_vector("v", v)
        for tensor, view in zip(self._tensors, self.layout.views(self.backend, v)):
            tensor.tangent = view

    def check_vector(self, name: str, x: Any) -> None:
        """A ValueError naming ``name`` unless ``x`` is a vector of this network's size, dtype and backend."""
        if not self.backend.owns(x):
            raise ValueError(
                f"Network: {name} must be an array of backend {self.backend.name}, got {type(x).__name__}"
            )
        if tuple(x.shape) != (self.nvar,) or x.dtype != self.dtype:
            raise ValueError(
                f"Network: {name} must be a vector of shape ({self.nvar},) and dtype {self.dtype}, "
                f"got shape {tuple(x.shape)} and dtype {x.dtype}"
            )

    def copy(self, backend: str | Backend | None = None, dtype: str | None = None) -> Network:
        """An independent network with the same structure and values (new layers, an explicit copy).

        ``backend`` and ``dtype`` default to this network's; the values are converted through the
        host. Noise seeds are kept, so the copy computes what this network computes.
        """
        be = self.backend if backend is None else _backend.get(backend)
        name = _backend._dtype_name(be.dtype(self.dtype if dtype is None else dtype))
        values = self.backend.to_host(self._flat).astype(name)
        memo: dict[int, Any] = {id(tensor): None for tensor in self._tensors}
        memo.update({id(layer._network): None for layer in self._layers})
        root = _copy.deepcopy(self.root, memo)
        clone = Network.__new__(Network)
        entries = _entries(root, clone)
        clone._assemble(root, entries, _layout(entries), values, be, name, self.seed)
        return clone

    def __copy__(self) -> Network:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Network:
        return self.copy()

    # -- modes ------------------------------------------------------------------------------------------
    def train(self) -> Network:
        """Every layer in training mode (dropout active); returns self."""
        for layer in self._layers:
            layer.set_training(True)
        return self

    def eval(self) -> Network:
        """Every layer in evaluation mode (dropout off); returns self."""
        for layer in self._layers:
            layer.set_training(False)
        return self

    def fix_noise(self, step: int | None) -> None:
        """Pins the random layers' draws to ``step`` (``None``: a fresh draw per call)."""
        for layer in self._layers:
            layer.fix_noise(step)

    # -- forward ------------------------------------------------------------------------------------------
    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.root.output_shape(shape)

    def check_input(self, x: Tensor) -> None:
        """Shapes through the layers, then finiteness of the values (one scalar host transfer)."""
        self.root.check_input(x)
        xp = x.backend.xp
        if x.size and not x.backend.to_float(xp.all(xp.isfinite(x.data))):
            raise ValueError(f"Network: the input batch of shape {x.shape} contains NaN or Inf")

    def __call__(self, x: Any, check: bool = True) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if check:
            self.check_input(x)
        return self.forward(x)

    def forward(self, x: Tensor) -> Tensor:
        """The root's forward map, without input checks."""
        return self.root.forward(x)

    def summary(self, input_shape: tuple[int, ...] | None = None) -> str:
        """One line per layer of a Sequential root (else one for the root), output shapes when
        ``input_shape`` is given, and the total number of parameters."""
        parts = list(self.root.children()) if isinstance(self.root, Sequential) else [("", self.root)]
        lines, shape = [], input_shape
        for name, layer in parts:
            count = sum(
                size
                for qualified, size in zip(self.layout.names, self.layout.sizes)
                if not name or qualified.startswith(name + ".")
            )
            if shape is not None:
                shape = layer.output_shape(shape)
            lines.append(f"{name:>3s}  {layer!r:40s} {str(shape) if shape else '':22s} {count:10,d}")
        lines.append(f"     {'parameters':40s} {'':22s} {self.nvar:10,d}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Network({self.root!r}, {self.nvar:,} parameters, {self.backend.name} "
            f"{_backend._dtype_name(self.dtype)})"
        )


def _root(layers: tuple[Layer, ...]) -> Layer:
    """The one layer given, or a Sequential of several; a TypeError naming any item that is not a Layer."""
    if not layers:
        raise ValueError("Network: give at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"Network: item {i} is a {type(layer).__name__}, not a Layer")
    return layers[0] if len(layers) == 1 else Sequential(*layers)


def _entries(root: Layer, network: Network) -> list[Entry]:
    """(qualified name, layer, spec) for every parameter under ``root``, after checking that no layer
    belongs to another network and that no layer holds an undeclared trainable tensor."""
    entries = []
    for path, layer in root.named_layers():
        where = f"{layer!r} (layer {path})" if path else repr(layer)
        owner = getattr(layer, "_network", None)
        if owner is not None and owner() is not None and owner() is not network:
            raise ValueError(
                f"Network: {where} already belongs to another network; a layer belongs to at most one "
                "network: build new layers for this one, or copy the other network with .copy()"
            )
        specs = layer.specs()
        declared = {spec.name for spec in specs}
        for attribute, value in vars(layer).items():
            if isinstance(value, Tensor) and value.requires_grad and attribute not in declared:
                raise ValueError(
                    f"Network: {where} holds a trainable Tensor {attribute!r} that its specs() do not "
                    "declare; it would never be trained: declare it as a ParameterSpec"
                )
            if isinstance(value, Network):
                raise ValueError(
                    f"Network: {where} holds a Network in {attribute!r}, whose parameters this network "
                    "would not train: hold layers instead (for instance that network's .copy().root)"
                )
        entries.extend((f"{path}.{spec.name}" if path else spec.name, layer, spec) for spec in specs)
    return entries


def _layout(entries: list[Entry]) -> ParameterLayout:
    return ParameterLayout.from_shapes([(name, spec.shape) for name, _, spec in entries])
