"""Chapter 8's exercise through the real autograder: known-wrong dropouts lose points, correct
but differently written ones keep full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch08_dropout"

# Correct, and written differently from the solution notebook: a binomial 0/1 float mask,
# np.where, a copy in eval mode, in-place backward, a vectorised enumeration of the masks.
CORRECT = {
    "dropout_forward": '''
def dropout_forward(x, p, train, rng):
    x = np.asarray(x, dtype=float)
    if not train:
        return x.copy(), np.ones_like(x)
    keep = 1.0 - p
    mask = rng.binomial(1, keep, size=x.shape).astype(float)
    if keep == 0:
        return np.zeros_like(x), mask
    return np.where(mask == 1, x / keep, 0.0), mask
''',
    "dropout_backward": '''
def dropout_backward(dout, mask, p):
    dx = np.array(dout, dtype=float)
    dx[np.asarray(mask) == 0] = 0.0
    if p < 1:
        dx /= (1 - p)
    return dx
''',
    "scale_for_inference": '''
def scale_for_inference(W, p):
    keep = 1 - p
    return np.multiply(keep, W)
''',
    "ensemble_mean": '''
def ensemble_mean(x, w, p, activation):
    M = len(x)
    masks = ((np.arange(2 ** M)[:, None] >> np.arange(M)[None, :]) & 1).astype(float)
    kept = masks.sum(axis=1)
    probs = (1 - p) ** kept * p ** (M - kept)
    outputs = activation(masks @ (np.asarray(w) * np.asarray(x)))
    return float(np.sum(probs * outputs))
''',
}

ALSO_CORRECT = {
    "forward_uniform_below_keep_bool_mask": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if train:
        mask = rng.uniform(size=x.shape) < 1 - p
        out = np.zeros(x.shape)
        if p < 1:
            out[mask] = x[mask] / (1 - p)
        return out, mask
    return x, None
'''),
    "forward_through_torch_with_a_seed_from_rng": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    import torch
    if not train:
        return x, None
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    mask = (torch.rand(x.shape, generator=g, dtype=torch.float64) >= p).numpy()
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return x * mask * scale, mask.astype(np.int64)
'''),
    "forward_in_place": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = (rng.random(x.shape) >= p).astype(np.uint8)
    x *= mask
    if p != 1:
        x /= 1 - p
    return x, mask
'''),
    "ensemble_loop_with_math": ("ensemble_mean", '''
def ensemble_mean(x, w, p, activation):
    import math
    total = 0.0
    M = len(x)
    for code in range(2 ** M):
        z, prob = 0.0, 1.0
        for i in range(M):
            if code >> i & 1:
                z += w[i] * x[i]
                prob *= 1 - p
            else:
                prob *= p
        total += prob * activation(z)
    return total
'''),
}

WRONG = {
    # dropout_forward
    "forward_keep_and_drop_swapped": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = rng.random(x.shape) < p          # keeps with probability p
    if p == 0:
        return np.zeros_like(x), mask
    return x * mask / p, mask
''', "test_dropout_forward"),
    "forward_without_rescaling": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = rng.random(x.shape) >= p
    return x * mask, mask
''', "test_dropout_forward"),
    "forward_rescales_in_eval_mode": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    mask = rng.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    if not train:
        return x * (1 - p), None
    return x * mask / (1 - p), mask
''', "test_dropout_forward"),
    "forward_drops_in_eval_mode_too": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    mask = rng.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
''', "test_dropout_forward"),
    "forward_returns_the_scaled_mask": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    if p == 1:
        return np.zeros_like(x), np.zeros_like(x)
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask
''', "test_dropout_forward"),
    "forward_p_1_divides_by_zero": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = rng.random(x.shape) >= p
    return x * mask / np.float64(1 - p), mask
''', "test_dropout_forward"),
    "forward_p_1_where_evaluates_the_division": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = rng.random(x.shape) >= p
    return np.where(mask, x / np.float64(1 - p), 0.0), mask
''', "test_dropout_forward"),
    "forward_global_random_state": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = np.random.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
''', "test_dropout_forward"),
    "forward_same_mask_every_call": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = np.random.default_rng(0).random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
''', "test_dropout_forward"),
    "forward_fixed_number_dropped_per_row": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    flat = x.reshape(-1, x.shape[-1])
    mask = np.ones(flat.shape, dtype=bool)
    k = int(round(p * flat.shape[1]))
    for row in mask:
        row[rng.permutation(flat.shape[1])[:k]] = False
    mask = mask.reshape(x.shape)
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
''', "test_dropout_forward"),
    "forward_one_mask_shared_by_all_rows": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    mask = np.broadcast_to(rng.random(x.shape[-1]) >= p, x.shape).copy()
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
''', "test_dropout_forward"),
    "forward_mask_read_off_the_output": ("dropout_forward", '''
def dropout_forward(x, p, train, rng):
    if not train:
        return x, None
    keep = rng.random(x.shape) >= p
    out = np.zeros_like(x) if p == 1 else x * keep / (1 - p)
    return out, out != 0
''', "test_dropout_forward"),
    # dropout_backward
    "backward_without_rescaling": ("dropout_backward", '''
def dropout_backward(dout, mask, p):
    return dout * mask
''', "test_dropout_backward"),
    "backward_multiplies_by_keep_probability": ("dropout_backward", '''
def dropout_backward(dout, mask, p):
    return dout * mask * (1 - p)
''', "test_dropout_backward"),
    "backward_ignores_the_mask": ("dropout_backward", '''
def dropout_backward(dout, mask, p):
    return dout / (1 - p) if p < 1 else np.zeros_like(dout)
''', "test_dropout_backward"),
    "backward_p_1_divides_by_zero": ("dropout_backward", '''
def dropout_backward(dout, mask, p):
    return dout * mask / np.float64(1 - p)
''', "test_dropout_backward"),
    "backward_divides_by_p": ("dropout_backward", '''
def dropout_backward(dout, mask, p):
    return dout * mask / p if p > 0 else dout * mask
''', "test_dropout_backward"),
    # scale_for_inference
    "scale_multiplies_by_p": ("scale_for_inference", '''
def scale_for_inference(W, p):
    return W * p
''', "test_scale_for_inference"),
    "scale_divides_by_keep_probability": ("scale_for_inference", '''
def scale_for_inference(W, p):
    return W / (1 - p) if p < 1 else np.zeros_like(W)
''', "test_scale_for_inference"),
    # ensemble_mean
    "ensemble_uniform_average_of_masks": ("ensemble_mean", '''
def ensemble_mean(x, w, p, activation):
    outs = [activation(np.sum(np.array(m) * w * x))
            for m in itertools.product([0, 1], repeat=len(x))]
    return float(np.mean(outs))
''', "test_ensemble_mean"),
    "ensemble_rescales_kept_inputs": ("ensemble_mean", '''
def ensemble_mean(x, w, p, activation):
    total = 0.0
    for m in itertools.product([0, 1], repeat=len(x)):
        m = np.array(m)
        prob = np.prod(np.where(m == 1, 1 - p, p))
        total += prob * activation(np.sum(m * w * x) / (1 - p))
    return float(total)
''', "test_ensemble_mean"),
    "ensemble_p_as_keep_probability": ("ensemble_mean", '''
def ensemble_mean(x, w, p, activation):
    total = 0.0
    for m in itertools.product([0, 1], repeat=len(x)):
        m = np.array(m)
        prob = np.prod(np.where(m == 1, p, 1 - p))
        total += prob * activation(np.sum(m * w * x))
    return float(total)
''', "test_ensemble_mean"),
    "ensemble_is_weight_scaling": ("ensemble_mean", '''
def ensemble_mean(x, w, p, activation):
    return float(activation(np.dot(x, w) * (1 - p)))
''', "test_ensemble_mean"),
    "ensemble_monte_carlo": ("ensemble_mean", '''
def ensemble_mean(x, w, p, activation):
    rng = np.random.default_rng(0)
    masks = rng.random((20000, len(x))) >= p
    return float(np.mean(activation(masks @ (w * x))))
''', "test_ensemble_mean"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, also_correct=ALSO_CORRECT, only_target=True)
