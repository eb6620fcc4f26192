"""Chapter 4's exercise through the real autograder: known-wrong update rules and batchers lose
points, a correct but differently written submission keeps full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch04_adaptive_lr"

# Correct, but unlike the solution notebook: in-place updates, loops over elements, other state
# keys and layouts (a Python list, an algebraically rearranged average), np.split for batches.
CORRECT = {
    "sgd": '''
def sgd(w, dw, config=None):
    config = {} if config is None else config
    lr = config.get("learning_rate", 1e-2)
    config["learning_rate"] = lr
    w -= lr * dw          # in place: the caller keeps using the returned array
    return w, config
''',
    "adagrad": '''
def adagrad(w, dw, config=None):
    import math
    if config is None:
        config = {}
    lr = config.setdefault("learning_rate", 1e-2)
    eps = config.setdefault("epsilon", 1e-10)
    flat_w = np.array(w, dtype=float).ravel()
    flat_g = np.asarray(dw, dtype=float).ravel()
    G = config.get("G") or [0.0] * flat_w.size
    for i in range(flat_w.size):
        G[i] += flat_g[i] ** 2
        flat_w[i] -= lr * flat_g[i] / (math.sqrt(G[i]) + eps)
    config["G"] = G
    return flat_w.reshape(np.shape(w)), config
''',
    "rmsprop": '''
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-2), ("alpha", 0.99), ("epsilon", 1e-8)):
        config.setdefault(key, value)
    ms = config.get("mean_square")
    if ms is None:
        ms = np.zeros(np.shape(w))
    ms = ms + (1 - config["alpha"]) * (dw * dw - ms)     # = alpha*ms + (1-alpha)*dw**2
    config["mean_square"] = ms
    np.subtract(w, config["learning_rate"] * dw / (ms ** 0.5 + config["epsilon"]), out=w)
    return w, config
''',
    "minibatch_indices": '''
def minibatch_indices(n, batch_size, rng):
    idx = np.arange(n)
    rng.shuffle(idx)
    k = -(-n // batch_size)
    return np.split(idx, [batch_size * i for i in range(1, k)])
''',
}

WRONG = {
    # sgd
    "sgd_sign_flipped": ("sgd", '''
def sgd(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    return w + config["learning_rate"] * dw, config
''', "test_sgd"),
    "sgd_ignores_config_learning_rate": ("sgd", '''
def sgd(w, dw, config=None):
    return w - 1e-2 * dw, (config if config is not None else {})
''', "test_sgd"),
    "sgd_wrong_default": ("sgd", '''
def sgd(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-3)
    return w - config["learning_rate"] * dw, config
''', "test_sgd"),
    # adagrad
    "adagrad_without_accumulation": ("adagrad", '''
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-10)
    config["cache"] = dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config
''', "test_adagrad"),
    "adagrad_eps_inside_sqrt": ("adagrad", '''
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-10)
    config["cache"] = config.get("cache", 0) + dw ** 2
    return w - config["learning_rate"] * dw / np.sqrt(config["cache"] + config["epsilon"]), config
''', "test_adagrad"),
    "adagrad_without_eps": ("adagrad", '''
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config["cache"] = config.get("cache", 0) + dw ** 2
    return w - config["learning_rate"] * dw / np.sqrt(config["cache"]), config
''', "test_adagrad"),
    "adagrad_mean_instead_of_sum": ("adagrad", '''
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-10)
    config["t"] = config.get("t", 0) + 1
    config["cache"] = config.get("cache", 0) + dw ** 2
    rms = np.sqrt(config["cache"] / config["t"])
    return w - config["learning_rate"] * dw / (rms + config["epsilon"]), config
''', "test_adagrad"),
    "adagrad_divides_by_old_sum": ("adagrad", '''
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-10)
    old = config.get("cache", np.ones_like(w))
    next_w = w - config["learning_rate"] * dw / (np.sqrt(old) + config["epsilon"])
    config["cache"] = old + dw ** 2
    return next_w, config
''', "test_adagrad"),
    "adagrad_ignores_config": ("adagrad", '''
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config["cache"] = config.get("cache", 0) + dw ** 2
    return w - 1e-2 * dw / (np.sqrt(config["cache"]) + 1e-10), config
''', "test_adagrad"),
    "adagrad_state_in_a_global": ("adagrad", '''
_CACHE = {}
def adagrad(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-10)
    key = np.shape(w)
    _CACHE[key] = _CACHE.get(key, 0) + dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(_CACHE[key]) + config["epsilon"]), config
''', "test_adagrad"),
    # rmsprop
    "rmsprop_alpha_on_the_wrong_term": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("alpha", 0.99)
    config.setdefault("epsilon", 1e-8)
    a = config["alpha"]
    config["cache"] = (1 - a) * config.get("cache", np.zeros_like(w)) + a * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config
''', "test_rmsprop"),
    "rmsprop_lecture_first_sigma": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("alpha", 0.99)
    config.setdefault("epsilon", 1e-8)
    a = config["alpha"]
    if "cache" not in config:
        config["cache"] = dw ** 2          # sigma^0 = |g^0|, as in the lecture
    else:
        config["cache"] = a * config["cache"] + (1 - a) * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config
''', "test_rmsprop"),
    "rmsprop_eps_inside_sqrt": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("alpha", 0.99)
    config.setdefault("epsilon", 1e-8)
    a = config["alpha"]
    config["cache"] = a * config.get("cache", np.zeros_like(w)) + (1 - a) * dw ** 2
    return w - config["learning_rate"] * dw / np.sqrt(config["cache"] + config["epsilon"]), config
''', "test_rmsprop"),
    "rmsprop_ignores_config_alpha": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    config["cache"] = 0.99 * config.get("cache", np.zeros_like(w)) + 0.01 * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config
''', "test_rmsprop"),
    "rmsprop_ignores_config_epsilon": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("alpha", 0.99)
    a = config["alpha"]
    config["cache"] = a * config.get("cache", np.zeros_like(w)) + (1 - a) * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + 1e-8), config
''', "test_rmsprop"),
    "rmsprop_default_alpha_0_9": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("alpha", 0.9)
    config.setdefault("epsilon", 1e-8)
    a = config["alpha"]
    config["cache"] = a * config.get("cache", np.zeros_like(w)) + (1 - a) * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config
''', "test_rmsprop"),
    "rmsprop_that_is_adagrad": ("rmsprop", '''
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("alpha", 0.99)
    config.setdefault("epsilon", 1e-8)
    config["cache"] = config.get("cache", np.zeros_like(w)) + (1 - config["alpha"]) * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config
''', "test_rmsprop"),
    # minibatch_indices
    "batches_never_shuffled": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
''', "test_minibatch_indices"),
    "batches_drop_the_remainder": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
''', "test_minibatch_indices"),
    "batches_overlap_sampled_with_replacement": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = rng.integers(0, n, size=n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
''', "test_minibatch_indices"),
    "batches_from_global_random_state": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = np.random.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
''', "test_minibatch_indices"),
    "batches_fixed_only_their_order_shuffled": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = np.arange(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) == 1:
        return [rng.permutation(n)]
    full, last = batches[:-1], batches[-1:]
    if len(batches[-1]) == batch_size:
        full, last = batches, []
    return [full[k] for k in rng.permutation(len(full))] + last
''', "test_minibatch_indices"),
    "batches_of_unequal_sizes_array_split": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    return np.array_split(rng.permutation(n), -(-n // batch_size))
''', "test_minibatch_indices"),
    "batches_same_order_every_epoch": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = np.random.default_rng(0).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
''', "test_minibatch_indices"),
    "batches_as_float_arrays": ("minibatch_indices", '''
def minibatch_indices(n, batch_size, rng):
    order = rng.permutation(n).astype(float)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
''', "test_minibatch_indices"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(ASSIGNMENT, CORRECT, WRONG)
