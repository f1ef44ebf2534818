"""Where trained Neural GPUs fail: structured suites, adversarial search, saved sets.

Price, Zaremba & Sutskever (2016, "Extensions and Limitations of the Neural GPU",
section 4) show that a Neural GPU trained on random inputs fails on structured ones:
long carry chains, long runs of one digit, and zero-padded small operands
(``000..002 x 000..001``). This package makes such failures a tool:

* **Structured suites** (:func:`structured_suites`): lists of :class:`Case` (operands as
  Python integers, the truth from Python arithmetic) per family:
  ``carry`` (sums of exactly ``base**c``, a carry chain of length ``c``, and the near
  miss ``base**c - 1``), ``run`` (a run of one digit in a, b or both), ``padded``
  (small operands zero-padded to the test length, in either operand position or both),
  ``max`` (all-maximum digits), ``symmetric`` (a op a, and a op reversed(a)) and
  ``talk`` (the talk's 80-digit product, 2 x 1, padded 2 x 1 and 2 x 2).
* :func:`evaluate_cases`: the model's answer, whether it is right and where its first
  wrong digit falls (0 = the least significant digit), per case.
* **Adversarial search** (:func:`search`): a mutation hill-climb in the input space that
  keeps the mutants which raise the model's loss on the true answer (or its number of
  wrong digits), within a time budget; every wrong answer met is kept as a failure.
* :func:`save_cases` / :func:`load_cases`: a failure set as JSON (integers as decimal
  strings, each case's truth checked on load), reusable as a test suite and as a
  training set (``curriculum.adversarial_set``).
"""

from neuralgpu.failures.case_sets import SET_FORMAT, load_cases, save_cases, training_rows
from neuralgpu.failures.scoring import (
    Predictor,
    answer_lines,
    digit_str,
    evaluate_cases,
    first_failing_param,
    score_rows,
    summarise,
)
from neuralgpu.failures.search import search
from neuralgpu.failures.suites import (
    FAMILIES,
    TALK_A,
    TALK_B,
    Case,
    carry_chain_operands,
    carry_positions,
    carry_suite,
    fits,
    max_suite,
    padded_suite,
    run_suite,
    structured_suites,
    symmetric_suite,
    talk_suite,
)

__all__ = [
    "FAMILIES",
    "SET_FORMAT",
    "TALK_A",
    "TALK_B",
    "Case",
    "Predictor",
    "answer_lines",
    "carry_chain_operands",
    "carry_positions",
    "carry_suite",
    "digit_str",
    "evaluate_cases",
    "first_failing_param",
    "fits",
    "load_cases",
    "max_suite",
    "padded_suite",
    "run_suite",
    "save_cases",
    "score_rows",
    "search",
    "structured_suites",
    "summarise",
    "symmetric_suite",
    "talk_suite",
    "training_rows",
]
