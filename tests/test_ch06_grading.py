"""Chapter 6's exercise through the real autograder: known-wrong splits and early stoppers lose
points, correct but differently written ones keep full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch06_early_stopping"

# Correct, but unlike the solution notebook: a boolean mask from rng.choice and sorted parts;
# an early stopper that counts epochs with a list of losses, keeps the whole model deep-copied
# and returns a NumPy bool.
CORRECT = {
    "train_val_split": '''
def train_val_split(n, val_fraction, rng):
    k = int(np.round(n * val_fraction))        # NumPy also rounds halves to even
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    everything = np.arange(n)
    return everything[~mask], everything[mask]
''',
    "EarlyStopping": '''
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.history = []
        self._best_model = None

    def step(self, val_loss, model=None):
        self.history.append(float(val_loss))
        epoch = len(self.history) - 1
        if epoch == 0 or self.best_loss - val_loss > self.min_delta:
            self.best_loss, self.best_epoch = float(val_loss), epoch
            if model is not None:
                self._best_model = copy.deepcopy(model)
        return np.bool_(epoch - self.best_epoch >= self.patience)

    def restore(self, model):
        model.load_state_dict(self._best_model.state_dict())
''',
}

ALSO_CORRECT = {
    "split_with_setdiff": ("train_val_split", '''
def train_val_split(n, val_fraction, rng):
    val = rng.permutation(n)[:round(val_fraction * n)]
    return np.setdiff1d(np.arange(n), val), np.sort(val)
'''),
    "split_as_list_of_shuffled": ("train_val_split", '''
def train_val_split(n, val_fraction, rng):
    idx = np.arange(n)
    rng.shuffle(idx)
    cut = n - round(n * val_fraction)
    return [idx[:cut], idx[cut:]]
'''),
    "early_stopping_clones_tensors": ("EarlyStopping", '''
import math

class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = None
        self.calls = 0
        self.wait = 0
        self.snapshot = {}

    def step(self, val_loss, model=None):
        epoch = self.calls
        self.calls += 1
        improved = val_loss < self.best_loss - self.min_delta
        if improved:
            self.best_loss, self.best_epoch, self.wait = val_loss, epoch, 0
            if model is not None:
                self.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        return self.wait == self.patience or self.wait > self.patience

    def restore(self, model):
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(self.snapshot[k])
'''),
}

_ES = '''
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.epoch, self.bad = float("inf"), -1, -1, 0
        self.state = None

    def step(self, val_loss, model=None):
        self.epoch += 1
        if {improved}:
            self.best_loss, self.best_epoch = val_loss, {epoch}
            {reset}
            if model is not None:
                self.state = {save}
        else:
            {worse}
        return {stop}

    def restore(self, model):
        {restore}
'''
_RIGHT = dict(improved="val_loss < self.best_loss - self.min_delta", epoch="self.epoch",
              reset="self.bad = 0", save="copy.deepcopy(model.state_dict())",
              worse="self.bad += 1", stop="self.bad >= self.patience",
              restore="model.load_state_dict(self.state)")


def _es(**changes):
    return _ES.format(**{**_RIGHT, **changes})


def _split(body):
    return f'''
def train_val_split(n, val_fraction, rng):
{body}
'''


WRONG = {
    # train_val_split
    "split_not_disjoint": ("train_val_split", _split('''
    val = rng.permutation(n)[:round(n * val_fraction)]
    return np.arange(n), val
'''), "test_train_val_split"),
    "split_sampled_with_replacement": ("train_val_split", _split('''
    k = round(n * val_fraction)
    val = rng.integers(0, n, size=k)
    return np.setdiff1d(np.arange(n), val), val
'''), "test_train_val_split"),
    "split_rounds_down": ("train_val_split", _split('''
    order = rng.permutation(n)
    k = int(n * val_fraction)
    return order[k:], order[:k]
'''), "test_train_val_split"),
    "split_rounds_half_up": ("train_val_split", _split('''
    order = rng.permutation(n)
    k = int(n * val_fraction + 0.5)
    return order[k:], order[:k]
'''), "test_train_val_split"),
    "split_ignores_rng": ("train_val_split", _split('''
    order = np.random.permutation(n)
    k = round(n * val_fraction)
    return order[k:], order[:k]
'''), "test_train_val_split"),
    "split_new_generator_inside": ("train_val_split", _split('''
    order = np.random.default_rng(0).permutation(n)
    k = round(n * val_fraction)
    return order[k:], order[:k]
'''), "test_train_val_split"),
    "split_not_shuffled": ("train_val_split", _split('''
    k = round(n * val_fraction)
    return np.arange(k, n), np.arange(k)
'''), "test_train_val_split"),
    "split_random_offset_only": ("train_val_split", _split('''
    k = round(n * val_fraction)
    order = np.roll(np.arange(n), int(rng.integers(n)))
    return order[k:], order[:k]
'''), "test_train_val_split"),
    "split_parts_swapped": ("train_val_split", _split('''
    order = rng.permutation(n)
    k = round(n * val_fraction)
    return order[:k], order[k:]
'''), "test_train_val_split"),
    "split_float_indices": ("train_val_split", _split('''
    order = rng.permutation(n).astype(float)
    k = round(n * val_fraction)
    return order[k:], order[:k]
'''), "test_train_val_split"),
    # EarlyStopping: the counting rule
    "es_less_or_equal": ("EarlyStopping",
                         _es(improved="val_loss <= self.best_loss - self.min_delta"),
                         "test_early_stopping_steps"),
    "es_ignores_min_delta": ("EarlyStopping", _es(improved="val_loss < self.best_loss"),
                             "test_early_stopping_steps"),
    "es_min_delta_wrong_sign": ("EarlyStopping",
                                _es(improved="val_loss < self.best_loss + self.min_delta"),
                                "test_early_stopping_steps"),
    "es_counter_not_reset": ("EarlyStopping", _es(reset="pass"), "test_early_stopping_steps"),
    "es_stops_one_epoch_late": ("EarlyStopping", _es(stop="self.bad > self.patience"),
                                "test_early_stopping_steps"),
    "es_stops_one_epoch_early": ("EarlyStopping", _es(stop="self.bad >= self.patience - 1"),
                                 "test_early_stopping_steps"),
    "es_best_epoch_one_based": ("EarlyStopping", _es(epoch="self.epoch + 1"),
                                "test_early_stopping_steps"),
    "es_best_loss_moves_without_improvement": ("EarlyStopping", _es(
        worse="self.bad += 1\n            self.best_loss = min(self.best_loss, val_loss)"),
        "test_early_stopping_steps"),
    "es_compares_with_last_loss": ("EarlyStopping", _es(
        improved="val_loss < getattr(self, 'last', float('inf')) - self.min_delta",
        worse="self.bad += 1\n        self.last = val_loss",
        reset="self.bad = 0\n            self.last = val_loss"),
        "test_early_stopping_steps"),
    "es_shared_class_state": ("EarlyStopping", '''
class EarlyStopping:
    record = {"best_loss": float("inf"), "best_epoch": -1, "epoch": -1, "bad": 0, "state": None}

    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta

    def __getattr__(self, name):
        return EarlyStopping.record[name]

    def step(self, val_loss, model=None):
        r = EarlyStopping.record
        r["epoch"] += 1
        if val_loss < r["best_loss"] - self.min_delta:
            r.update(best_loss=val_loss, best_epoch=r["epoch"], bad=0)
            if model is not None:
                r["state"] = copy.deepcopy(model.state_dict())
        else:
            r["bad"] += 1
        return r["bad"] >= self.patience

    def restore(self, model):
        model.load_state_dict(EarlyStopping.record["state"])
''', "test_early_stopping_steps"),
    # EarlyStopping: what restore gives back
    "es_keeps_reference_not_copy": ("EarlyStopping", _es(save="model.state_dict()"),
                                    "test_early_stopping_restore"),
    "es_shallow_copy_of_state_dict": ("EarlyStopping", _es(save="dict(model.state_dict())"),
                                      "test_early_stopping_restore"),
    "es_forgets_buffers": ("EarlyStopping", _es(
        save="{n: p.detach().clone() for n, p in model.named_parameters()}",
        restore="model.load_state_dict(self.state, strict=False)"),
        "test_early_stopping_restore"),
    "es_saves_latest_model": ("EarlyStopping", _es(
        worse="self.bad += 1\n            if model is not None:\n"
              "                self.state = copy.deepcopy(model.state_dict())"),
        "test_early_stopping_restore"),
    "es_restore_does_nothing": ("EarlyStopping", _es(restore="pass"),
                                "test_early_stopping_restore"),
}

results, test_correct_implementations_keep_full_marks, \
    test_known_wrong_implementation_loses_points = chapter_grading_tests(
        ASSIGNMENT, CORRECT, WRONG, ALSO_CORRECT)
