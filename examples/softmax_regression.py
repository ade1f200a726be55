"""Softmax regression (multinomial logistic regression), written for one example in NumPy.

    sgdlab problem=custom problem.loss=examples/softmax_regression.py:loss \
        problem.init=examples/softmax_regression.py:init problem.data=digits problem.solve=true

``problem.data=digits`` needs scikit-learn (10 classes, 64 pixel features); without it,
``problem.data=examples/softmax_regression.py:blobs`` gives synthetic data of the same shape.
The loss is convex (strongly convex with the ridge term), so problem.solve=true gives the
true f* and x*.
"""

import numpy as np

FEATURES, CLASSES = 64, 10
LAM = 1e-3  # ridge weight λ on W


def init():
    """Zero weights W (64 × 10) and biases b (10): a dict of arrays is a pytree."""
    return {"W": np.zeros((FEATURES, CLASSES)), "b": np.zeros(CLASSES)}


def loss(params, example):
    """Cross-entropy −log softmax(xW + b)[y] of one example, plus (λ/2)‖W‖²."""
    logits = example["x"] @ params["W"] + params["b"]
    top = np.max(logits)
    log_normalizer = top + np.log(np.sum(np.exp(logits - top)))
    return log_normalizer - logits[example["y"]] + 0.5 * LAM * np.sum(params["W"] ** 2)


def blobs(n=600, seed=0):
    """Ten Gaussian clusters in 64 dimensions, standardized: {"x": (n, 64), "y": (n,)}."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLASSES, FEATURES))
    y = rng.integers(0, CLASSES, n)
    x = centres[y] + 1.5 * rng.normal(size=(n, FEATURES))
    return {"x": (x - x.mean(0)) / x.std(0), "y": y}
