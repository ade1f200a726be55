"""The tracer: boxes, graph nodes and primitives.

How differentiation works here, in one screen:

* A *trace* is one differentiation in progress (one call of ``vjp`` or ``jvp``).
  Traces are numbered; nested differentiation (a gradient of a gradient) opens
  a trace inside another one, with a larger number.
* Inputs being differentiated are wrapped in a :class:`Box` carrying the trace
  number and a graph node. Boxes behave like arrays (operators, ``.shape``...).
* A :class:`Primitive` is a NumPy function plus its derivative rules. Called on
  boxes, it unwraps the boxes of the innermost (highest-numbered) trace, calls
  itself again on the unwrapped values (so outer traces see the computation
  too), and wraps the answer in a new box of the innermost trace:

  - in a reverse-mode trace, the new node records the primitive, its
    arguments and answer, and its parents (the tape);
  - in a forward-mode trace, the new node carries the tangent, computed at once
    from the JVP rules.

  - in a batching trace (:func:`autodiff.vmap`), the value carries a leading batch axis
    and the primitive's batching rule computes the batched answer (see ``batching``).

* Derivative rules are written with primitives themselves, so when they run on
  values that are boxes of an outer trace, that outer trace records them:
  this is what makes higher derivatives (``hvp``, ``jacobian(grad(f))``) work.

The rules themselves live in :mod:`autodiff.numpy`; this module knows none of them.
"""

from __future__ import annotations

import itertools

import numpy as np

_trace_ids = itertools.count()

# The trace that autodiff.replay is recording (-1: none). unbox notes each read of one of its
# values in replay_reads: a branch or comparison on it makes the recording not replayable.
replay_watch = -1
replay_reads: list = []
# The kwargs of an input node that holds data rather than a differentiated input (replay's data
# leaves): what is computed from such nodes alone is a constant, e.g. an index read from data.
CONSTANT: dict = {}


def new_trace() -> int:
    """A fresh trace number, larger than every trace already open."""
    return next(_trace_ids)


class Box:
    """A value being differentiated in trace ``trace``; ``node`` links it into that trace."""

    __slots__ = ("value", "trace", "node")

    def __init__(self, value, trace: int, node):
        self.value = value
        self.trace = trace
        self.node = node

    def __repr__(self) -> str:
        return f"Box({self.value!r}, trace={self.trace})"

    # Array-like, read-only facts about the value (none of them is differentiable).
    shape = property(lambda self: shape_of(self))
    ndim = property(lambda self: len(shape_of(self)))
    size = property(lambda self: int(np.prod(shape_of(self))))
    dtype = property(lambda self: np.result_type(plain(self)))

    def __len__(self) -> int:
        shape = shape_of(self)
        if not shape:
            raise TypeError("len() of a 0-d traced value")
        return shape[0]

    def __bool__(self) -> bool:
        value = unbox(self)
        if type(value) is Box:
            raise TypeError(
                "the truth value of a value batched by autodiff.vmap differs between examples: "
                "Python control flow on it (if, while, and, or) is not supported under vmap; "
                "use np.where instead"
            )
        return bool(value)

    __hash__ = object.__hash__

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a traced value cannot be turned into a plain NumPy array: that would drop its "
            "derivative. Use autodiff.numpy functions (or plain NumPy ufuncs) on it, or "
            "autodiff.unbox(x) if you really want the value without its derivative."
        )

    def __float__(self):
        raise TypeError(
            "float() of a traced value would drop its derivative; use autodiff.unbox(x) "
            "if you really want the plain value."
        )

    __int__ = __float__


def unbox(x):
    """The value inside ``x`` without its derivative: every level of differentiation boxing
    removed. Under :func:`autodiff.vmap` the answer stays batched (a batching box around the
    plain values), so that constants computed from it keep one value per example."""
    while type(x) is Box:
        if x.trace == replay_watch:  # a value read outside the primitives: no replay
            replay_reads.append(x.trace)
        if type(x.node) is BatchNode:
            inner = unbox(x.value)
            return x if inner is x.value else Box(inner, x.trace, x.node)
        x = x.value
    return x


def unbox_index(x):
    """An index (or any argument without a derivative) with its differentiation boxes removed,
    as :func:`unbox`, except a box of the trace :mod:`autodiff.replay` records when it is
    computed from data alone (:func:`is_constant`): that box stays, so the recorded program
    reads the index from the data on every replay instead of freezing its recorded value."""
    if type(x) is not Box:
        return x
    if type(x.node) is BatchNode:
        inner = unbox_index(x.value)
        return x if inner is x.value else Box(inner, x.trace, x.node)
    if x.trace == replay_watch and type(x.node) is VJPNode and is_constant(x.node):
        return x
    if x.trace == replay_watch:
        replay_reads.append(x.trace)
    return unbox_index(x.value)


def is_constant(node) -> bool:
    """Whether a reverse-mode node depends on no differentiated input: every input it comes
    from is a data node (kwargs :data:`CONSTANT`). Its derivative is never needed, so a
    primitive may take it where it has no VJP rule (an index)."""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.prim is None:
            if n.kwargs is not CONSTANT:
                return False
        else:
            stack.extend(p for _, p in n.parents)
    return True


def plain(x):
    """The plain array inside ``x``, every box removed, batching too (a vmapped value gives
    the whole batch): for dtypes, and for code that knows what it is doing."""
    while type(x) is Box:
        x = x.value
    return x


def shape_of(x) -> tuple:
    """Shape of an array, a box or a Python scalar (``()``), without touching NumPy dispatch.
    A value batched by vmap has the shape of one example (the batch axis is hidden)."""
    drop = 0
    while type(x) is Box:
        if type(x.node) is BatchNode:
            drop += 1
        x = x.value
    shape = getattr(x, "shape", ())
    return shape[drop:] if drop else shape


class VJPNode:
    """A node of a reverse-mode trace: one primitive application, kept for the backward pass."""

    __slots__ = ("prim", "args", "kwargs", "ans", "parents", "tape")

    def __init__(self, prim, args, kwargs, ans, parents, tape):
        self.prim = prim  # None for an input
        self.args = args  # the argument values, unboxed for this trace
        self.kwargs = kwargs
        self.ans = ans  # the output value, unboxed for this trace
        self.parents = parents  # tuple of (argnum, parent VJPNode)
        # A weak reference to the trace's Tape. Weak, so that nodes and their tape form no
        # reference cycle: the tape (and every array on it) is freed as soon as whoever ran
        # the trace (a vjp_fn, a Graph) lets go of it, without waiting for the cycle collector.
        self.tape = tape


class Tape(list):
    """A reverse-mode trace's nodes in the order they were computed.

    That order is already topological, so the backward pass needs no graph search.
    """

    __slots__ = ("__weakref__",)


class JVPNode:
    """A node of a forward-mode trace: carries the tangent of its value."""

    __slots__ = ("tangent",)

    def __init__(self, tangent):
        self.tangent = tangent


class BatchNode:
    """The node shared by every value of one batching trace: ``size`` examples, stacked on
    the value's leading axis."""

    __slots__ = ("size",)

    def __init__(self, size: int):
        self.size = size


class Primitive:
    """A NumPy function with its derivative rules; calling it on boxes records it.

    ``vjps[i](g, ans, *args, **kwargs)`` returns the cotangent for argument i given
    the output cotangent ``g``; ``jvps[i](t, ans, *args, **kwargs)`` returns the
    output tangent due to the tangent ``t`` of argument i. Either may be written
    for the broadcast shape: the tracer sums a cotangent back to the argument's
    shape and broadcasts a tangent up to the answer's shape. ``batch(args, batched,
    **kwargs)`` computes the answer for a batch of examples (see ``autodiff.batching``);
    None means a loop over the examples.
    """

    __slots__ = ("name", "fun", "vjps", "jvps", "doc", "batch")

    def __init__(self, name: str, fun, vjps: dict, jvps: dict, doc: str | None = None, batch=None):
        self.name = name
        self.fun = fun
        self.vjps = vjps
        self.jvps = jvps
        self.doc = doc or getattr(fun, "__doc__", None)
        self.batch = batch

    def __repr__(self) -> str:
        return f"<autodiff primitive {self.name}>"

    def __call__(self, *args, **kwargs):
        # One pass over the arguments: the innermost trace found and its boxes unwrapped
        # together (restarted in the rare case of a deeper trace after an outer one).
        top = -1
        argvals = parents = None
        outer = False  # does an outer trace see this call too (nested differentiation)?
        for i, a in enumerate(args):
            if type(a) is Box:
                t = a.trace
                if t > top:  # a deeper trace: earlier boxes (outer traces) stay as constants
                    outer = top >= 0
                    argvals, parents, top = list(args), [], t
                elif t < top:
                    outer = True
                    continue
                argvals[i] = v = a.value
                parents.append((i, a.node))
                if type(v) is Box:
                    outer = True
        if top < 0:
            try:  # free unless raised (Python ≥ 3.11)
                return self.fun(*args, **kwargs)
            except TypeError as err:
                raise _bad_call(self, args, kwargs, err) from None
        first = parents[0][1]
        if type(first) is VJPNode:
            # Without an outer trace, call the NumPy function directly rather than recurse.
            try:
                ans = self(*argvals, **kwargs) if outer else self.fun(*argvals, **kwargs)
            except TypeError as err:
                raise _bad_call(self, argvals, kwargs, err) from None
            for i, p in parents:
                if i not in self.vjps and not is_constant(p):
                    raise _missing_rule(self.name, i, "reverse")
            tape = first.tape()
            if tape is None:
                raise ValueError(
                    f"a traced value was used in {self.name} after its differentiation ended; "
                    "do not keep traced values beyond the function being differentiated"
                )
            node = VJPNode(self, argvals, kwargs, ans, tuple(parents), first.tape)
            tape.append(node)
            return Box(ans, top, node)
        if type(first) is BatchNode:
            return Box(batch_call(self, argvals, parents, first.size, kwargs), top, first)
        ans = self(*argvals, **kwargs) if outer else self.fun(*argvals, **kwargs)
        return Box(ans, top, JVPNode(self._tangent(parents, ans, argvals, kwargs)))

    def _tangent(self, parents, ans, argvals, kwargs):
        """Sum of the JVP rules over the arguments that carry a tangent."""
        out = None
        for i, node in parents:
            rule = self.jvps.get(i)
            if rule is None:
                raise _missing_rule(self.name, i, "forward")
            t = rule(node.tangent, ans, *argvals, **kwargs)
            out = t if out is None else add(out, t)
        if shape_of(out) != shape_of(ans):
            out = broadcast_to(out, shape_of(ans))
        return out


def _bad_call(prim, args, kwargs, err: TypeError) -> TypeError:
    """``err`` as raised, unless the arguments do not fit the primitive's forward function:
    then a TypeError naming ``autodiff.numpy.<name>`` and what it takes (not a helper's name)."""
    import inspect

    try:
        sig = inspect.signature(prim.fun)
        sig.bind(*args, **kwargs)
    except TypeError as why:
        return TypeError(f"autodiff.numpy.{prim.name}{sig}: {why}")
    except ValueError:
        pass
    return err


def _missing_rule(name: str, argnum: int, mode: str) -> TypeError:
    return TypeError(
        f"autodiff.numpy.{name} has no {mode}-mode derivative rule for argument {argnum}; "
        "that argument must be a constant here"
    )


# The tracer needs three primitives of its own to fix shapes (summing a
# cotangent back to a broadcast input, broadcasting a tangent, accumulating).
# autodiff.numpy registers them and installs them here with `use_shape_ops`.
add = sum_to = broadcast_to = None
# autodiff.batching installs the function that runs a primitive on a batch of examples.
batch_call = None


def use_shape_ops(add_prim, sum_to_prim, broadcast_to_prim) -> None:
    """Install the primitives the tracer uses to accumulate and to fix shapes."""
    global add, sum_to, broadcast_to
    add, sum_to, broadcast_to = add_prim, sum_to_prim, broadcast_to_prim
