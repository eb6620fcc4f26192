"""Chapter 11's exercise through the real autograder: known-wrong schedules, samplers and searches
lose points, correct but differently written ones keep full marks."""
from grading import chapter_grading_tests

ASSIGNMENT = "ch11_tuning"

# Correct, and written differently from the solution notebook: loops and closed forms, numpy
# instead of math, 10 ** u instead of exp(u), rng.choice for the options, a sort-free best.
CORRECT = {
    "step_lr": '''
def step_lr(base_lr, epoch, step_size, gamma):
    lr = base_lr
    for e in range(1, epoch + 1):
        if e % step_size == 0:
            lr *= gamma
    return lr
''',
    "cosine_lr": '''
def cosine_lr(base_lr, epoch, t_max, eta_min=0.0):
    phase = np.pi * epoch / t_max
    return float((base_lr - eta_min) * (np.cos(phase) + 1) / 2 + eta_min)
''',
    "linear_warmup": '''
def linear_warmup(base_lr, epoch, warmup_epochs):
    if epoch >= warmup_epochs - 1:
        return base_lr
    return base_lr * (epoch + 1) / warmup_epochs
''',
    "log_uniform": '''
def log_uniform(low, high, size, rng):
    u = rng.uniform(np.log10(low), np.log10(high), size)
    return 10.0 ** u
''',
    "random_search": '''
def random_search(objective, space, n_trials, rng):
    def draw(spec):
        if spec[0] == "log":
            return float(np.exp(rng.uniform(np.log(spec[1]), np.log(spec[2]))))
        if spec[0] == "uniform":
            return spec[1] + (spec[2] - spec[1]) * rng.random()
        return spec[1][rng.integers(0, len(spec[1]))]
    trials = []
    for _ in range(n_trials):
        config = {name: draw(spec) for name, spec in space.items()}
        trials.append((config, objective(config)))
    best = 0
    for i in range(1, len(trials)):
        if trials[i][1] < trials[best][1]:
            best = i
    return trials[best][0], trials[best][1], trials
''',
}

ALSO_CORRECT = {
    "step_closed_form_with_math_floor": ("step_lr", '''
def step_lr(base_lr, epoch, step_size, gamma):
    import math
    return base_lr * math.pow(gamma, math.floor(epoch / step_size))
'''),
    "cosine_with_sin_squared": ("cosine_lr", '''
def cosine_lr(base_lr, epoch, t_max, eta_min=0.0):
    import math
    # (1 + cos t) / 2 = cos^2(t / 2)
    return eta_min + (base_lr - eta_min) * math.cos(math.pi * epoch / (2 * t_max)) ** 2
'''),
    "warmup_with_numpy_minimum": ("linear_warmup", '''
def linear_warmup(base_lr, epoch, warmup_epochs):
    return np.float64(base_lr) * np.minimum(1.0, (epoch + 1.0) / warmup_epochs)
'''),
    "log_uniform_scipy": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    from scipy import stats
    return stats.loguniform(low, high).rvs(size=size, random_state=rng)
'''),
    "log_uniform_inverse_cdf_of_random": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    return low * (high / low) ** rng.random(size)
'''),
    "search_rng_choice_and_copies": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    import copy
    trials, best_config, best_score = [], None, float("inf")
    for _ in range(n_trials):
        config = {}
        for name in space:
            spec = space[name]
            if spec[0] == "log":
                config[name] = log_uniform(spec[1], spec[2], None, rng)
            elif spec[0] == "uniform":
                config[name] = rng.uniform(spec[1], spec[2])
            else:
                config[name] = rng.choice(spec[1])
        score = objective(config)
        trials.append((config, score))
        if not best_config or score < best_score:
            best_config, best_score = copy.deepcopy(config), score
    return best_config, best_score, trials
'''),
    "search_min_over_trials": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials = []
    for _ in range(n_trials):
        config = dict()
        for name, (kind, *args) in space.items():
            if kind == "choice":
                options = args[0]
                config[name] = options[int(rng.integers(len(options)))]
            elif kind == "log":
                lo, hi = np.log(args[0]), np.log(args[1])
                config[name] = float(np.exp(lo + (hi - lo) * rng.random()))
            else:
                config[name] = float(rng.uniform(*args))
        trials.append((config, objective(config)))
    best_config, best_score = min(trials, key=lambda t: t[1])   # min keeps the first of ties
    return best_config, best_score, trials
'''),
}

WRONG = {
    # step_lr
    "step_decays_one_epoch_early": ("step_lr", '''
def step_lr(base_lr, epoch, step_size, gamma):
    return base_lr * gamma ** ((epoch + 1) // step_size)
''', "test_step_lr"),
    "step_smooth_exponential": ("step_lr", '''
def step_lr(base_lr, epoch, step_size, gamma):
    return base_lr * gamma ** (epoch / step_size)
''', "test_step_lr"),
    "step_one_based_epochs": ("step_lr", '''
def step_lr(base_lr, epoch, step_size, gamma):
    return base_lr * gamma ** ((epoch - 1) // step_size) if epoch > 0 else base_lr
''', "test_step_lr"),
    # cosine_lr
    "cosine_forgets_eta_min": ("cosine_lr", '''
def cosine_lr(base_lr, epoch, t_max, eta_min=0.0):
    return 0.5 * base_lr * (1 + math.cos(math.pi * epoch / t_max))
''', "test_cosine_lr"),
    "cosine_adds_eta_min_without_shrinking": ("cosine_lr", '''
def cosine_lr(base_lr, epoch, t_max, eta_min=0.0):
    return eta_min + 0.5 * base_lr * (1 + math.cos(math.pi * epoch / t_max))
''', "test_cosine_lr"),
    "cosine_full_period": ("cosine_lr", '''
def cosine_lr(base_lr, epoch, t_max, eta_min=0.0):
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(2 * math.pi * epoch / t_max))
''', "test_cosine_lr"),
    "cosine_over_t_max_plus_one": ("cosine_lr", '''
def cosine_lr(base_lr, epoch, t_max, eta_min=0.0):
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / (t_max + 1)))
''', "test_cosine_lr"),
    # linear_warmup
    "warmup_one_epoch_late": ("linear_warmup", '''
def linear_warmup(base_lr, epoch, warmup_epochs):
    return base_lr * min(1.0, epoch / warmup_epochs)
''', "test_linear_warmup"),
    "warmup_keeps_growing": ("linear_warmup", '''
def linear_warmup(base_lr, epoch, warmup_epochs):
    return base_lr * (epoch + 1) / warmup_epochs
''', "test_linear_warmup"),
    "warmup_integer_division": ("linear_warmup", '''
def linear_warmup(base_lr, epoch, warmup_epochs):
    return base_lr * min(1, (epoch + 1) // warmup_epochs)
''', "test_linear_warmup"),
    "warmup_over_w_minus_one": ("linear_warmup", '''
def linear_warmup(base_lr, epoch, warmup_epochs):
    if warmup_epochs == 1:
        return base_lr
    return base_lr * min(1.0, epoch / (warmup_epochs - 1))
''', "test_linear_warmup"),
    # log_uniform
    "log_uniform_sampled_linearly": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    return rng.uniform(low, high, size)
''', "test_log_uniform"),
    "log_uniform_global_random": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    return np.exp(np.random.uniform(np.log(low), np.log(high), size))
''', "test_log_uniform"),
    "log_uniform_fixed_seed": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    fixed = np.random.default_rng(0)
    return np.exp(fixed.uniform(np.log(low), np.log(high), size))
''', "test_log_uniform"),
    "log_uniform_log_of_uniform_draw": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    return np.exp(np.log(rng.uniform(low, high, size)))
''', "test_log_uniform"),
    "log_uniform_normal_on_log_scale": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    a, b = np.log(low), np.log(high)
    return np.exp(np.clip(rng.normal((a + b) / 2, (b - a) / 4, size), a, b))
''', "test_log_uniform"),
    "log_uniform_one_value_repeated": ("log_uniform", '''
def log_uniform(low, high, size, rng):
    return np.full(size, np.exp(rng.uniform(np.log(low), np.log(high))))
''', "test_log_uniform"),
    # random_search
    "search_maximises": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(log_uniform(spec[1], spec[2], 1, rng)[0])
            elif spec[0] == "uniform":
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1])))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score > best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
    "search_keeps_the_last_tie": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(log_uniform(spec[1], spec[2], 1, rng)[0])
            elif spec[0] == "uniform":
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1])))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score <= best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
    "search_calls_objective_once_more": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials = []
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(log_uniform(spec[1], spec[2], 1, rng)[0])
            elif spec[0] == "uniform":
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1])))]
        trials.append((config, objective(config)))
    best_config = min(trials, key=lambda t: t[1])[0]
    return best_config, objective(best_config), trials   # evaluates the best once more
''', "test_random_search"),
    "search_reuses_one_dict": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    config = {}
    for _ in range(n_trials):
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(log_uniform(spec[1], spec[2], 1, rng)[0])
            elif spec[0] == "uniform":
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1])))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score < best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
    "search_log_entries_sampled_linearly": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if spec[0] in ("log", "uniform"):
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1])))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score < best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
    "search_never_draws_the_last_option": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(log_uniform(spec[1], spec[2], 1, rng)[0])
            elif spec[0] == "uniform":
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1]) - 1))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score < best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
    "search_global_random": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(np.exp(np.random.uniform(np.log(spec[1]), np.log(spec[2]))))
            elif spec[0] == "uniform":
                config[name] = float(np.random.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(np.random.randint(len(spec[1])))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score < best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
    "search_one_trial_too_many": ("random_search", '''
def random_search(objective, space, n_trials, rng):
    trials, best = [], None
    for _ in range(n_trials + 1):
        config = {}
        for name, spec in space.items():
            if spec[0] == "log":
                config[name] = float(log_uniform(spec[1], spec[2], 1, rng)[0])
            elif spec[0] == "uniform":
                config[name] = float(rng.uniform(spec[1], spec[2]))
            else:
                config[name] = spec[1][int(rng.integers(len(spec[1])))]
        score = objective(config)
        trials.append((config, score))
        if best is None or score < best[1]:
            best = (config, score)
    return best[0], best[1], trials
''', "test_random_search"),
}


(results, test_correct_implementations_keep_full_marks,
 test_known_wrong_implementation_loses_points) = chapter_grading_tests(
    ASSIGNMENT, CORRECT, WRONG, also_correct=ALSO_CORRECT, only_target=True)
