"""Shared code for the Deep Learning Training Tips course.

The core owns each concept the chapters share, once (chapters import it, it imports no chapter):

- ``data``           digits and synthetic data sets, train/validation/test splits, loaders
- ``models``         MLPs with every hidden layer the course uses (activations, PReLU, maxout),
                     and walks over their layers
- ``initialisation`` whole-network weight initialisation, by ``torch.nn.init``
- ``training``       the training loops (``fit`` with per-epoch history, ``train``) and metrics
- ``optimizers``     ``torch.optim`` optimizers by course name
- ``surfaces``       2-D loss surfaces and the paths ``torch.optim`` takes over them
- ``plotting``       the course's figure helpers
- ``widgets``        live ipywidgets demos that also leave a static figure in the HTML book
- ``gradcheck``      numeric gradients for checking hand-written backward passes
- ``checks``         assertion helpers with readable messages, for exercise tests (stands alone)

``dltips.chapters`` holds each chapter's own experiments and demo computations, one module per
chapter (``diagnosis`` 1, ``gradients`` 2, ``activations`` 3, ``adaptive`` 4, ``landscapes`` 5);
they import the core and never each other. Nothing here answers an exercise. This file imports
no submodule: a notebook imports only the modules it names.
"""

__version__ = "0.1.0"
