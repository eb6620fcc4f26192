"""Chapter 9's exercise through the real autograder: known-wrong batch norms lose points, correct
but differently written ones keep full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch09_batch_norm"

# Correct, and written differently from the solution notebook: setdefault for the keys, running
# statistics updated in place, a dict cache with x, mean and variance, and the compact backward
# formula dx = gamma / (N std) * (N dout - sum(dout) - xhat * sum(dout * xhat)).
CORRECT = {
    "batchnorm_forward": '''
def batchnorm_forward(x, gamma, beta, bn_param):
    N, D = x.shape
    eps = bn_param.setdefault("eps", 1e-5)
    momentum = bn_param.setdefault("momentum", 0.1)
    if "running_mean" not in bn_param:
        bn_param["running_mean"] = np.zeros(D)
    if "running_var" not in bn_param:
        bn_param["running_var"] = np.ones(D)
    if bn_param["mode"] == "eval":
        out = gamma * (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps) + beta
        return out, None
    mu = np.sum(x, axis=0) / N
    var = np.sum((x - mu) ** 2, axis=0) / N
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    rm = bn_param["running_mean"] = np.array(bn_param["running_mean"], dtype=float)
    rv = bn_param["running_var"] = np.array(bn_param["running_var"], dtype=float)
    rm *= 1 - momentum
    rm += momentum * mu
    rv *= 1 - momentum
    rv += momentum * np.var(x, axis=0, ddof=1)
    return out, {"x": x, "mu": mu, "var": var, "eps": eps, "gamma": gamma}
''',
    "batchnorm_backward": '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = (cache[k] for k in ("x", "mu", "var", "eps", "gamma"))
    N = x.shape[0]
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma / (N * std) * (N * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))
    return dx, dgamma, dbeta
''',
}

ALSO_CORRECT = {
    # the step-by-step graph of CS231n's assignment, the variance's path into the mean included
    # (it is zero, but keeping it is not wrong)
    "backward_staged_with_the_zero_term": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache["x"], cache["mu"], cache["var"], cache["eps"], cache["gamma"]
    N = x.shape[0]
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dxhat * ivar, axis=0) + dvar * np.mean(-2.0 * xmu, axis=0)
    dx = dxhat * ivar + dvar * 2.0 * xmu / N + dmu / N
    return dx, dgamma, dbeta
'''),
    "backward_loops_over_features_and_examples": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache["x"], cache["mu"], cache["var"], cache["eps"], cache["gamma"]
    N, D = x.shape
    dx = np.zeros((N, D))
    dgamma = np.zeros(D)
    dbeta = np.zeros(D)
    for j in range(D):
        s = (var[j] + eps) ** 0.5
        xh = [(x[i, j] - mu[j]) / s for i in range(N)]
        sum_d = sum(dout[i, j] for i in range(N))
        sum_dx = sum(dout[i, j] * xh[i] for i in range(N))
        dbeta[j] = sum_d
        dgamma[j] = sum_dx
        for i in range(N):
            dx[i, j] = gamma[j] / (N * s) * (N * dout[i, j] - sum_d - xh[i] * sum_dx)
    return dx, dgamma, dbeta
'''),
    "backward_through_torch_autograd": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    import torch
    x = torch.tensor(cache["x"], requires_grad=True)
    g = torch.tensor(np.asarray(cache["gamma"], dtype=float), requires_grad=True)
    b = torch.zeros_like(g, requires_grad=True)
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    out = g * (x - mu) / torch.sqrt(var + cache["eps"]) + b
    out.backward(torch.tensor(dout))
    return x.grad.numpy(), g.grad.numpy(), b.grad.numpy()
'''),
    "forward_new_arrays_get_and_unbiased_by_n": ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    N, D = x.shape
    rm = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    rv = bn_param.get("running_var", np.ones(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(0)
        var = x.var(0)
        xhat = (x - mu) / np.sqrt(var + eps)
        bn_param["running_mean"] = momentum * mu + (1 - momentum) * rm
        bn_param["running_var"] = momentum * var * N / (N - 1) + (1 - momentum) * rv
        return gamma * xhat + beta, {"x": x, "mu": mu, "var": var, "eps": eps, "gamma": gamma}
    xhat = (x - rm) / np.sqrt(rv + eps)
    return gamma * xhat + beta, ("eval", xhat)
'''),
}

_FORWARD_TRAIN = '''
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    cache = {"x": x, "mu": mu, "var": var, "eps": eps, "gamma": gamma}
'''


def forward(body: str, head: str = "") -> str:
    """A forward pass that reads the keys as the contract says, with ``body`` in place of the
    running-statistics update and the eval branch."""
    return '''
def batchnorm_forward(x, gamma, beta, bn_param):
    N, D = x.shape
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.1)
    rm = bn_param.get("running_mean", np.zeros(D))
    rv = bn_param.get("running_var", np.ones(D))
''' + head + body


WRONG = {
    # batchnorm_forward: the running statistics and the modes
    "forward_running_var_biased": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
''' + _FORWARD_TRAIN + '''
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_momentum_cs231n_convention": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
''' + _FORWARD_TRAIN + '''
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
    bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_eval_normalises_with_batch_stats": ("batchnorm_forward", forward(
        _FORWARD_TRAIN + '''
    if bn_param["mode"] == "train":
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_eval_updates_running_stats": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        out = gamma * (x - rm) / np.sqrt(rv + eps) + beta
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * x.mean(axis=0)
        bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
        return out, None
''' + _FORWARD_TRAIN + '''
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_normalises_with_unbiased_variance": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
    mu = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    cache = {"x": x, "mu": mu, "var": var, "eps": eps, "gamma": gamma}
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_forgets_eps": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv) + beta, None
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var) + beta
    cache = {"x": x, "mu": mu, "var": var, "eps": 0.0, "gamma": gamma}
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_ignores_eps_and_momentum_keys": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
''' + _FORWARD_TRAIN + '''
    bn_param["running_mean"] = 0.9 * rm + 0.1 * mu
    bn_param["running_var"] = 0.9 * rv + 0.1 * x.var(axis=0, ddof=1)
    return out, cache
''', head='''
    eps, momentum = 1e-5, 0.1
'''), "test_batchnorm_forward"),
    "forward_needs_every_key": ("batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param["eps"], bn_param["momentum"]
    rm, rv = bn_param["running_mean"], bn_param["running_var"]
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, {"x": x, "mu": mu, "var": var, "eps": eps, "gamma": gamma}
''', "test_batchnorm_forward"),
    "forward_running_var_starts_at_zeros": ("batchnorm_forward", forward('''
    if "running_var" not in bn_param:
        rv = np.zeros(D)
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
''' + _FORWARD_TRAIN + '''
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_running_stats_not_kept_in_bn_param": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
''' + _FORWARD_TRAIN + '''
    rm = (1 - momentum) * rm + momentum * mu
    rv = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    "forward_without_scale_and_shift": ("batchnorm_forward", forward('''
    if bn_param["mode"] == "eval":
        return (x - rm) / np.sqrt(rv + eps), None
''' + _FORWARD_TRAIN + '''
    out = (x - mu) / np.sqrt(var + eps)
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * x.var(axis=0, ddof=1)
    return out, cache
'''), "test_batchnorm_forward"),
    # batchnorm_backward
    "backward_missing_the_mean_terms": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache["x"], cache["mu"], cache["var"], cache["eps"], cache["gamma"]
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    return dout * gamma / std, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
''', "test_batchnorm_backward"),
    "backward_missing_the_dmean_term": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache["x"], cache["mu"], cache["var"], cache["eps"], cache["gamma"]
    N = x.shape[0]
    xmu = x - mu
    std = np.sqrt(var + eps)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 / std ** 3
    dx = dxhat / std + dvar * 2 * xmu / N
    return dx, np.sum(dout * xmu / std, axis=0), np.sum(dout, axis=0)
''', "test_batchnorm_backward"),
    "backward_missing_the_dvar_term": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache["x"], cache["mu"], cache["var"], cache["eps"], cache["gamma"]
    N = x.shape[0]
    std = np.sqrt(var + eps)
    dxhat = dout * gamma
    dmu = -np.sum(dxhat, axis=0) / std
    dx = dxhat / std + dmu / N
    return dx, np.sum(dout * (x - mu) / std, axis=0), np.sum(dout, axis=0)
''', "test_batchnorm_backward"),
    "backward_dgamma_from_x_not_xhat": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache["x"], cache["mu"], cache["var"], cache["eps"], cache["gamma"]
    N = x.shape[0]
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    dx = gamma / (N * std) * (N * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))
    return dx, np.sum(dout * x, axis=0), np.sum(dout, axis=0)
''', "test_batchnorm_backward"),
    "backward_forgets_eps": ("batchnorm_backward", '''
def batchnorm_backward(dout, cache):
    x, mu, var, gamma = cache["x"], cache["mu"], cache["var"], cache["gamma"]
    N = x.shape[0]
    std = np.sqrt(var)
    xhat = (x - mu) / np.sqrt(var + cache["eps"])
    dx = gamma / (N * std) * (N * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
''', "test_batchnorm_backward"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, also_correct=ALSO_CORRECT)
