"""What the reader and the instructor touch (every chapter): figures, explorers, exercises, assignments.

Plotting helpers that only draw (:mod:`~attnlib.teaching.plots`), the
interactive explorers (:mod:`~attnlib.teaching.explorers`), the exercise
checkers (:mod:`~attnlib.teaching.exercises`) and the student/instructor split
of the chapters (:mod:`~attnlib.teaching.assignments`), the numbers the
prose quotes (:mod:`~attnlib.teaching.prose`), and the front matter's data: which
chapter needs which (:mod:`~attnlib.teaching.chapter_map`) and each exercise's
difficulty and time (:mod:`~attnlib.teaching.exercise_catalogue`). The top part: it may
import every other part, and none imports it.
The subpackages are imported on demand (``from attnlib.teaching.plots import
...``), so ``import attnlib`` never loads matplotlib's pyplot or nbformat.
"""

__all__ = ["plots", "explorers", "exercises", "assignments", "prose", "chapter_map", "exercise_catalogue"]
