"""Chapter 7's exercise through the real autograder: known-wrong penalties, update steps and
parameter groups lose points, correct but differently written ones keep full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch07_regularisation"

# Correct, but unlike the solution notebook: named_parameters and ndim, torch.norm, a generator
# of groups materialised late, in-place NumPy updates, the no-decay group first.
CORRECT = {
    "l2_penalty": '''
def l2_penalty(model, lam):
    terms = [torch.linalg.vector_norm(p) ** 2 for _, p in model.named_parameters() if p.ndim > 1]
    return lam / 2 * sum(terms, torch.tensor(0.0, dtype=torch.float64))
''',
    "l1_penalty": '''
def l1_penalty(model, lam):
    out = None
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if len(p.shape) >= 2:
                term = lam * torch.norm(p, p=1)
                out = term if out is None else out + term
    return out if out is not None else torch.zeros((), requires_grad=True)
''',
    "sgd_l2_step": '''
def sgd_l2_step(w, dw, lr, lam):
    w = np.array(w, dtype=float)
    w *= 1.0 - lr * lam
    w -= lr * np.asarray(dw)
    return w
''',
    "sgd_l1_step": '''
def sgd_l1_step(w, dw, lr, lam):
    step = np.where(w > 0, lam, np.where(w < 0, -lam, 0.0)) + dw
    return w - lr * step
''',
    "no_decay_param_groups": '''
def no_decay_param_groups(model, weight_decay):
    params = list(model.parameters())
    return [
        {"weight_decay": 0.0, "params": [p for p in params if p.dim() < 2]},
        {"weight_decay": weight_decay, "params": [p for p in params if p.dim() > 1]},
    ]
''',
}

ALSO_CORRECT = {
    "l2_penalty_via_flat_vector": ("l2_penalty", '''
def l2_penalty(model, lam):
    ws = [p.reshape(-1) for p in model.parameters() if p.dim() >= 2]
    flat = torch.cat(ws)
    return 0.5 * lam * torch.dot(flat, flat)
'''),
    "l2_penalty_modules_weight_attribute_by_ndim": ("l2_penalty", '''
def l2_penalty(model, lam):
    total = torch.zeros(())
    for p in model.parameters():
        if p.dim() >= 2:
            total = total + p.pow(2).sum() * (lam / 2)
    return total
'''),
    "l1_penalty_via_flat_vector": ("l1_penalty", '''
def l1_penalty(model, lam):
    flat = torch.cat([p.flatten() for p in model.parameters() if p.dim() >= 2])
    return lam * flat.abs().sum()
'''),
    "sgd_l2_step_as_gradient_step": ("sgd_l2_step", '''
def sgd_l2_step(w, dw, lr, lam):
    return w - lr * (dw + lam * w)
'''),
    "sgd_l1_step_in_place": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    w -= lr * (lam * np.sign(w) + dw)
    return w
'''),
    "groups_one_per_parameter": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    return [{"params": [p], "weight_decay": weight_decay if p.dim() >= 2 else 0.0}
            for p in model.parameters()]
'''),
    "groups_by_name_and_ndim_with_empty_groups": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    decay = {"params": [], "weight_decay": float(weight_decay)}
    keep = {"params": [], "weight_decay": 0.0}
    for name, p in model.named_parameters():
        (keep if p.ndim <= 1 else decay)["params"].append(p)
    return [decay, keep, {"params": [], "weight_decay": 0.0}]
'''),
}

WRONG = {
    # l2_penalty
    "l2_decays_biases": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam / 2 * sum((p ** 2).sum() for p in model.parameters())
''', "test_l2_penalty"),
    "l2_missing_half": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam * sum((p ** 2).sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l2_penalty"),
    "l2_returns_python_float": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam / 2 * sum((p ** 2).sum().item() for p in model.parameters() if p.dim() >= 2)
''', "test_l2_penalty"),
    "l2_detached": ("l2_penalty", '''
def l2_penalty(model, lam):
    with torch.no_grad():
        return lam / 2 * sum((p ** 2).sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l2_penalty"),
    "l2_skips_by_name_decays_norm_weights": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam / 2 * sum((p ** 2).sum() for n, p in model.named_parameters() if "bias" not in n)
''', "test_l2_penalty"),
    "l2_only_linear_layers": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam / 2 * sum((m.weight ** 2).sum() for m in model.modules() if isinstance(m, nn.Linear))
''', "test_l2_penalty"),
    "l2_only_top_level_children": ("l2_penalty", '''
def l2_penalty(model, lam):
    total = torch.zeros(())
    for m in model.children():
        for p in m.parameters(recurse=False):
            if p.dim() >= 2:
                total = total + (p ** 2).sum()
    return lam / 2 * total
''', "test_l2_penalty"),
    "l2_norm_not_squared": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam / 2 * sum(p.norm() for p in model.parameters() if p.dim() >= 2)
''', "test_l2_penalty"),
    "l2_mean_instead_of_sum": ("l2_penalty", '''
def l2_penalty(model, lam):
    return lam / 2 * sum((p ** 2).mean() for p in model.parameters() if p.dim() >= 2)
''', "test_l2_penalty"),
    "l2_modifies_weights": ("l2_penalty", '''
def l2_penalty(model, lam):
    total = lam / 2 * sum((p ** 2).sum() for p in model.parameters() if p.dim() >= 2)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(1 - lam)
    return total
''', "test_l2_penalty"),
    # l1_penalty
    "l1_over_all_parameters": ("l1_penalty", '''
def l1_penalty(model, lam):
    return lam * sum(p.abs().sum() for p in model.parameters())
''', "test_l1_penalty"),
    "l1_with_half": ("l1_penalty", '''
def l1_penalty(model, lam):
    return lam / 2 * sum(p.abs().sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l1_penalty"),
    "l1_without_lam": ("l1_penalty", '''
def l1_penalty(model, lam):
    return sum(p.abs().sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l1_penalty"),
    "l1_returns_python_float": ("l1_penalty", '''
def l1_penalty(model, lam):
    return float(lam * sum(p.abs().sum() for p in model.parameters() if p.dim() >= 2))
''', "test_l1_penalty"),
    "l1_signed_sum": ("l1_penalty", '''
def l1_penalty(model, lam):
    return lam * sum(p.sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l1_penalty"),
    "l1_squared_weights": ("l1_penalty", '''
def l1_penalty(model, lam):
    return lam * sum((p ** 2).sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l1_penalty"),
    "l1_numpy_value": ("l1_penalty", '''
def l1_penalty(model, lam):
    return lam * sum(np.abs(p.detach().numpy()).sum() for p in model.parameters() if p.dim() >= 2)
''', "test_l1_penalty"),
    # sgd_l2_step
    "l2_step_decays_after_gradient_step": ("sgd_l2_step", '''
def sgd_l2_step(w, dw, lr, lam):
    return (1 - lr * lam) * (w - lr * dw)
''', "test_sgd_l2_step"),
    "l2_step_without_lr_in_decay": ("sgd_l2_step", '''
def sgd_l2_step(w, dw, lr, lam):
    return (1 - lam) * w - lr * dw
''', "test_sgd_l2_step"),
    "l2_step_decay_with_plus": ("sgd_l2_step", '''
def sgd_l2_step(w, dw, lr, lam):
    return (1 + lr * lam) * w - lr * dw
''', "test_sgd_l2_step"),
    "l2_step_half_lambda": ("sgd_l2_step", '''
def sgd_l2_step(w, dw, lr, lam):
    return (1 - lr * lam / 2) * w - lr * dw
''', "test_sgd_l2_step"),
    "l2_step_l1_rule": ("sgd_l2_step", '''
def sgd_l2_step(w, dw, lr, lam):
    return w - lr * lam * np.sign(w) - lr * dw
''', "test_sgd_l2_step"),
    # sgd_l1_step
    "l1_step_uses_w_not_sign": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    return w - lr * lam * w - lr * dw
''', "test_sgd_l1_step"),
    "l1_step_sign_without_lam": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    return w - lr * np.sign(w) - lr * dw
''', "test_sgd_l1_step"),
    "l1_step_sign_without_lr": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    return w - lam * np.sign(w) - lr * dw
''', "test_sgd_l1_step"),
    "l1_step_sign_of_gradient": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    return w - lr * lam * np.sign(dw) - lr * dw
''', "test_sgd_l1_step"),
    "l1_step_sign_zero_as_plus_one": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    return w - lr * lam * np.where(w >= 0, 1.0, -1.0) - lr * dw
''', "test_sgd_l1_step"),
    "l1_step_after_gradient_step": ("sgd_l1_step", '''
def sgd_l1_step(w, dw, lr, lam):
    v = w - lr * dw
    return v - lr * lam * np.sign(v)
''', "test_sgd_l1_step"),
    # no_decay_param_groups
    "groups_decay_everything": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
''', "test_no_decay_param_groups"),
    "groups_drop_the_no_decay_parameters": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    return [{"params": [p for p in model.parameters() if p.dim() >= 2],
             "weight_decay": weight_decay}]
''', "test_no_decay_param_groups"),
    "groups_duplicate_weights": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    return [{"params": [p for p in model.parameters() if p.dim() >= 2],
             "weight_decay": weight_decay},
            {"params": list(model.parameters()), "weight_decay": 0.0}]
''', "test_no_decay_param_groups"),
    "groups_by_name_decay_norm_weights": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    named = list(model.named_parameters())
    return [{"params": [p for n, p in named if not n.endswith("bias")], "weight_decay": weight_decay},
            {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0}]
''', "test_no_decay_param_groups"),
    "groups_only_linear_layers": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    decay, rest = [], []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            decay.append(m.weight)
            if m.bias is not None:
                rest.append(m.bias)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0}]
''', "test_no_decay_param_groups"),
    "groups_no_decay_group_unstated": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    return [{"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if p.dim() < 2]}]
''', "test_no_decay_param_groups"),
    "groups_hold_copies": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    import copy
    clone = copy.deepcopy(model)
    return [{"params": [p for p in clone.parameters() if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in clone.parameters() if p.dim() < 2], "weight_decay": 0.0}]
''', "test_no_decay_param_groups"),
    "groups_decay_swapped": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    return [{"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": 0.0}]
''', "test_no_decay_param_groups"),
    "groups_top_level_children_only": ("no_decay_param_groups", '''
def no_decay_param_groups(model, weight_decay):
    decay, rest = [], []
    for m in model.children():
        for p in m.parameters(recurse=False):
            (decay if p.dim() >= 2 else rest).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0}]
''', "test_no_decay_param_groups"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, ALSO_CORRECT)
