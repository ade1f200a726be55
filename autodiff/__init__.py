"""autodiff: reverse- and forward-mode automatic differentiation over NumPy arrays.

    import autodiff
    import autodiff.numpy as anp

    F = lambda x, y: x**3 * (x + 3 * y)
    autodiff.grad(F, argnums=(0, 1))(2.0, 3.0)   # (140.0, 24.0)

Layout: ``core`` (boxes, nodes, primitives), ``reverse`` (the backward pass),
``api`` (grad, vjp, jvp, hvp, jacobian), ``tree`` (pytrees), ``batching`` (vmap),
``numpy`` (the primitives and their rules), ``check`` (finite differences),
``graph`` (inspecting and drawing a trace), ``chain`` (matrix-chain ordering),
``demo`` (the lecture example).
"""

from . import chain, numpy  # noqa: F401  (numpy registers the primitives and Box operators)
from .api import grad, hvp, jacobian, jvp, value_and_grad, vjp
from .batching import vmap
from .check import GradientCheckError, check_grad
from .core import Box, unbox
from .graph import Graph, trace
from .tree import tree_flatten, tree_leaves, tree_map, tree_unflatten

__version__ = "0.1.0"
__all__ = [
    "Box",
    "Graph",
    "GradientCheckError",
    "chain",
    "check_grad",
    "grad",
    "hvp",
    "jacobian",
    "jvp",
    "trace",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_unflatten",
    "unbox",
    "value_and_grad",
    "vjp",
    "vmap",
]
