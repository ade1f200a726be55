"""Record a loss-and-gradient program once, then replay it without the tracer.

``replay.grad(f)`` gives ∇ₓf(x, data) for a scalar ``f(x, data)`` of a float array ``x`` and a
pytree ``data`` of arrays (a minibatch). The first call with a given *signature* — the shape
and dtype of x and of every data leaf, and data's structure — traces f once with x and the
data leaves boxed, and turns the tape into a :class:`Program`: a flat list of forward calls
(each primitive's NumPy function, its constant arguments baked in, the others read from a
list of slots) and the VJP rules of the nodes that depend on x, in the order the tracer's
backward pass runs them. Later calls with that signature replay the program on the new x
and data: the same NumPy functions and rules on the same kinds of values, so the same bits
as tracing, with no Box or graph node made per operation.

How it decides (each rule is checked when the program is recorded):

- a new signature records a new program (shapes, dtypes and structure are the only thing a
  program is specialized to; branches on shapes are therefore fine);
- a program whose forward pass *read a traced value* outside the primitives — a Python branch
  on it (``if``, ``while``, ``bool``), a comparison (``x > 0``), ``autodiff.unbox`` — is not
  replayable: those results would be frozen at their recorded values. So is a program that
  met a value of another, outer differentiation, or whose output is not a scalar traced from
  x. For such a signature every call is traced as usual (``strict=True``: a
  :class:`NotReplayable` error giving the reason instead);
- an index computed from the data alone (a label) is not such a read: the data leaves are
  recorded as constant inputs (:data:`autodiff.core.CONSTANT`), a primitive may take what is
  computed from them where it has no VJP rule, and indexing keeps them traced
  (:func:`autodiff.core.unbox_index`), so the index is a slot read on every replay;
- a vmapped f is recorded like any other: each primitive's batching rule runs while it is
  recorded, so the program holds the batched NumPy calls and replays without vmap;
- arguments that are themselves traced (a replay inside another differentiation) are traced.

What the program cannot see, and so must not happen: f reading state other than its
arguments that changes between calls (globals, closed-over arrays being modified), and
``autodiff.core.plain`` used to read values (it is meant for dtypes and shapes).
"""

from __future__ import annotations

import weakref

import numpy as np

from . import core
from .collector import paused
from .core import Box, Tape, VJPNode, new_trace, shape_of
from .tree import tree_flatten, tree_unflatten


def _one_like(x):
    """The cotangent 1 of a scalar output, as value_and_grad makes it (same dtype, same type)."""
    from .api import _one_like as one

    return one(x)


class NotReplayable(ValueError):
    """A program that cannot be replayed (raised only with ``strict=True``)."""


class Program:
    """A recorded loss-and-gradient program: forward calls and VJP rules over a list of slots.

    Slot 0 is x, slots 1..k the data leaves, then one slot per recorded primitive call.
    ``forward``: ``(fun, template, refs, kwargs, out_slot)``, the call being
    ``fun(*args, **kwargs)`` with ``args = template`` but position p taken from slot s for
    each ``(p, s)`` in ``refs``. ``backward``: per node reached from the output, in reverse
    order, ``(node_slot, rules, template, refs, kwargs)`` with ``rules`` the
    ``(vjp_rule, parent_slot, shape)`` of its parents that depend on x.
    """

    __slots__ = ("n_slots", "forward", "backward", "root", "seed", "zero")

    def __init__(self, n_slots, forward, backward, root, seed, zero):
        self.n_slots, self.forward, self.backward, self.root = n_slots, forward, backward, root
        self.seed = seed  # the output's cotangent, 1 (what value_and_grad starts from)
        self.zero = zero  # x's gradient when the output does not reach x

    def __call__(self, x, leaves):
        """``(f(x, data), ∇ₓf)`` for data given by its leaves."""
        vals = [None] * self.n_slots
        vals[0] = x
        vals[1 : 1 + len(leaves)] = leaves
        for fun, template, refs, kwargs, out in self.forward:
            args = template.copy()
            for p, s in refs:
                args[p] = vals[s]
            vals[out] = fun(*args, **kwargs)
        value = vals[self.root]
        adjoints = {self.root: self.seed}
        pop = adjoints.pop
        for slot, rules, template, refs, kwargs in self.backward:
            g = pop(slot, None)
            if g is None:
                continue
            args = template.copy()
            for p, s in refs:
                args[p] = vals[s]
            ans = vals[slot]
            for rule, parent, shape in rules:
                contrib = rule(g, ans, *args, **kwargs)
                if getattr(contrib, "shape", ()) != shape:
                    contrib = core.sum_to(contrib, shape)
                prev = adjoints.get(parent)
                adjoints[parent] = contrib if prev is None else prev + contrib
        grad = adjoints.get(0)
        return value, (self.zero.copy() if grad is None else grad)


def record(f, x, data) -> tuple[Program | None, str]:
    """Trace ``f(x, data)`` once and build its :class:`Program`; ``(None, reason)`` when it
    cannot be replayed (see the module docstring)."""
    leaves, treedef = tree_flatten(data)
    trace = new_trace()
    tape = Tape()
    ref = weakref.ref(tape)
    inputs = [Box(x, trace, VJPNode(None, (), {}, x, (), ref))]
    inputs += [Box(v, trace, VJPNode(None, (), core.CONSTANT, v, (), ref)) for v in leaves]
    previous, core.replay_watch = core.replay_watch, trace
    reads = len(core.replay_reads)
    try:
        with paused():
            out = f(inputs[0], tree_unflatten(treedef, inputs[1:]))
    finally:
        core.replay_watch = previous
        read = len(core.replay_reads) > reads
        del core.replay_reads[reads:]
    if read:
        return None, (
            "f reads a traced value outside the primitives (a branch, a comparison or unbox "
            "on it), so its program could change with the values"
        )
    if type(out) is not Box or out.trace != trace:
        return None, "f's output does not depend on x through the primitives"
    if shape_of(out) != ():
        return None, f"f must return a scalar, got shape {shape_of(out)}"
    return _compile(tape, inputs, out.node, x)


def _compile(tape, inputs, root, x) -> tuple[Program | None, str]:
    slot = {id(b.node): k for k, b in enumerate(inputs)}
    needs = {id(inputs[0].node)}  # nodes that depend on x
    forward, nodes = [], []
    for node in tape:
        template, refs = list(node.args), []
        parents = {i: p for i, p in node.parents}
        for i, a in enumerate(template):
            if i in parents:
                refs.append((i, slot[id(parents[i])]))
                template[i] = None
            elif type(a) is Box:
                return None, f"{node.prim.name} met a value of another differentiation"
        out = len(inputs) + len(forward)
        slot[id(node)] = out
        if any(id(p) in needs for _, p in node.parents):
            needs.add(id(node))
        forward.append((node.prim.fun, template, tuple(refs), node.kwargs, out))
        nodes.append(node)
    backward = []
    for node, (_, template, refs, kwargs, out) in zip(
        reversed(nodes), reversed(forward), strict=True
    ):
        if id(node) not in needs:
            continue
        rules = tuple(
            (node.prim.vjps[i], slot[id(p)], getattr(node.args[i], "shape", ()))
            for i, p in node.parents
            if id(p) in needs
        )
        backward.append((out, rules, template, refs, kwargs))
    seed = _one_like(root.ans)
    zero = np.zeros(shape_of(x), dtype=x.dtype)
    return Program(len(slot), forward, backward, slot[id(root)], seed, zero), ""


class grad:
    """∇ₓf(x, data) by replaying a recorded program (see the module docstring); ``strict``:
    raise :class:`NotReplayable` instead of tracing when a program cannot be replayed."""

    def __init__(self, f, strict: bool = False):
        self.f, self.strict = f, strict
        self.programs: dict = {}  # signature -> Program, or the reason it is not replayable

    def value_and_grad(self, x, data):
        """``(f(x, data), ∇ₓf(x, data))``."""
        leaves, treedef = tree_flatten(data)
        if type(x) is Box or any(type(leaf) is Box for leaf in leaves):
            return self._traced(x, data)
        key = (x.shape, x.dtype, treedef, *[(leaf.shape, leaf.dtype) for leaf in leaves])
        program = self.programs.get(key)
        if program is None:
            program, reason = record(self.f, x, data)
            program = self.programs[key] = program if program is not None else reason
        if type(program) is str:
            if self.strict:
                raise NotReplayable(f"cannot replay {self.f!r}: {program}")
            return self._traced(x, data)
        with paused():
            return program(x, leaves)

    def __call__(self, x, data):
        """∇ₓf(x, data)."""
        return self.value_and_grad(x, data)[1]

    def why_not(self) -> list[str]:
        """The reasons recorded signatures are traced instead of replayed."""
        return [p for p in self.programs.values() if type(p) is str]

    def _traced(self, x, data):
        from .api import value_and_grad

        return value_and_grad(self.f)(x, data)
