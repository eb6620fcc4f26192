"""Chapter 2's exercise through the real autograder: wrong code loses points, right code doesn't."""

from grading import chapter_grading_tests

ASSIGNMENT = "ch02_vanishing_gradients"

# Correct, and written differently from the solution notebook.
CORRECT = {
    "sigmoid": '''
def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out
''',
    "sigmoid_grad": '''
def sigmoid_grad(z):
    e = np.exp(-np.abs(np.asarray(z, dtype=float)))
    return e / (1.0 + e) ** 2
''',
    "linear_forward": '''
def linear_forward(x, W, b):
    out = np.einsum("nd,dm->nm", x, W) + b[None, :]
    return out, {"x": x.copy(), "W": W.copy()}
''',
    "linear_backward": '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    n, d = x.shape
    m = W.shape[1]
    dx = np.zeros((n, d))
    dW = np.zeros((d, m))
    db = np.zeros(m)
    for i in range(n):
        dx[i] = W @ dout[i]
        dW += np.outer(x[i], dout[i])
        db += dout[i]
    return dx, dW, db
''',
    "layer_gradient_norms": '''
def layer_gradient_norms(model, x, y, loss_fn):
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    grads = torch.autograd.grad(loss_fn(model(x), y), [m.weight for m in layers])
    return [float(torch.sqrt((g.double() ** 2).sum())) for g in grads]
''',
}

# More correct implementations, each swapped in alone.
ALSO_CORRECT = {
    "sigmoid_tanh": ("sigmoid", '''
def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))
'''),
    "sigmoid_torch": ("sigmoid", '''
def sigmoid(z):
    return torch.sigmoid(torch.as_tensor(z, dtype=torch.float64)).numpy()
'''),
    "sigmoid_grad_via_sigmoid": ("sigmoid_grad", '''
def sigmoid_grad(z):
    s = sigmoid(z)
    return s - s * s
'''),
    "linear_backward_with_np_dot": ("linear_backward", '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    db = np.add.reduce(dout, axis=0)
    return np.dot(dout, W.T), np.dot(x.T, dout), db
'''),
    "norms_zero_grad_then_backward": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    for p in model.parameters():
        p.grad = None
    model.train()
    loss_fn(model(x), y).backward()
    out = []
    for name, module in model.named_modules():
        if type(module) is nn.Linear:
            out.append(float(np.linalg.norm(module.weight.grad.detach().numpy().ravel())))
    return out
'''),
}

WRONG = {
    "sigmoid_naive_overflows": ("sigmoid", '''
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))
''', "test_sigmoid"),
    "sigmoid_where_evaluates_both_branches": ("sigmoid", '''
def sigmoid(z):
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))
''', "test_sigmoid"),
    "sigmoid_wrong_sign": ("sigmoid", '''
def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z < 0, 1.0 / (1.0 + e), e / (1.0 + e))
''', "test_sigmoid"),
    "sigmoid_grad_returns_sigmoid": ("sigmoid_grad", '''
def sigmoid_grad(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
''', "test_sigmoid_grad"),
    "sigmoid_grad_of_output": ("sigmoid_grad", '''
def sigmoid_grad(z):
    return z * (1.0 - z)
''', "test_sigmoid_grad"),
    "sigmoid_grad_naive_overflows": ("sigmoid_grad", '''
def sigmoid_grad(z):
    return np.exp(-z) / (1.0 + np.exp(-z)) ** 2
''', "test_sigmoid_grad"),
    "sigmoid_grad_one_minus_sigmoid_squared": ("sigmoid_grad", '''
def sigmoid_grad(z):
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return 1.0 - s ** 2
''', "test_sigmoid_grad"),
    "linear_forward_forgets_bias": ("linear_forward", '''
def linear_forward(x, W, b):
    return x @ W, {"x": x.copy(), "W": W.copy()}
''', "test_linear_forward"),
    "linear_backward_averages_db": ("linear_backward", '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)
''', "test_linear_backward"),
    "linear_backward_transposed_dW": ("linear_backward", '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)
''', "test_linear_backward"),
    "linear_backward_averages_dW": ("linear_backward", '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    return dout @ W.T, x.T @ dout / len(x), dout.sum(axis=0)
''', "test_linear_backward"),
    "linear_backward_dx_without_transpose": ("linear_backward", '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    return dout @ W, x.T @ dout, dout.sum(axis=0)
''', "test_linear_backward"),
    "linear_backward_db_keeps_rows": ("linear_backward", '''
def linear_backward(dout, cache):
    x, W = cache["x"], cache["W"]
    return dout @ W.T, x.T @ dout, dout
''', "test_linear_backward"),
    "norms_keep_stale_gradients": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    loss_fn(model(x), y).backward()
    return [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
''', "test_layer_gradient_norms"),
    "norms_zero_grad_after_backward": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    loss_fn(model(x), y).backward()
    norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
    model.zero_grad()
    return norms
''', "test_layer_gradient_norms"),
    "norms_output_to_input": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
    return norms[::-1]
''', "test_layer_gradient_norms"),
    "norms_include_bias_gradient": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    out = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            total = (m.weight.grad ** 2).sum()
            if m.bias is not None:
                total = total + (m.bias.grad ** 2).sum()
            out.append(total.sqrt().item())
    return out
''', "test_layer_gradient_norms"),
    "norms_list_biases_too": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [p.grad.norm().item() for p in model.parameters()]
''', "test_layer_gradient_norms"),
    "norms_every_parameter_named_weight": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [p.grad.norm().item() for name, p in model.named_parameters() if name.endswith("weight")]
''', "test_layer_gradient_norms"),
    "norms_top_level_layers_only": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [m.weight.grad.norm().item() for m in model.children() if isinstance(m, nn.Linear)]
''', "test_layer_gradient_norms"),
    "norms_squared": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [(m.weight.grad ** 2).sum().item() for m in model.modules() if isinstance(m, nn.Linear)]
''', "test_layer_gradient_norms"),
    "norms_spectral_instead_of_frobenius": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [torch.linalg.matrix_norm(m.weight.grad, ord=2).item()
            for m in model.modules() if isinstance(m, nn.Linear)]
''', "test_layer_gradient_norms"),
    "norms_of_weights_not_gradients": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return [m.weight.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
''', "test_layer_gradient_norms"),
    "norms_return_tensors": ("layer_gradient_norms", '''
def layer_gradient_norms(model, x, y, loss_fn):
    model.zero_grad()
    loss_fn(model(x), y).backward()
    return torch.stack([m.weight.grad.norm() for m in model.modules() if isinstance(m, nn.Linear)])
''', "test_layer_gradient_norms"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, ALSO_CORRECT, only_target=True)
