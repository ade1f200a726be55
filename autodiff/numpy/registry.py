"""The one table of primitives: each registered once with its forward, VJP and JVP rules."""

from __future__ import annotations

from ..core import Primitive

PRIMITIVES: dict[str, Primitive] = {}


class Variadic(dict):
    """The rules of a primitive taking any number of arrays from argument ``first`` on (e.g.
    concatenate): one ``rule(k, g_or_t, ans, *args, **kwargs)`` serves each of them, k being
    the argument's position among the arrays. Pass it as both ``vjp`` and ``jvp`` (each its
    own rule) to :func:`defprimitive`."""

    def __init__(self, first: int, rule):
        super().__init__()
        self.first, self.rule = first, rule

    def __contains__(self, argnum) -> bool:
        return argnum >= self.first

    def get(self, argnum, default=None):
        return self[argnum] if argnum >= self.first else default

    def __missing__(self, argnum):
        k = argnum - self.first
        return lambda g, ans, *args, **kwargs: self.rule(k, g, ans, *args, **kwargs)


def defprimitive(name: str, fun, vjp=(), jvp=(), doc: str | None = None, batch=None) -> Primitive:
    """Register primitive ``name``: forward ``fun``, one VJP and one JVP rule per argument.

    ``vjp`` and ``jvp`` are either a sequence (rule for argument 0, 1, ...), a
    dict ``{argnum: rule}`` when some arguments are never differentiated
    (an axis, an index, a condition), or :class:`Variadic` for any number of array
    arguments. A VJP rule is ``(g, ans, *args, **kwargs) -> cotangent of that
    argument``; a JVP rule is ``(t, ans, *args, **kwargs) -> tangent of the answer``.
    Rules are written with primitives, so they can be differentiated again. ``batch`` is
    the batching rule for :func:`autodiff.vmap` (see :mod:`autodiff.numpy.batchrules`);
    without one, vmap loops over the examples (and warns once).
    """
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} is already registered")
    if isinstance(vjp, Variadic) or isinstance(jvp, Variadic):
        if not (isinstance(vjp, Variadic) and isinstance(jvp, Variadic)) or vjp.first != jvp.first:
            raise ValueError(
                f"primitive {name!r}: give Variadic VJP and JVP rules from one argument"
            )
        _check_rules(name, fun, batch, [vjp.rule, jvp.rule])
        prim = Primitive(name, fun, vjp, jvp, doc, batch)
        PRIMITIVES[name] = prim
        return prim
    vjps = dict(vjp) if isinstance(vjp, dict) else dict(enumerate(vjp))
    jvps = dict(jvp) if isinstance(jvp, dict) else dict(enumerate(jvp))
    if set(vjps) != set(jvps):
        raise ValueError(
            f"primitive {name!r}: VJP rules for {sorted(vjps)} but JVP rules for {sorted(jvps)}"
        )
    _check_rules(name, fun, batch, vjps.values(), jvps.values())
    prim = Primitive(name, fun, vjps, jvps, doc, batch)
    PRIMITIVES[name] = prim
    return prim


def _check_rules(name: str, fun, batch, *rule_sets) -> None:
    """Refuse at registration what the tracer would otherwise find only when it calls it."""
    if not callable(fun):
        raise TypeError(f"primitive {name!r}: its forward function {fun!r} is not callable")
    if batch is not None and not callable(batch):
        raise TypeError(f"primitive {name!r}: its batching rule {batch!r} is not callable")
    for rules in rule_sets:
        for rule in rules:
            if not callable(rule):
                raise TypeError(f"primitive {name!r}: its derivative rule {rule!r} is not callable")
