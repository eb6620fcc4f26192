"""Shared code for the Deep Learning Training Tips course.

One module per concern, used by the book chapters, the exercise notebooks and the tests:

- ``data``      digits and synthetic data sets, train/validation/test splits, loaders
- ``models``    small MLP builders with a choice of activation
- ``training``  the reference training loop and the history it records
- ``plotting``  the course's figure helpers
- ``widgets``   live ipywidgets demos that also leave a static figure in the HTML book
- ``gradcheck`` numeric gradients for checking hand-written backward passes
- ``checks``    assertion helpers with readable messages, for exercise tests
"""

__version__ = "0.1.0"
