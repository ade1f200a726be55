"""The one table of primitives: each registered once with its forward, VJP and JVP rules."""

from __future__ import annotations

from ..core import Primitive

PRIMITIVES: dict[str, Primitive] = {}


def defprimitive(name: str, fun, vjp=(), jvp=(), doc: str | None = None) -> Primitive:
    """Register primitive ``name``: forward ``fun``, one VJP and one JVP rule per argument.

    ``vjp`` and ``jvp`` are either a sequence (rule for argument 0, 1, ...) or a
    dict ``{argnum: rule}`` when some arguments are never differentiated
    (an axis, an index, a condition). A VJP rule is ``(g, ans, *args, **kwargs)
    -> cotangent of that argument``; a JVP rule is ``(t, ans, *args, **kwargs)
    -> tangent of the answer``. Rules are written with primitives, so they can be
    differentiated again.
    """
    if name in PRIMITIVES:
        raise ValueError(f"primitive {name!r} is already registered")
    vjps = dict(vjp) if isinstance(vjp, dict) else dict(enumerate(vjp))
    jvps = dict(jvp) if isinstance(jvp, dict) else dict(enumerate(jvp))
    if set(vjps) != set(jvps):
        raise ValueError(
            f"primitive {name!r}: VJP rules for {sorted(vjps)} but JVP rules for {sorted(jvps)}"
        )
    prim = Primitive(name, fun, vjps, jvps, doc)
    PRIMITIVES[name] = prim
    return prim
