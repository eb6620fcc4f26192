"""The course's autograder and release tool.

``python -m autograder grade SUBMISSIONS --out OUT`` grades a folder of nbgrader-style
submissions against the source notebooks in ``solutions/``; ``python -m autograder release``
regenerates the student notebooks in ``exercises/``. See README.md, "For instructors".
"""

from pathlib import Path

#: the folder that holds this ``autograder`` and its ``dltips``: every process the grader starts
#: imports both from here (PYTHONPATH), whatever else its environment would find (another
#: checkout installed into the same venv, say)
PROJECT = Path(__file__).resolve().parent.parent
