"""Tasks and on-device data generation for the Neural GPU.

Implements the task family of Kaiser & Sutskever (2015, "Neural GPUs Learn
Algorithms") and the failure-case families of Price, Zaremba & Sutskever (2016,
"Extensions and Limitations of the Neural GPU").

Vocabulary (shared by every task, so one model can train on several bases and
be transferred between tasks):

  * ``0`` is padding (ignored by the loss; the model masks its state there),
  * digit ``d`` (``0 <= d < 16``) is symbol ``d + 1`` (``1..16``),
  * ``PLUS = 17`` and ``TIMES = 18`` are the operator symbols,
  * ``VOCAB_SIZE = 19``.

Sequence tasks (copy, reverse, dup, sort) use symbols ``1..base`` for their
alphabet ``0..base-1``.

Arithmetic encoding (``add<b>``, ``mul<b>``). An example of length ``L`` uses
``k = (L - 1) // 2`` digits per operand. In the fixed layout (modes
``"uniform"`` and ``"zero_padded"``)::

    input : a_0 .. a_{k-1}  OP  b_0 .. b_{k-1}      (2k+1 symbols)
    target: c_0 .. c_{2k}                           (2k+1 symbols)

little-endian (least significant digit first), each digit stored as
``digit + 1``; ``c = a + b`` or ``a * b`` zero-extended to ``2k + 1`` digits
(a sum of two k-digit numbers has at most ``k + 1`` digits, a product at most
``2k``). Positions ``>= 2k + 1`` are padding (0 in both rows). An even ``L``
therefore behaves exactly like ``L - 1``: its last position is padding.

Operand modes (static):

  * ``"uniform"``: every digit of both operands uniform in ``0..base-1``
    (leading zeros allowed), as in the original code.
  * ``"zero_padded"``: each operand independently gets ``p`` significant
    digits, ``p`` uniform in ``[1, k]``; digit ``p - 1`` is non-zero when
    ``p > 1``; digits ``p..k-1`` are leading zeros. Same layout as uniform.
    This is the "000..002 x 000..001" family.
  * ``"unpadded"``: operands ``a`` and ``b`` with ``p`` and ``q``
    significant digits (each uniform in ``[1, k]``, top digit non-zero when
    the length is above 1) written without leading zeros::

        input : a_0 .. a_{p-1}  OP  b_0 .. b_{q-1}   (n = p+q+1 symbols)
        target: c_0 .. c_{n-1}                       (n symbols)

    The result always fits in ``n`` digits (``a*b < base**(p+q)``), so the
    target covers exactly the input's positions; positions ``>= n`` are
    padding in both rows. ``L`` only bounds ``p, q <= k``.

Invariant for every task and mode: ``targets != 0`` marks exactly the
positions the loss scores, and it is a prefix of each row. For every task but
``dup`` the input is non-zero on the same prefix; ``dup`` has a zero input on
the second half of its target (see below), so a model must take its padding
mask from the targets (or ``lengths``), not from the inputs, to learn ``dup``.

Sequence tasks with length ``L`` (``x`` = ``L`` uniform symbols):

  * ``copy``: target ``x``.
  * ``reverse``: target ``x`` reversed.
  * ``sort``: target ``x`` sorted ascending.
  * ``dup`` (duplicate): with ``m = L // 2`` the input is ``x_0..x_{m-1}``
    followed by zeros, the target is ``x_0..x_{m-1} x_0..x_{m-1}`` (``2m``
    symbols); for odd ``L`` the last position is padding. Needs ``L >= 2``.

The batch generator :func:`make_batch` is a pure JAX function (jittable,
vmappable over keys; ``lengths`` are traced; the base is traced internally, so
one compiled program serves every base of a kind, see
:func:`make_batch_for_base`). Randomness is one ``jax.random.bits`` call per
batch; a uniform value in ``[0, n)`` is a uint32 word mod ``n`` (bias below
``n / 2**32``, at most ``4e-9`` here). Addition is a digit-wise sum
followed by carry propagation with a parallel prefix scan; multiplication is an
exact int32 digit convolution (a block-Toeplitz int32 matrix product),
a few vectorised carry-normalisation rounds and the same prefix scan.
Exactness: a convolution coefficient is at most ``k * (base-1)**2``
(450,000 for base 16 and k = 2000), far below ``2**31``; the computation is in
int32 (not float32, which would also be exact below ``2**24`` on CPU but is not
guaranteed exact on accelerators that run float32 products in TF32).
"""

from __future__ import annotations

from neuralgpu.tasks.vocab import (  # noqa: F401
    _min_length,
    _require_arithmetic,
    PAD,
    DIGIT_OFFSET,
    MAX_BASE,
    MIN_BASE,
    PLUS,
    TIMES,
    VOCAB_SIZE,
    ARITHMETIC_KINDS,
    SEQUENCE_KINDS,
    KINDS,
    MODES,
    DEFAULT_SEQUENCE_BASE,
    TASK_NAMES,
    _ALIASES,
    _CANONICAL,
    _canonical_name,
    ALL_TASK_NAMES,
    _NAME_FORMS,
    _NAME_RE,
    Task,
    _check_base,
    get_task,
    _check_mode,
    _check_pad_to,
    _is_concrete,
)
from neuralgpu.tasks.digits import (  # noqa: F401
    _MAX_CONV_BLOCK,
    _propagate_carries,
    _normalisation_rounds,
    _digits_to_result,
    _add_digits,
    _convolve_digits,
    _mul_digits,
)
from neuralgpu.tasks.generate import (  # noqa: F401
    _uniform_below,
    _random_operand,
    _arithmetic_example,
    _encode_digits,
    HARD_FAMILIES,
    _HARD_WORDS,
    _hard_operands,
    _hard_example,
    _make_hard_batch_jit,
    make_hard_batch,
    _sequence_example,
    _random_words,
    _example_from_bits,
    make_example,
    _validate_static,
    _validate_lengths,
    _make_batch_impl,
    _make_batch_jit,
    make_batch,
    make_batch_for_base,
    sample_lengths,
    target_mask,
)
from neuralgpu.tasks.codec import (  # noqa: F401
    int_to_digits,
    digits_to_int,
    encode_example,
    encode_question,
    _prefix_length,
    _symbols_to_digits,
    decode_example,
    TARGET_FORMS,
    strip_high_zeros,
    decode_stripped,
    decode_answer,
)
from neuralgpu.tasks.failure_cases import (  # noqa: F401
    _rng,
    _random_int_below,
    _stack,
    carry_chain_batch,
    same_digit_stretch_batch,
    zero_padded_small,
)
