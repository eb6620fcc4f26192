"""Chapter 1's exercise through the real autograder: wrong code loses points, right code doesn't."""

from grading import chapter_grading_tests

ASSIGNMENT = "ch01_diagnosis"

# Correct, and written differently from the solution notebook.
CORRECT = {
    "accuracy": '''
def accuracy(logits, labels):
    import numpy as np
    z, y = logits.detach().numpy(), labels.numpy()
    return float(np.mean(np.argmax(z, axis=1) == y))
''',
    "train_one_epoch": '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train(True)
    n = loss_sum = right = 0
    for batch in loader:
        x, y = batch
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        n += y.shape[0]
        loss_sum += float(loss) * y.shape[0]
        right += int((out.argmax(-1) == y).sum())
    return (loss_sum / n, right / n)
''',
    "evaluate": '''
def evaluate(model, loader, loss_fn):
    model.train(False)
    with torch.inference_mode():
        parts = [(loss_fn(model(x), y).item() * len(y), (model(x).argmax(1) == y).sum().item(), len(y))
                 for x, y in loader]
    n = sum(p[2] for p in parts)
    return sum(p[0] for p in parts) / n, sum(p[1] for p in parts) / n
''',
    "diagnose": '''
def diagnose(train_acc, val_acc, target):
    for ok, verdict in ((train_acc >= target, "training"), (val_acc >= target, "overfitting")):
        if not ok:
            return verdict
    return "done"
''',
}


WRONG = {
    "accuracy_counts_rows": ("accuracy", '''
def accuracy(logits, labels):
    return float((logits.argmax(dim=1) == labels).sum())
''', "test_accuracy"),
    "accuracy_returns_tensor": ("accuracy", '''
def accuracy(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean()
''', "test_accuracy"),
    "accuracy_argmax_over_rows": ("accuracy", '''
def accuracy(logits, labels):
    return (logits.argmax(dim=0)[:len(labels)] == labels).float().mean().item()
''', "test_accuracy"),
    "train_forgets_zero_grad": ("train_one_epoch", '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train()
    total, right, n = 0.0, 0, 0
    for x, y in loader:
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y); right += (out.argmax(1) == y).sum().item(); n += len(y)
    return total / n, right / n
''', "test_train_one_epoch"),
    "train_forgets_train_mode": ("train_one_epoch", '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    total, right, n = 0.0, 0, 0
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y); right += (out.argmax(1) == y).sum().item(); n += len(y)
    return total / n, right / n
''', "test_train_one_epoch"),
    "train_unweighted_mean_loss": ("train_one_epoch", '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train()
    losses, right, n = [], 0, 0
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item()); right += (out.argmax(1) == y).sum().item(); n += len(y)
    return sum(losses) / len(losses), right / n
''', "test_train_one_epoch"),
    "train_accuracy_from_second_pass": ("train_one_epoch", '''
def train_one_epoch(model, loader, loss_fn, optimizer):
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y); n += len(y)
    with torch.no_grad():
        right = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return total / n, right / n
''', "test_train_one_epoch"),
    "evaluate_forgets_eval_mode": ("evaluate", '''
def evaluate(model, loader, loss_fn):
    total, right, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            total += loss_fn(out, y).item() * len(y); right += (out.argmax(1) == y).sum().item(); n += len(y)
    return total / n, right / n
''', "test_evaluate"),
    "evaluate_tracks_gradients": ("evaluate", '''
def evaluate(model, loader, loss_fn):
    model.eval()
    total, right, n = 0.0, 0, 0
    for x, y in loader:
        out = model(x)
        total += loss_fn(out, y).item() * len(y); right += (out.argmax(1) == y).sum().item(); n += len(y)
    return total / n, right / n
''', "test_evaluate"),
    "evaluate_unweighted_mean_loss": ("evaluate", '''
def evaluate(model, loader, loss_fn):
    model.eval()
    losses, right, n = [], 0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            losses.append(loss_fn(out, y).item()); right += (out.argmax(1) == y).sum().item(); n += len(y)
    return sum(losses) / len(losses), right / n
''', "test_evaluate"),
    "diagnose_checks_validation_first": ("diagnose", '''
def diagnose(train_acc, val_acc, target):
    if val_acc < target:
        return "overfitting"
    if train_acc < target:
        return "training"
    return "done"
''', "test_diagnose"),
    "diagnose_equal_is_not_enough": ("diagnose", '''
def diagnose(train_acc, val_acc, target):
    if train_acc <= target:
        return "training"
    if val_acc <= target:
        return "overfitting"
    return "done"
''', "test_diagnose"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, only_target=True)
