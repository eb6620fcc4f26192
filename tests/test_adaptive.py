"""Chapter 4's batch-size demo (dltips.chapters.adaptive.demo_run): the kept runs are those of
minibatch_training, cut to the number of epochs asked for."""
from __future__ import annotations

import pytest
import torch

from dltips.chapters import adaptive

torch.set_num_threads(1)  # small networks: one thread is faster, and the numbers are deterministic


def test_demo_run_is_minibatch_training_cut_to_length():
    full = adaptive.minibatch_training(64, epochs=adaptive.DEMO_EPOCHS, lr=0.1)
    kept = adaptive.demo_run(64, adaptive.DEMO_EPOCHS, 0.1)
    assert kept.update_loss == full.update_loss and kept.epoch_loss == full.epoch_loss
    short = adaptive.minibatch_training(64, epochs=3, lr=0.1)
    cut = adaptive.demo_run(64, 3, 0.1)
    assert cut.update_loss == short.update_loss and cut.epoch_loss == short.epoch_loss
    assert cut.updates_per_epoch == 4 and len(cut.epochs_axis) == len(cut.update_loss)
    longer = adaptive.demo_run(64, adaptive.DEMO_EPOCHS + 2, 0.1)
    assert len(longer.epoch_loss) == adaptive.DEMO_EPOCHS + 3
    assert longer.update_loss[:len(full.update_loss)] == full.update_loss
    with pytest.raises(ValueError, match="epochs"):
        adaptive.demo_run(64, 0, 0.1)
