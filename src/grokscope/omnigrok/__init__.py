"""Omnigrok's LU mechanism (Liu, Michaud & Tegmark 2022, "Omnigrok: Grokking Beyond Algorithmic Data").

The (α, N) landscape on digits trained at fixed weight norm as one ensemble (``run_landscape``),
its loss-versus-norm "L" (train) and "U" (test) curves and Goldilocks zone (``lu_curves``,
``goldilocks``), the test-error map over (α, N) (``error_map``), and the teacher–student time to
generalize against weight decay with its fitted law (``run_teacher_student``, ``time_law``), and
the memorization-versus-generalization steps of any run (``generalization_lag``).
Figures on a matplotlib ``Figure``: ``lu_figure``, ``contour_figure``, ``time_law_figure``.

>>> from grokscope.omnigrok import LandscapeSpec
>>> len(LandscapeSpec().grid())    # 10 init scales x 10 training-set sizes x 3 seeds
300
"""

from grokscope.omnigrok._curves import (
    ErrorMap,
    Goldilocks,
    LUCurve,
    error_map,
    goldilocks,
    lu_curves,
    summarize,
)
from grokscope.omnigrok._figures import contour_figure, lu_figure, time_law_figure
from grokscope.omnigrok._lag import Lag, generalization_lag
from grokscope.omnigrok._landscape import (
    DEFAULT_ALPHAS,
    DEFAULT_TRAIN_COUNTS,
    Landscape,
    LandscapePoint,
    LandscapeSpec,
    initial_norms,
    landscape_config,
    run_landscape,
)
from grokscope.omnigrok._teacher_student import (
    Teacher,
    TeacherStudentConfig,
    TeacherStudentResult,
    first_reach,
    make_teacher,
    run_teacher_student,
    time_law,
)

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_TRAIN_COUNTS",
    "ErrorMap",
    "Goldilocks",
    "LUCurve",
    "Lag",
    "Landscape",
    "LandscapePoint",
    "LandscapeSpec",
    "Teacher",
    "TeacherStudentConfig",
    "TeacherStudentResult",
    "contour_figure",
    "error_map",
    "first_reach",
    "generalization_lag",
    "goldilocks",
    "initial_norms",
    "landscape_config",
    "lu_curves",
    "lu_figure",
    "make_teacher",
    "run_landscape",
    "run_teacher_student",
    "summarize",
    "time_law",
    "time_law_figure",
]
