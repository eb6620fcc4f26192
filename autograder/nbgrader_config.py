"""nbgrader configuration for this course: sources in solutions/, student notebooks in exercises/.

nbgrader reads the ``nbgrader_config.py`` of its working directory: ``python -m autograder
release`` runs ``nbgrader generate_assignment`` here, and instructors who want nbgrader's own
commands (formgrader, ``nbgrader export --db ...``) run them from this folder too.
"""
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file
c.CourseDirectory.root = str(Path(__file__).resolve().parent.parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
