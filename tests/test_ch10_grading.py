"""Chapter 10's exercise through the real autograder: known-wrong standardisers and weight
initialisers lose points, correct but differently written ones keep full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch10_preprocessing_init"

# Correct, and written differently from the solution notebook: statistics by hand with var**0.5
# and a boolean mask for zero std, a flag for "fitted", transposed draws for the weights.
CORRECT = {
    "Standardizer": '''
class Standardizer:
    def __init__(self):
        self._fitted = False

    def fit(self, X):
        X = np.array(X, dtype=float)
        self.center = X.sum(axis=0) / X.shape[0]
        var = ((X - self.center) ** 2).mean(axis=0)
        scale = var ** 0.5
        scale[scale == 0] = 1.0
        self.scale = scale
        self._fitted = True
        return self

    def transform(self, X):
        if not self._fitted:
            raise ValueError("Standardizer must be fitted: call fit(X) before transform(X)")
        out = np.array(X, dtype=float, copy=True)
        out -= self.center
        out /= self.scale
        return out

    def fit_transform(self, X):
        self.fit(X)
        return self.transform(X)
''',
    "xavier_uniform": '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    limit = gain * (6 / (fan_in + fan_out)) ** 0.5
    return (2 * rng.random((fan_out, fan_in)) - 1).T * limit
''',
    "xavier_normal": '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    return rng.standard_normal((fan_in, fan_out)) * (gain * np.sqrt(2 / (fan_in + fan_out)))
''',
    "he_normal": '''
def he_normal(fan_in, fan_out, rng):
    return np.sqrt(2 / fan_in) * rng.standard_normal(size=(fan_in, fan_out))
''',
}

ALSO_CORRECT = {
    "standardizer_np_where_and_sklearn_like_names": ("Standardizer", '''
class Standardizer:
    mean_ = None

    def fit(self, X):
        self.mean_ = np.mean(X, axis=0)
        self.scale_ = np.where(np.std(X, axis=0) > 0, np.std(X, axis=0), 1)
        return self

    def transform(self, X):
        if self.mean_ is None:
            raise RuntimeError("not fitted yet: call fit first")
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X):
        return self.fit(X).transform(X)
'''),
    "standardizer_with_notfittederror_and_keepdims": ("Standardizer", '''
class Standardizer:
    def transform(self, X):
        if not hasattr(self, "mu"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError("This Standardizer is not fitted yet. Call 'fit' first.")
        return (np.asarray(X, float) - self.mu) / self.sd

    def fit(self, X):
        X = np.asarray(X, float)
        self.mu = X.mean(axis=0, keepdims=True)
        sd = X.std(axis=0, ddof=0, keepdims=True)
        sd[sd == 0.0] = 1.0
        self.sd = sd
        return self

    def fit_transform(self, X):
        return self.fit(X).transform(X)
'''),
    "xavier_uniform_via_torch_seeded_from_rng": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    import torch
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(w, gain=gain, generator=g)
    return w.T.contiguous().numpy()
'''),
    "xavier_normal_via_torch_seeded_from_rng": ("xavier_normal", '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    import torch
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.nn.init.xavier_normal_(w, gain=gain, generator=g)
    return w.numpy().T.copy()
'''),
    "he_normal_via_torch_kaiming": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    import torch
    g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g)
    return np.ascontiguousarray(w.numpy().T)
'''),
    "he_normal_variance_form": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    var = 2.0 / fan_in
    return rng.normal(loc=0.0, scale=var ** 0.5, size=(fan_in, fan_out)).astype(np.float64)
'''),
}

_STANDARDIZER = '''
class Standardizer:
    def __init__(self):
        self.mean = None

    def fit(self, X):
        self.mean = X.mean(axis=0)
        std = X.std(axis=0{ddof})
        self.std = {scale}
        {ret}

    def transform(self, X):
        if self.mean is None:
            raise RuntimeError("call fit first")
        {transform}

    def fit_transform(self, X):
        self.fit(X)
        return self.transform(X)
'''


def standardizer(ddof="", scale="np.where(std == 0, 1.0, std)", ret="return self",
                 transform="return (X - self.mean) / self.std"):
    return _STANDARDIZER.format(ddof=ddof, scale=scale, ret=ret, transform=transform)


WRONG = {
    # Standardizer
    "standardizer_transform_refits_on_test_data": ("Standardizer", standardizer(
        transform="std = X.std(axis=0)\n"
                  "        return (X - X.mean(axis=0)) / np.where(std == 0, 1.0, std)"),
        "test_standardizer"),
    "standardizer_ddof_1": ("Standardizer", standardizer(
        ddof=", ddof=1", scale="np.where(std == 0, 1.0, std) if len(X) > 1 else np.ones_like(std)"),
        "test_standardizer"),
    "standardizer_divides_by_zero_std": ("Standardizer", standardizer(scale="std"),
                                         "test_standardizer"),
    "standardizer_zero_std_gives_zeros": ("Standardizer", standardizer(
        scale="std",
        transform="return np.nan_to_num((X - self.mean) / self.std, nan=0.0, posinf=0.0, "
                  "neginf=0.0)"),
        "test_standardizer"),
    "standardizer_zero_std_scaled_by_epsilon": ("Standardizer", standardizer(
        scale="std + 1e-8"), "test_standardizer"),
    "standardizer_fit_returns_none": ("Standardizer", standardizer(ret="pass"),
                                      "test_standardizer"),
    "standardizer_fit_returns_a_copy": ("Standardizer", standardizer(
        ret="import copy\n        return copy.deepcopy(self)"), "test_standardizer"),
    "standardizer_only_centres": ("Standardizer", standardizer(
        transform="return X - self.mean"), "test_standardizer"),
    "standardizer_min_max_scaling": ("Standardizer", '''
class Standardizer:
    def fit(self, X):
        self.low, self.high = X.min(axis=0), X.max(axis=0)
        self.span = np.where(self.high > self.low, self.high - self.low, 1.0)
        return self

    def transform(self, X):
        if not hasattr(self, "low"):
            raise RuntimeError("call fit first")
        return (X - self.low) / self.span

    def fit_transform(self, X):
        return self.fit(X).transform(X)
''', "test_standardizer"),
    "standardizer_statistics_over_rows": ("Standardizer", '''
class Standardizer:
    def fit(self, X):
        self.mean = X.mean()
        self.std = X.std() or 1.0
        return self

    def transform(self, X):
        if not hasattr(self, "mean"):
            raise RuntimeError("call fit first")
        return (X - self.mean) / self.std

    def fit_transform(self, X):
        return self.fit(X).transform(X)
''', "test_standardizer"),
    "standardizer_no_error_before_fit": ("Standardizer", '''
class Standardizer:
    def __init__(self):
        self.mean, self.std = 0.0, 1.0

    def fit(self, X):
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std == 0, 1.0, std)
        return self

    def transform(self, X):
        return (X - self.mean) / self.std

    def fit_transform(self, X):
        return self.fit(X).transform(X)
''', "test_standardizer"),
    "standardizer_attribute_error_before_fit": ("Standardizer", '''
class Standardizer:
    def fit(self, X):
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std == 0, 1.0, std)
        return self

    def transform(self, X):
        return (X - self.mean) / self.std

    def fit_transform(self, X):
        return self.fit(X).transform(X)
''', "test_standardizer"),
    "standardizer_statistics_in_class_attributes": ("Standardizer", '''
class Standardizer:
    mean = None
    std = None

    def fit(self, X):
        Standardizer.mean = X.mean(axis=0)
        std = X.std(axis=0)
        Standardizer.std = np.where(std == 0, 1.0, std)
        return self

    def transform(self, X):
        if Standardizer.mean is None:
            raise RuntimeError("call fit first")
        return (X - Standardizer.mean) / Standardizer.std

    def fit_transform(self, X):
        return self.fit(X).transform(X)
''', "test_standardizer"),
    # xavier_uniform / xavier_normal
    "xavier_uniform_bound_sqrt_3": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * np.sqrt(3.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_uniform_ignores_gain": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_uniform_gain_under_the_root": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = np.sqrt(6.0 * gain / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_uniform_transposed_shape": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in))
''', "test_xavier"),
    "xavier_uniform_is_normal": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    return rng.normal(0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_uniform_fan_in_only": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * np.sqrt(3.0 / fan_in)
    return rng.uniform(-a, a, size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_uniform_global_random_state": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-a, a, size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_uniform_float32": ("xavier_uniform", '''
def xavier_uniform(fan_in, fan_out, rng, gain=1.0):
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out)).astype(np.float32)
''', "test_xavier"),
    "xavier_normal_ignores_gain": ("xavier_normal", '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_normal_variance_as_std": ("xavier_normal", '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    return rng.normal(0.0, gain * 2.0 / (fan_in + fan_out), size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_normal_transposed_shape": ("xavier_normal", '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    return rng.normal(0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))
''', "test_xavier"),
    "xavier_normal_fixed_seed": ("xavier_normal", '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    rng = np.random.default_rng(0)
    return rng.normal(0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))
''', "test_xavier"),
    "xavier_normal_truncated": ("xavier_normal", '''
def xavier_normal(fan_in, fan_out, rng, gain=1.0):
    std = gain * np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978
    w = rng.normal(0.0, std, size=(fan_in, fan_out))
    bad = np.abs(w) > 2 * std
    while bad.any():
        w[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(w) > 2 * std
    return w
''', "test_xavier"),
    # he_normal
    "he_scaled_by_fan_out": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_out), size=(fan_in, fan_out))
''', "test_he_normal"),
    "he_without_the_factor_2": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=(fan_in, fan_out))
''', "test_he_normal"),
    "he_variance_as_std": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, 2.0 / fan_in, size=(fan_in, fan_out))
''', "test_he_normal"),
    "he_truncated_keras_style": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    # Keras' he_normal: a normal truncated at 2 std, its std corrected to keep the variance
    std = np.sqrt(2.0 / fan_in) / 0.87962566103423978
    w = rng.normal(0.0, std, size=(fan_in, fan_out))
    bad = np.abs(w) > 2 * std
    while bad.any():
        w[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(w) > 2 * std
    return w
''', "test_he_normal"),
    "he_uniform_instead_of_normal": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, size=(fan_in, fan_out))
''', "test_he_normal"),
    "he_transposed_shape": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
''', "test_he_normal"),
    "he_global_random_state": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    return np.random.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)
''', "test_he_normal"),
    "he_fixed_seed": ("he_normal", '''
def he_normal(fan_in, fan_out, rng):
    return np.random.default_rng(42).normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
''', "test_he_normal"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, also_correct=ALSO_CORRECT, only_target=True)
