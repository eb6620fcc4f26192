"""Chapter 3's exercise through the real autograder: wrong code loses points, right code doesn't."""

import pytest
from grading import chapter_grading_tests, max_scores

ASSIGNMENT = "ch03_relu_maxout"

# Correct, and written differently from the solution notebook: other cache layouts (masks,
# dicts, the pieces themselves), loops instead of einsum/reshape, in-place updates of copies.
CORRECT = {
    "relu_forward": '''
def relu_forward(x):
    out = np.array(x, dtype=float, copy=True)
    out[out < 0] = 0.0
    return out, out > 0
''',
    "relu_backward": '''
def relu_backward(dout, cache):
    return np.where(cache, dout, 0.0)
''',
    "leaky_relu_forward": '''
def leaky_relu_forward(x, alpha=0.01):
    mask = x > 0
    return x * mask + alpha * x * (~mask), {"mask": mask, "alpha": alpha}
''',
    "leaky_relu_backward": '''
def leaky_relu_backward(dout, cache):
    dx = np.array(dout, dtype=float, copy=True)
    dx[~cache["mask"]] *= cache["alpha"]
    return dx
''',
    "elu_forward": '''
def elu_forward(x, alpha=1.0):
    import math
    flat = np.asarray(x, dtype=float).ravel()
    out = np.array([v if v > 0 else alpha * math.expm1(v) for v in flat]).reshape(np.shape(x))
    return out, (np.array(x, copy=True), alpha)
''',
    "elu_backward": '''
def elu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))
''',
    "prelu_forward": '''
def prelu_forward(x, alpha):
    out = np.empty_like(x, dtype=float)
    for d in range(x.shape[1]):
        col = x[:, d]
        out[:, d] = np.where(col > 0, col, alpha[d] * col)
    return out, {"x": x.copy(), "alpha": np.array(alpha, dtype=float)}
''',
    "prelu_backward": '''
def prelu_backward(dout, cache):
    x, alpha = cache["x"], cache["alpha"]
    n_rows, n_cols = x.shape
    dx, dalpha = np.zeros_like(x, dtype=float), np.zeros(n_cols)
    for n in range(n_rows):
        for d in range(n_cols):
            if x[n, d] > 0:
                dx[n, d] = dout[n, d]
            else:
                dx[n, d] = alpha[d] * dout[n, d]
                dalpha[d] += x[n, d] * dout[n, d]
    return dx, dalpha
''',
    "maxout_forward": '''
def maxout_forward(x, W, b):
    z = np.stack([x @ W[:, :, k] + b[:, k] for k in range(W.shape[2])])  # (K, N, M)
    return z.max(axis=0), (x, W, z)
''',
    "maxout_backward": '''
def maxout_backward(dout, cache):
    x, W, z = cache
    best = z.argmax(axis=0)
    dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[1:])
    for k in range(W.shape[2]):
        g = dout * (best == k)
        dW[:, :, k] = x.T @ g
        db[:, k] = g.sum(axis=0)
        dx += g @ W[:, :, k].T
    return dx, dW, db
''',
    "maxout_from_relu": '''
def maxout_from_relu(W, b):
    Wm, bm = np.zeros(W.shape + (2,)), np.zeros(b.shape + (2,))
    Wm[:, :, 1], bm[:, 1] = W, b  # the zero piece first this time
    return Wm, bm
''',
    "max_pool_forward": '''
def max_pool_forward(x, size):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // size, W // size))
    for i in range(H // size):
        for j in range(W // size):
            out[:, :, i, j] = x[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size].max(axis=(2, 3))
    return out, (x.copy(), out.copy(), size)
''',
    "max_pool_backward": '''
def max_pool_backward(dout, cache):
    x, out, size = cache
    dx = np.zeros_like(x)
    N, C, Ho, Wo = out.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    done = False
                    for p in range(size):
                        for q in range(size):
                            if not done and x[n, c, i * size + p, j * size + q] == out[n, c, i, j]:
                                dx[n, c, i * size + p, j * size + q] = dout[n, c, i, j]
                                done = True
    return dx
''',
    "avg_pool_forward": '''
def avg_pool_forward(x, size):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // size, W // size))
    for p in range(size):
        for q in range(size):
            out += x[:, :, p::size, q::size]
    return out / size ** 2, size
''',
    "avg_pool_backward": '''
def avg_pool_backward(dout, cache):
    size = cache
    return np.kron(dout, np.ones((size, size))) / size ** 2
''',
}

# name -> (solution cell replaced, wrong code, tests cell that must lose points). A backward
# mistake's code also redefines its forward pass, so that it reads its own cache layout.
WRONG = {
    "relu_forward_leaks_negatives": ("relu_forward", '''
def relu_forward(x):
    return np.maximum(x, 0.01 * x), x
''', "test_relu_forward"),
    "relu_grad_one_at_zero": ("relu_backward", '''
def relu_forward(x):
    return np.maximum(x, 0.0), x.copy()

def relu_backward(dout, cache):
    return dout * (cache >= 0)
''', "test_relu_backward"),
    "relu_grad_passes_negatives": ("relu_backward", '''
def relu_forward(x):
    return np.maximum(x, 0.0), x.copy()

def relu_backward(dout, cache):
    return dout * (cache != 0)
''', "test_relu_backward"),
    "leaky_slope_on_positive_side": ("leaky_relu_forward", '''
def leaky_relu_forward(x, alpha=0.01):
    return np.where(x > 0, alpha * x, x), (x.copy(), alpha)
''', "test_leaky_relu_forward"),
    "leaky_wrong_default_alpha": ("leaky_relu_forward", '''
def leaky_relu_forward(x, alpha=0.1):
    return np.where(x > 0, x, alpha * x), (x.copy(), alpha)
''', "test_leaky_relu_forward"),
    "leaky_grad_slope_on_positive_side": ("leaky_relu_backward", '''
def leaky_relu_forward(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x), (x.copy(), alpha)

def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, alpha, 1.0)
''', "test_leaky_relu_backward"),
    "leaky_grad_hardcoded_alpha": ("leaky_relu_backward", '''
def leaky_relu_forward(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x), x.copy()

def leaky_relu_backward(dout, cache):
    return dout * np.where(cache > 0, 1.0, 0.01)
''', "test_leaky_relu_backward"),
    "leaky_grad_one_at_zero": ("leaky_relu_backward", '''
def leaky_relu_forward(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x), (x.copy(), alpha)

def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x >= 0, 1.0, alpha)
''', "test_leaky_relu_backward"),
    "elu_forward_without_minus_one": ("elu_forward", '''
def elu_forward(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0))), (x.copy(), alpha)
''', "test_elu_forward"),
    "elu_forward_nan_for_large_inputs": ("elu_forward", '''
def elu_forward(x, alpha=1.0):
    with np.errstate(all="ignore"):
        out = x * (x > 0) + alpha * (np.exp(x) - 1) * (x <= 0)
    return out, (x.copy(), alpha)
''', "test_elu_forward"),
    "elu_grad_missing_alpha": ("elu_backward", '''
def elu_forward(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), (x.copy(), alpha)

def elu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))
''', "test_elu_backward"),
    "elu_grad_uses_output": ("elu_backward", '''
def elu_forward(x, alpha=1.0):
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return out, (x.copy(), out)

def elu_backward(dout, cache):
    x, out = cache
    return dout * np.where(x > 0, 1.0, out)
''', "test_elu_backward"),
    "elu_grad_positive_branch_at_zero": ("elu_backward", '''
def elu_forward(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), (x.copy(), alpha)

def elu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x >= 0, 1.0, alpha * np.exp(np.minimum(x, 0)))
''', "test_elu_backward"),
    "prelu_alpha_per_example": ("prelu_forward", '''
def prelu_forward(x, alpha):
    a = np.resize(alpha, x.shape[0])[:, None]
    return np.where(x > 0, x, a * x), (x.copy(), alpha)
''', "test_prelu_forward"),
    "prelu_dalpha_not_summed": ("prelu_backward", '''
def prelu_forward(x, alpha):
    return np.where(x > 0, x, alpha * x), (x.copy(), alpha)

def prelu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha), dout * np.where(x > 0, 0.0, x)
''', "test_prelu_backward"),
    "prelu_dalpha_averaged": ("prelu_backward", '''
def prelu_forward(x, alpha):
    return np.where(x > 0, x, alpha * x), (x.copy(), alpha)

def prelu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha), np.mean(dout * np.where(x > 0, 0.0, x), axis=0)
''', "test_prelu_backward"),
    "prelu_dalpha_forgets_x": ("prelu_backward", '''
def prelu_forward(x, alpha):
    return np.where(x > 0, x, alpha * x), (x.copy(), alpha)

def prelu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha), np.sum(dout * (x <= 0), axis=0)
''', "test_prelu_backward"),
    "maxout_pieces_misgrouped": ("maxout_forward", '''
def maxout_forward(x, W, b):
    D, M, K = W.shape
    z = (x @ W.reshape(D, M * K)).reshape(len(x), K, M) + b.T
    return z.max(axis=1), (x, W, b)
''', "test_maxout_forward"),
    "maxout_grad_to_every_piece": ("maxout_backward", '''
def maxout_forward(x, W, b):
    z = np.einsum("nd,dmk->nmk", x, W) + b
    return z.max(axis=2), (x, W)

def maxout_backward(dout, cache):
    x, W = cache
    dz = np.repeat(dout[:, :, None], W.shape[2], axis=2)
    return np.einsum("nmk,dmk->nd", dz, W), np.einsum("nd,nmk->dmk", x, dz), dz.sum(axis=0)
''', "test_maxout_backward"),
    "maxout_grad_split_evenly": ("maxout_backward", '''
def maxout_forward(x, W, b):
    z = np.einsum("nd,dmk->nmk", x, W) + b
    return z.max(axis=2), (x, W)

def maxout_backward(dout, cache):
    x, W = cache
    dz = np.repeat(dout[:, :, None], W.shape[2], axis=2) / W.shape[2]
    return np.einsum("nmk,dmk->nd", dz, W), np.einsum("nd,nmk->dmk", x, dz), dz.sum(axis=0)
''', "test_maxout_backward"),
    "maxout_db_not_summed": ("maxout_backward", '''
def maxout_forward(x, W, b):
    z = np.einsum("nd,dmk->nmk", x, W) + b
    return z.max(axis=2), (x, W, z)

def maxout_backward(dout, cache):
    x, W, z = cache
    dz = (z == z.max(axis=2, keepdims=True)) * dout[:, :, None]
    return np.einsum("nmk,dmk->nd", dz, W), np.einsum("nd,nmk->dmk", x, dz), dz[0]
''', "test_maxout_backward"),
    "maxout_from_relu_leaky": ("maxout_from_relu", '''
def maxout_from_relu(W, b):
    return np.stack([W, 0.01 * W], axis=2), np.stack([b, 0.01 * b], axis=1)
''', "test_maxout_from_relu"),
    "maxout_from_relu_abs": ("maxout_from_relu", '''
def maxout_from_relu(W, b):
    return np.stack([W, -W], axis=2), np.stack([b, -b], axis=1)
''', "test_maxout_from_relu"),
    "maxout_from_relu_zero_bias_only": ("maxout_from_relu", '''
def maxout_from_relu(W, b):
    return np.stack([W, np.zeros_like(W)], axis=2), np.stack([b, b], axis=1)
''', "test_maxout_from_relu"),
    "max_pool_windows_not_transposed": ("max_pool_forward", '''
def max_pool_forward(x, size):
    N, C, H, W = x.shape
    win = x.reshape(N, C, H // size, W // size, size * size)
    return win.max(axis=-1), (x.copy(), size)
''', "test_max_pool_forward"),
    "max_pool_backward_spreads_gradient": ("max_pool_backward", '''
def max_pool_forward(x, size):
    N, C, H, W = x.shape
    out = x.reshape(N, C, H // size, size, W // size, size).max(axis=(3, 5))
    return out, size

def max_pool_backward(dout, cache):
    size = cache
    return np.kron(dout, np.ones((size, size))) / size ** 2
''', "test_max_pool_backward"),
    "max_pool_backward_every_tied_max": ("max_pool_backward", '''
def max_pool_forward(x, size):
    N, C, H, W = x.shape
    out = x.reshape(N, C, H // size, size, W // size, size).max(axis=(3, 5))
    return out, (x.copy(), out, size)

def max_pool_backward(dout, cache):
    x, out, size = cache
    up = lambda a: np.repeat(np.repeat(a, size, axis=2), size, axis=3)
    return up(dout) * (x == up(out))
''', "test_max_pool_backward"),
    "max_pool_backward_last_tied_max": ("max_pool_backward", '''
def max_pool_forward(x, size):
    N, C, H, W = x.shape
    out = x.reshape(N, C, H // size, size, W // size, size).max(axis=(3, 5))
    return out, (x.copy(), out, size)

def max_pool_backward(dout, cache):
    x, out, size = cache
    dx = np.zeros_like(x)
    N, C, Ho, Wo = out.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    for p in range(size):
                        for q in range(size):
                            if x[n, c, i * size + p, j * size + q] == out[n, c, i, j]:
                                last = (p, q)
                    dx[n, c, i * size + last[0], j * size + last[1]] = dout[n, c, i, j]
    return dx
''', "test_max_pool_backward"),
    "avg_pool_backward_not_divided": ("avg_pool_backward", '''
def avg_pool_backward(dout, cache):
    size = cache
    return np.kron(dout, np.ones((size, size)))
''', "test_avg_pool_backward"),
    "avg_pool_backward_divided_by_size": ("avg_pool_backward", '''
def avg_pool_backward(dout, cache):
    size = cache
    return np.kron(dout, np.ones((size, size))) / size
''', "test_avg_pool_backward"),
    "avg_pool_forward_sums": ("avg_pool_forward", '''
def avg_pool_forward(x, size):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // size, size, W // size, size).sum(axis=(3, 5)), size
''', "test_avg_pool_forward"),
    "avg_pool_backward_unfinished": ("avg_pool_backward", '''
def avg_pool_backward(dout, cache):
    raise NotImplementedError()
''', "test_avg_pool_backward"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(ASSIGNMENT, CORRECT, WRONG)


@pytest.mark.parametrize("name", sorted(n for n in WRONG if n.startswith("avg_pool_")))
def test_avg_pool_forward_and_backward_earn_points_separately(results, name):
    """A correct forward pass keeps its point while the backward pass is wrong or unfinished,
    and the other way round: the two are graded in cells of their own."""
    full = max_scores(ASSIGNMENT)
    other = {"test_avg_pool_forward": "test_avg_pool_backward",
             "test_avg_pool_backward": "test_avg_pool_forward"}[WRONG[name][2]]
    assert results[name][other] == full[other], f"{name} lost the points of {other}"
