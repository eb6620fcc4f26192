"""The course's autograder and release tool.

``python -m autograder grade SUBMISSIONS --out OUT`` grades a folder of nbgrader-style
submissions against the source notebooks in ``solutions/``; ``python -m autograder release``
regenerates the student notebooks in ``exercises/``. See README.md, "For instructors".
"""
