"""Chapter 5's exercise through the real autograder: wrong code loses points, right code doesn't."""

from grading import chapter_grading_tests

ASSIGNMENT = "ch05_momentum_adam"

# Correct, and written differently from the solution notebook: momentum in PyTorch's buffer
# form (b = mu * b + g; w = w - lr * b) with in-place updates of w; Adam elementwise in a loop,
# with the bias corrections folded into the step size as in Kingma & Ba's Algorithm 1
# (mathematically identical to adding epsilon to sqrt(v_hat)).
CORRECT = {
    "sgd_momentum": '''
def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    lr = config.setdefault("learning_rate", 0.01)
    mu = config.setdefault("momentum", 0.9)
    if "buffer" not in config:
        config["buffer"] = np.array(dw, dtype=float, copy=True)
    else:
        config["buffer"] *= mu
        config["buffer"] += dw
    w -= lr * config["buffer"]
    return w, config
''',
    "adam": '''
def adam(w, dw, config=None):
    import math
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999),
                       ("epsilon", 1e-8)):
        if key not in config:
            config[key] = value
    state = config.setdefault("state", {"step": 0, "moments": [(0.0, 0.0)] * w.size})
    state["step"] += 1
    t, b1, b2 = state["step"], config["beta1"], config["beta2"]
    c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
    flat_w, flat_g = w.reshape(-1).tolist(), dw.reshape(-1).tolist()
    out, moments = [], []
    for x, g, (m, v) in zip(flat_w, flat_g, state["moments"]):
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        denom = math.sqrt(v) / math.sqrt(c2) + config["epsilon"]
        out.append(x - (config["learning_rate"] / c1) * m / denom)
        moments.append((m, v))
    state["moments"] = moments
    return np.array(out).reshape(w.shape), config
''',
}

MOMENTUM_TEMPLATE = '''
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {{}}
    config.setdefault("learning_rate", {lr})
    config.setdefault("momentum", {mu})
    lr, mu = config["learning_rate"], config["momentum"]
    v = config.get("velocity", np.zeros_like(w))
{body}
    return next_w, config
'''


def momentum(body: str, lr: str = "1e-2", mu: str = "0.9") -> str:
    return MOMENTUM_TEMPLATE.format(lr=lr, mu=mu, body=body)


ADAM_TEMPLATE = '''
def adam(w, dw, config=None):
    if config is None:
        config = {{}}
    config.setdefault("learning_rate", {lr})
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    lr, b1, b2, eps = (config["learning_rate"], config["beta1"], config["beta2"],
                       config["epsilon"])
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
{body}
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config
'''

ADAM_RIGHT = '''
    t = config.get("t", 0) + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw ** 2
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    next_w = w - lr * m_hat / (np.sqrt(v_hat) + eps)'''


def adam(body: str = ADAM_RIGHT, lr: str = "1e-3", **replace: str) -> str:
    for old, new in replace.items():
        old = old.replace("__", " ")
        assert old in body, old
        body = body.replace(old, new)
    return ADAM_TEMPLATE.format(lr=lr, body=body)


WRONG = {
    # --- momentum ---
    "momentum_sign_flipped": ("sgd_momentum", momentum('''
    v = mu * v + lr * dw
    next_w = w + v
    config["velocity"] = v'''), "test_sgd_momentum"),
    "momentum_forgets_velocity": ("sgd_momentum", momentum('''
    v = -lr * dw
    next_w = w + v'''), "test_sgd_momentum"),
    "momentum_with_dampening": ("sgd_momentum", momentum('''
    v = mu * v - lr * (1 - mu) * dw
    next_w = w + v
    config["velocity"] = v'''), "test_sgd_momentum"),
    "momentum_steps_with_old_velocity": ("sgd_momentum", momentum('''
    next_w = w + v
    config["velocity"] = mu * v - lr * dw'''), "test_sgd_momentum"),
    "momentum_nesterov": ("sgd_momentum", momentum('''
    v_new = mu * v - lr * dw
    next_w = w + mu * v_new - lr * dw
    config["velocity"] = v_new'''), "test_sgd_momentum"),
    "momentum_first_step_skipped": ("sgd_momentum", momentum('''
    if "velocity" not in config:
        config["velocity"] = np.zeros_like(w)
        return w, config
    v = mu * v - lr * dw
    next_w = w + v
    config["velocity"] = v'''), "test_sgd_momentum"),
    "momentum_default_momentum_wrong": ("sgd_momentum", momentum('''
    v = mu * v - lr * dw
    next_w = w + v
    config["velocity"] = v''', mu="0.99"), "test_sgd_momentum"),
    "momentum_default_lr_wrong": ("sgd_momentum", momentum('''
    v = mu * v - lr * dw
    next_w = w + v
    config["velocity"] = v''', lr="1e-3"), "test_sgd_momentum"),
    "momentum_ignores_given_lr": ("sgd_momentum", momentum('''
    v = mu * v - 1e-2 * dw
    next_w = w + v
    config["velocity"] = v'''), "test_sgd_momentum"),
    "momentum_ignores_given_momentum": ("sgd_momentum", momentum('''
    v = 0.9 * v - lr * dw
    next_w = w + v
    config["velocity"] = v'''), "test_sgd_momentum"),
    "momentum_global_velocity": ("sgd_momentum", '''
_velocity = {}
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = _velocity.get(w.shape, np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    _velocity[w.shape] = v
    return w + v, config
''', "test_sgd_momentum"),
    "momentum_returns_only_w": ("sgd_momentum", '''
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config["momentum"] * config.get("velocity", 0.0) - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v
''', "test_sgd_momentum"),
    # --- Adam ---
    "adam_without_bias_correction": ("adam", adam(**{
        "m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)": "m_hat, v_hat = m, v"}),
        "test_adam"),
    "adam_step_counter_from_zero": ("adam", adam(**{
        't = config.get("t", 0) + 1': 't = config.get("t", -1) + 1'}), "test_adam"),
    "adam_step_counter_from_two": ("adam", adam(**{
        't = config.get("t", 0) + 1': 't = config.get("t", 1) + 1'}), "test_adam"),
    "adam_epsilon_inside_sqrt": ("adam", adam(**{
        "np.sqrt(v_hat) + eps": "np.sqrt(v_hat + eps)"}), "test_adam"),
    "adam_swaps_beta1_beta2": ("adam", adam(**{
        "m = b1 * m + (1 - b1) * dw": "m = b2 * m + (1 - b2) * dw",
        "v = b2 * v + (1 - b2) * dw ** 2": "v = b1 * v + (1 - b1) * dw ** 2"}), "test_adam"),
    "adam_swaps_betas_in_correction": ("adam", adam(**{
        "m / (1 - b1 ** t), v / (1 - b2 ** t)": "m / (1 - b2 ** t), v / (1 - b1 ** t)"}),
        "test_adam"),
    "adam_without_sqrt": ("adam", adam(**{"np.sqrt(v_hat) + eps": "v_hat + eps"}), "test_adam"),
    "adam_stores_corrected_moments": ("adam", adam(**{
        "m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)":
            "m = m_hat = m / (1 - b1 ** t)\n    v = v_hat = v / (1 - b2 ** t)"}), "test_adam"),
    "adam_momentum_without_one_minus_beta": ("adam", adam(**{
        "m = b1 * m + (1 - b1) * dw": "m = b1 * m + dw"}), "test_adam"),
    "adam_ignores_given_betas": ("adam", adam(**{
        "m = b1 * m + (1 - b1) * dw": "b1, b2 = 0.9, 0.999\n    m = b1 * m + (1 - b1) * dw"}),
        "test_adam"),
    "adam_ignores_given_epsilon": ("adam", adam(**{
        "np.sqrt(v_hat) + eps": "np.sqrt(v_hat) + 1e-8"}), "test_adam"),
    # Kingma & Ba's "more efficient" ordering adds epsilon to the uncorrected sqrt(v): a
    # different epsilon, which the task text rules out (the reference is torch.optim.Adam).
    "adam_epsilon_on_uncorrected_v": ("adam", adam(**{
        "next_w = w - lr * m_hat / (np.sqrt(v_hat) + eps)":
            "next_w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)"}),
        "test_adam"),
    "adam_default_lr_wrong": ("adam", adam(lr="1e-2"), "test_adam"),
    "adam_global_step_counter": ("adam", adam(**{
        't = config.get("t", 0) + 1':
            'global _T\n    _T = globals().get("_T", 0) + 1\n    t = _T'}),
        "test_adam"),
    "adam_sqrt_before_correction_only_m": ("adam", adam(**{
        "m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)":
            "m_hat, v_hat = m / (1 - b1 ** t), v"}),
        "test_adam"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(ASSIGNMENT, CORRECT, WRONG)
