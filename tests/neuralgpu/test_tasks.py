"""Tests for neuralgpu.tasks against plain-Python oracles.

Every generated arithmetic example is decoded by a decoder written here and
checked with Python integers; sequence tasks are checked against plain-Python
copy/reverse/dup/sort. Shapes are fixed (batch ``B``, ``PAD_TO``) so each
(kind, mode) compiles once; the base is traced, so one compilation covers all
bases 2..16.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuralgpu import tasks

B = 8
PAD_TO = 21  # operands of up to 10 digits
SEQ_PAD_TO = 13
BIG_PAD_TO = 4001  # operands of 2000 digits
ALL_BASES = list(range(2, 17))
ARITH_KINDS = ("add", "mul")

HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- oracles


def oracle_row(row, base, operator=None):
  """Independent decoder: content prefix, operator position, digit values."""
  row = [int(s) for s in row]
  n = 0
  while n < len(row) and row[n] != 0:
    n += 1
  assert all(s == 0 for s in row[n:]), f"padding is not a suffix: {row}"
  content = row[:n]
  op = None
  if operator is not None:
    assert content.count(operator) == 1, content
    op = content.index(operator)
  return content, op, n


def le_value(symbols, base):
  """Little-endian symbols (digit + 1) to a Python int."""
  assert all(1 <= s <= base for s in symbols), (symbols, base)
  return sum((s - 1) * base**i for i, s in enumerate(symbols))


def check_arith_row(task, mode, length, inp, tgt):
  """Layout and arithmetic of one generated row, with Python ints."""
  base = task.base
  content, op, n = oracle_row(inp, base, task.operator)
  tcontent, _, tn = oracle_row(tgt, base)
  k = (length - 1) // 2
  assert tn == n, (inp, tgt)
  a_sym, b_sym = content[:op], content[op + 1 :]
  if mode in ("uniform", "zero_padded"):
    assert op == k and n == 2 * k + 1, (length, inp)
  else:
    assert 1 <= op <= k and 1 <= len(b_sym) <= k, (length, inp)
    # Written without leading zeros.
    for sym in (a_sym, b_sym):
      assert len(sym) == 1 or sym[-1] != 1, sym
  assert n <= length
  a, b, c = le_value(a_sym, base), le_value(b_sym, base), le_value(tcontent, base)
  expected = a + b if task.kind == "add" else a * b
  assert c == expected, (task.name, mode, a, b, c)
  # The module's decoder agrees with the oracle.
  assert tasks.decode_example(task, inp, tgt) == (a, b, c)
  return a, b, a_sym, b_sym


def carries(a, b, base):
  """Carry out of each operand position of the schoolbook sum, digit sums."""
  outs, sums, carry = [], [], 0
  while a or b:
    s = a % base + b % base
    sums.append(s)
    carry = (s + carry) >= base
    outs.append(int(carry))
    a, b = a // base, b // base
  return outs, sums


def generate(task, lengths, pad_to, mode="uniform", seed=0):
  lengths = np.asarray(lengths, np.int32)
  x, y = tasks.make_batch(jax.random.key(seed), task, lengths, pad_to, mode)
  assert x.shape == y.shape == (len(lengths), pad_to)
  assert x.dtype == y.dtype == jnp.int32
  return np.asarray(x), np.asarray(y)


def fixed_lengths(seed):
  """Mixed odd and even lengths in one batch, always including 3 and PAD_TO."""
  rng = np.random.default_rng(seed)
  return np.concatenate([[3, PAD_TO], rng.integers(3, PAD_TO + 1, B - 2)])


# ---------------------------------------------------------------- registry


def test_vocabulary_constants():
  assert (tasks.PAD, tasks.PLUS, tasks.TIMES, tasks.VOCAB_SIZE) == (0, 17, 18, 19)


@pytest.mark.parametrize(
    "name,kind,base",
    [
        ("badd", "add", 2),
        ("qadd", "add", 4),
        ("add", "add", 10),
        ("bmul", "mul", 2),
        ("qmul", "mul", 4),
        ("mul", "mul", 10),
        ("add5", "add", 5),
        ("mul16", "mul", 16),
        ("copy", "copy", 4),
        ("reverse7", "reverse", 7),
        ("dup", "dup", 4),
        ("sort2", "sort", 2),
    ],
)
def test_get_task(name, kind, base):
  task = tasks.get_task(name)
  assert (task.kind, task.base) == (kind, base)
  assert tasks.get_task(task.name) == task
  hash(task)


def test_aliases_are_equal():
  assert tasks.get_task("add10") == tasks.get_task("add")
  assert tasks.get_task("mul2") == tasks.get_task("bmul")
  assert tasks.get_task("add4").name == "qadd"
  assert tasks.get_task("copy4") == tasks.get_task("copy")
  assert tasks.get_task("add5").name == "add5"
  for name in tasks.TASK_NAMES:
    assert tasks.get_task(name).name == name
  every = {tasks.get_task(name) for name in tasks.ALL_TASK_NAMES}
  assert len(every) == len(tasks.ALL_TASK_NAMES) == 6 * 15
  assert all(tasks.get_task(t.name) == t for t in every)
  assert set(tasks.TASK_NAMES) <= set(tasks.ALL_TASK_NAMES)


@pytest.mark.parametrize(
    "name", ["add1", "mul17", "add0", "copy1", "foo", "badd2", "", "Add", "add 5", "mul-3"]
)
def test_bad_task_names(name):
  with pytest.raises(ValueError, match="Allowed"):
    tasks.get_task(name)
  with pytest.raises(ValueError, match=re.escape(repr(name))):
    tasks.get_task(name)


def test_bad_task_fields():
  with pytest.raises(ValueError, match="17"):
    tasks.Task(name="add17", kind="add", base=17)
  with pytest.raises(ValueError, match="div"):
    tasks.Task(name="div", kind="div", base=10)
  with pytest.raises(ValueError, match="'add'"):
    tasks.Task(name="add10", kind="add", base=10)
  assert tasks.Task(name="add", kind="add", base=10) == tasks.get_task("add10")
  with pytest.raises(ValueError):
    tasks.get_task(10)


# ---------------------------------------------------------------- make_batch


@pytest.mark.parametrize("mode", tasks.MODES)
@pytest.mark.parametrize("kind", ARITH_KINDS)
def test_every_base_every_mode(kind, mode):
  """All 15 bases, both ops, one batch each with mixed lengths."""
  for base in ALL_BASES:
    task = tasks.get_task(f"{kind}{base}")
    lengths = fixed_lengths(base)
    x, y = generate(task, lengths, PAD_TO, mode, seed=base)
    for i, length in enumerate(lengths):
      check_arith_row(task, mode, int(length), x[i], y[i])


@HYP
@given(
    kind=st.sampled_from(ARITH_KINDS),
    base=st.sampled_from(ALL_BASES),
    mode=st.sampled_from(tasks.MODES),
    seed=st.integers(0, 2**31 - 1),
    lengths=st.lists(st.integers(3, PAD_TO), min_size=B, max_size=B),
)
def test_property_arithmetic(kind, base, mode, seed, lengths):
  task = tasks.get_task(f"{kind}{base}")
  x, y = generate(task, lengths, PAD_TO, mode, seed)
  for i, length in enumerate(lengths):
    a, b, _, _ = check_arith_row(task, mode, length, x[i], y[i])
    # Host-side encoding reproduces the generated row exactly.
    enc_length = PAD_TO if mode == "unpadded" else length - (1 - length % 2)
    ex, ey = tasks.encode_example(task, a, b, enc_length, mode)
    np.testing.assert_array_equal(ex, x[i, :enc_length])
    np.testing.assert_array_equal(ey, y[i, :enc_length])


def test_zero_padded_mode_has_leading_zeros():
  """zero_padded operands are mostly short; uniform ones mostly full-width."""
  task = tasks.get_task("add10")
  lengths = np.full(B, PAD_TO)
  top_zero = {}
  for mode in ("uniform", "zero_padded"):
    count = 0
    for seed in range(8):
      x, _ = generate(task, lengths, PAD_TO, mode, seed)
      count += int(np.sum(x[:, 9] == 1))  # most significant digit of a is 0
    top_zero[mode] = count / (8 * B)
  # k = 10: P(top digit 0) is 0.1 (uniform) and 0.9 (zero_padded).
  assert top_zero["uniform"] < 0.35 and top_zero["zero_padded"] > 0.65, top_zero


def test_determinism_and_key_dependence():
  task = tasks.get_task("mul")
  lengths = fixed_lengths(0)
  x1, y1 = generate(task, lengths, PAD_TO, seed=5)
  x2, y2 = generate(task, lengths, PAD_TO, seed=5)
  x3, _ = generate(task, lengths, PAD_TO, seed=6)
  np.testing.assert_array_equal(x1, x2)
  np.testing.assert_array_equal(y1, y2)
  assert not np.array_equal(x1, x3)


def test_padding_and_mask_invariant():
  """targets != 0 is a prefix equal to the input's content (not for dup)."""
  for name in ("badd", "mul16"):
    task = tasks.get_task(name)
    for mode in tasks.MODES:
      lengths = fixed_lengths(3)
      x, y = generate(task, lengths, PAD_TO, mode, seed=3)
      mask = np.asarray(tasks.target_mask(jnp.asarray(y)))
      np.testing.assert_array_equal(mask, x != 0)
      for i, length in enumerate(lengths):
        assert not x[i, length:].any() and not y[i, length:].any()
        if mode != "unpadded":
          assert mask[i].sum() == 2 * ((length - 1) // 2) + 1


def test_jit_and_vmap_over_keys_with_traced_lengths():
  task = tasks.get_task("qmul")
  lengths = jnp.asarray(fixed_lengths(1), jnp.int32)
  keys = jax.random.split(jax.random.key(42), 3)
  pooled = jax.jit(
      jax.vmap(
          lambda k, lens: tasks.make_batch(k, task, lens, PAD_TO, "zero_padded"), in_axes=(0, None)
      )
  )
  xs, ys = pooled(keys, lengths)
  assert xs.shape == (3, B, PAD_TO)
  for j in range(3):
    x, y = tasks.make_batch(keys[j], task, lengths, PAD_TO, "zero_padded")
    np.testing.assert_array_equal(xs[j], x)
    np.testing.assert_array_equal(ys[j], y)
    for i, length in enumerate(np.asarray(lengths)):
      check_arith_row(task, "zero_padded", int(length), np.asarray(x[i]), np.asarray(y[i]))


def test_make_batch_for_base_matches_make_batch_and_traces_base():
  lengths = jnp.asarray(fixed_lengths(2), jnp.int32)
  key = jax.random.key(9)
  step = jax.jit(
      lambda k, i: tasks.make_batch_for_base(k, "mul", jnp.array([2, 4, 10])[i], lengths, PAD_TO)
  )
  for index, name in enumerate(("bmul", "qmul", "mul")):
    want = tasks.make_batch(key, tasks.get_task(name), lengths, PAD_TO)
    got = tasks.make_batch_for_base(key, "mul", tasks.get_task(name).base, lengths, PAD_TO)
    traced = step(key, index)
    for w, g, t in zip(want, got, traced):
      np.testing.assert_array_equal(w, g)
      np.testing.assert_array_equal(w, t)
  with pytest.raises(ValueError, match="17"):
    tasks.make_batch_for_base(key, "mul", 17, lengths, PAD_TO)
  with pytest.raises(ValueError, match="div"):
    tasks.make_batch_for_base(key, "div", 10, lengths, PAD_TO)


def test_no_recompile_across_bases_lengths_and_keys():
  """One compiled program per (kind, mode, pad_to, B) serves every base."""
  gen = tasks._make_batch_jit
  generate(tasks.get_task("add"), fixed_lengths(0), PAD_TO, "uniform")
  before = gen._cache_size()
  for base in ALL_BASES:
    generate(tasks.get_task(f"add{base}"), fixed_lengths(base), PAD_TO, "uniform", seed=base)
  tasks.make_batch(jax.random.PRNGKey(0), "badd", fixed_lengths(1), PAD_TO)
  assert gen._cache_size() - before <= 1  # a raw uint32 key is a new type


def test_make_example_unbatched():
  task = tasks.get_task("add7")
  make = jax.jit(tasks.make_example, static_argnums=(1, 3, 4))
  x, y = make(jax.random.key(0), task, jnp.int32(9), 11, "unpadded")
  assert x.shape == y.shape == (11,)
  check_arith_row(task, "unpadded", 9, np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("kind", ARITH_KINDS)
def test_2000_digit_operands(kind):
  """pad_to = 4001 (2000-digit operands), bases 2, 10 and 16."""
  lengths = np.array([BIG_PAD_TO, 2001], np.int32)
  for base in (2, 10, 16):
    task = tasks.get_task(f"{kind}{base}")
    x, y = generate(task, lengths, BIG_PAD_TO, "uniform", seed=base)
    for i, length in enumerate(lengths):
      a, b, a_sym, _ = check_arith_row(task, "uniform", int(length), x[i], y[i])
      assert len(a_sym) == (length - 1) // 2
      # Uniform digits: the operands really are about 2000 digits long.
      assert a >= base ** ((length - 1) // 2 - 40)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ("zero_padded", "unpadded"))
@pytest.mark.parametrize("kind", ARITH_KINDS)
def test_2000_digit_operands_other_modes(kind, mode):
  lengths = np.array([BIG_PAD_TO, 1001, 3001, 4000], np.int32)
  for base in (2, 10, 16):
    task = tasks.get_task(f"{kind}{base}")
    x, y = generate(task, lengths, BIG_PAD_TO, mode, seed=base)
    for i, length in enumerate(lengths):
      check_arith_row(task, mode, int(length), x[i], y[i])


_WORST_K = 2000


@jax.jit
def _worst_case_arithmetic(top, one, base):
  n_out = 2 * _WORST_K + 1
  return (tasks._mul_digits(top, top, n_out, base), tasks._add_digits(top, one, n_out, base))


@pytest.mark.parametrize("base", [2, 10, 16])
def test_worst_case_digits_are_exact(base):
  """All digits base-1 at k = 2000: largest convolution terms, longest carry.

  The base is traced, so this also covers the round count used for traced
  bases (the worst case over 2..16).
  """
  top = np.full((_WORST_K,), base - 1, np.int32)
  one = np.zeros((_WORST_K,), np.int32)
  one[0] = 1
  prod, total = map(np.asarray, _worst_case_arithmetic(top, one, jnp.int32(base)))
  value = base**_WORST_K - 1
  assert sum(int(d) * base**i for i, d in enumerate(prod)) == value * value
  assert sum(int(d) * base**i for i, d in enumerate(total)) == value + 1
  assert prod.min() >= 0 and prod.max() < base


# ---------------------------------------------------------------- sequences


def sequence_oracle(kind, xs, length):
  """Plain-Python targets for the sequence tasks."""
  if kind == "copy":
    return list(xs)
  if kind == "reverse":
    return list(reversed(xs))
  if kind == "sort":
    return sorted(xs)
  half = length // 2
  assert len(xs) == half
  return list(xs) + list(xs)


@pytest.mark.parametrize("kind", tasks.SEQUENCE_KINDS)
def test_sequence_tasks(kind):
  for base in (2, 4, 16):
    task = tasks.get_task(f"{kind}{base}")
    lengths = np.array([task.min_length, 2, 3, 7, 8, 12, 13, 10])
    x, y = generate(task, lengths, SEQ_PAD_TO, seed=base)
    for i, length in enumerate(lengths):
      content, _, n = oracle_row(x[i], base)
      tcontent, _, tn = oracle_row(y[i], base)
      assert all(1 <= s <= base for s in content + tcontent)
      if kind == "dup":
        assert n == length // 2 and tn == 2 * n
      else:
        assert n == tn == length
      assert tcontent == sequence_oracle(kind, content, int(length))
      xs, _, ys = tasks.decode_example(task, x[i], y[i])
      assert xs == [s - 1 for s in content] and ys == [s - 1 for s in tcontent]


@HYP
@given(
    kind=st.sampled_from(tasks.SEQUENCE_KINDS),
    base=st.sampled_from(ALL_BASES),
    seed=st.integers(0, 2**31 - 1),
    lengths=st.lists(st.integers(2, SEQ_PAD_TO), min_size=B, max_size=B),
)
def test_property_sequences(kind, base, seed, lengths):
  task = tasks.get_task(f"{kind}{base}")
  x, y = generate(task, lengths, SEQ_PAD_TO, seed=seed)
  for i, length in enumerate(lengths):
    content, _, n = oracle_row(x[i], base)
    tcontent, _, _ = oracle_row(y[i], base)
    assert n == (length // 2 if kind == "dup" else length)
    assert tcontent == sequence_oracle(kind, content, length)


def test_sequence_symbols_cover_the_alphabet():
  x, y = generate(tasks.get_task("sort16"), np.full(B, SEQ_PAD_TO), SEQ_PAD_TO)
  assert set(np.unique(x).tolist()) == set(range(1, 17))
  np.testing.assert_array_equal(np.sort(x, axis=1), y)


# ---------------------------------------------------------------- lengths


_sample_odd = jax.jit(tasks.sample_lengths, static_argnums=(1, 4))


def test_sample_lengths():
  # Bounds traced (one compilation), as in a curriculum inside jit.
  for seed, (lo, hi) in enumerate([(3, 9), (4, 10), (3, 3), (3, 12)]):
    got = np.asarray(_sample_odd(jax.random.key(seed), 512, lo, hi, True))
    assert set(got.tolist()) == set(range(lo | 1, hi + 1, 2)), (lo, hi)
  got = np.asarray(tasks.sample_lengths(jax.random.key(1), 512, 4, 6, odd=False))
  assert set(got.tolist()) == {4, 5, 6}


@pytest.mark.parametrize("lo,hi", [(10, 9), (4, 4), (0, 0), (-3, -1)])
def test_sample_lengths_empty_range(lo, hi):
  with pytest.raises(ValueError, match="length"):
    tasks.sample_lengths(jax.random.key(0), 4, lo, hi)


def test_make_batch_rejects_bad_inputs():
  key = jax.random.key(0)
  task = tasks.get_task("badd")
  ok = np.array([3, 5], np.int32)
  with pytest.raises(ValueError, match="mode"):
    tasks.make_batch(key, task, ok, 7, "padded")
  with pytest.raises(ValueError, match="pad_to"):
    tasks.make_batch(key, task, ok, 2)
  with pytest.raises(ValueError, match="pad_to"):
    tasks.make_batch(key, task, ok, 7.0)
  with pytest.raises(ValueError, match=r"\[9\]"):
    tasks.make_batch(key, task, np.array([3, 9], np.int32), 7)
  with pytest.raises(ValueError, match=r"\[2\]"):
    tasks.make_batch(key, task, np.array([2, 5], np.int32), 7)
  with pytest.raises(ValueError, match="rank-1"):
    tasks.make_batch(key, task, np.array([[3, 5]], np.int32), 7)
  with pytest.raises(ValueError, match="nope"):
    tasks.make_batch(key, "nope", ok, 7)
  with pytest.raises(ValueError, match=r"\[1\]"):
    tasks.make_batch(key, "dup", np.array([1, 4], np.int32), 7)


# ---------------------------------------------------------------- encoding


def test_encode_question_hand_worked():
  # "2 * 1" in decimal: [2+1, TIMES, 1+1].
  np.testing.assert_array_equal(tasks.encode_question("mul", 2, 1), [3, tasks.TIMES, 2])
  # 000..010 x 000..001 in binary, k = 4: 2 = LE [0,1,0,0].
  x, y = tasks.zero_padded_small("bmul", 2, 1, 9)
  np.testing.assert_array_equal(x, [[1, 2, 1, 1, tasks.TIMES, 2, 1, 1, 1]])
  np.testing.assert_array_equal(y, [[1, 2, 1, 1, 1, 1, 1, 1, 1]])
  # 7 + 5 = 12 in decimal, unpadded: [8, PLUS, 6] -> target 12 over 3 digits.
  x, y = tasks.encode_example("add", 7, 5, 5, "unpadded")
  np.testing.assert_array_equal(x, [8, tasks.PLUS, 6, 0, 0])
  np.testing.assert_array_equal(y, [3, 2, 1, 0, 0])
  # Even length: the last position is padding.
  x, y = tasks.encode_example("badd", 1, 1, 6)
  np.testing.assert_array_equal(x, [2, 1, tasks.PLUS, 2, 1, 0])
  np.testing.assert_array_equal(y, [1, 2, 1, 1, 1, 0])


@HYP
@given(
    base=st.sampled_from(ALL_BASES),
    kind=st.sampled_from(ARITH_KINDS),
    mode=st.sampled_from(tasks.MODES),
    a=st.integers(0, 10**60),
    b=st.integers(0, 10**60),
    extra=st.integers(0, 5),
)
def test_encode_decode_round_trip(base, kind, mode, a, b, extra):
  task = tasks.get_task(f"{kind}{base}")
  x, y = tasks.encode_example(task, a, b, None, mode)
  assert tasks.decode_example(task, x, y) == (a, b, task.apply(a, b))
  assert tasks.decode_answer(task, y) == task.apply(a, b)
  longer = len(x) + extra
  q = tasks.encode_question(task, a, b, longer, mode)
  assert tasks.decode_example(task, q) == (a, b, None)
  x2, y2 = tasks.encode_example(task, a, b, longer, mode)
  np.testing.assert_array_equal(q, x2)
  n = int(np.sum(x2 != 0))
  assert tasks.decode_answer(task, y2, length=n) == task.apply(a, b)
  with pytest.raises(ValueError, match="length"):
    tasks.encode_question(task, a, b, len(x) - 1, mode)


def test_decode_rejects_malformed_rows():
  task = tasks.get_task("add")
  with pytest.raises(ValueError, match="not base-10 digits"):
    tasks.decode_answer(task, [3, 12, 2])
  with pytest.raises(ValueError, match="padding inside"):
    tasks.decode_answer(task, [3, 0, 2])
  assert tasks.decode_answer(task, [3, 2, 0, 0]) == 12
  assert tasks.decode_answer(task, [3, 0, 9, 9], length=1) == 2
  with pytest.raises(ValueError, match="operator"):
    tasks.decode_example(task, [3, 2, 2])
  with pytest.raises(ValueError, match="operator"):
    tasks.decode_example(task, [3, tasks.PLUS, 2, tasks.PLUS, 1])
  with pytest.raises(ValueError, match="positions"):
    tasks.decode_example(task, [3, tasks.PLUS, 2], [4, 0, 0])
  with pytest.raises(ValueError, match="not arithmetic"):
    tasks.decode_answer("copy", [1, 2])
  with pytest.raises(ValueError, match="-1"):
    tasks.encode_question(task, -1, 2)


# ---------------------------------------------------------------- failure cases


@pytest.mark.parametrize("base", [2, 3, 10, 16])
def test_carry_chain_exact_length(base):
  task = tasks.get_task(f"add{base}")
  length = 41
  for c in range(1, 21):
    x, y = tasks.carry_chain_batch(task, c, length, batch_size=4, seed=c)
    assert x.shape == y.shape == (4, length)
    for i in range(4):
      a, b, _, _ = check_arith_row(task, "uniform", length, x[i], y[i])
      assert a + b == base**c
      outs, _ = carries(a, b, base)
      assert outs == [1] * c, (a, b, outs)  # positions 0..c-1 carry, no more
    x, y = tasks.carry_chain_batch(task, c, length, batch_size=4, seed=c, minus_one=True)
    for i in range(4):
      a, b, _, _ = check_arith_row(task, "uniform", length, x[i], y[i])
      assert a + b == base**c - 1
      outs, sums = carries(a, b, base)
      assert sum(outs) == 0 and sums == [base - 1] * c


def test_carry_chain_rejects_bad_arguments():
  with pytest.raises(ValueError, match="c=21"):
    tasks.carry_chain_batch("add", 21, 41)
  with pytest.raises(ValueError, match="c=0"):
    tasks.carry_chain_batch("add", 0, 41)
  with pytest.raises(ValueError, match="addition"):
    tasks.carry_chain_batch("mul", 3, 41)


@pytest.mark.parametrize("name", ["badd", "mul", "mul16"])
def test_same_digit_stretch(name):
  task = tasks.get_task(name)
  length, stretch = 41, 12
  for digit in (0, task.base - 1):
    x, y = tasks.same_digit_stretch_batch(task, length, digit, stretch, batch_size=4, seed=digit)
    for i in range(4):
      _, _, a_sym, b_sym = check_arith_row(task, "uniform", length, x[i], y[i])
      for sym in (a_sym, b_sym):
        run = best = 0
        for s in sym:
          run = run + 1 if s == digit + 1 else 0
          best = max(best, run)
        assert best >= stretch
  with pytest.raises(ValueError, match="stretch"):
    tasks.same_digit_stretch_batch(task, length, 0, 21)
  with pytest.raises(ValueError, match="digit"):
    tasks.same_digit_stretch_batch(task, length, task.base, 3)


def test_zero_padded_small_batch():
  x, y = tasks.zero_padded_small("mul", [2, 3, 0], [1, 7, 5], 41)
  assert x.shape == (3, 41)
  for i, (a, b) in enumerate([(2, 1), (3, 7), (0, 5)]):
    got = check_arith_row(tasks.get_task("mul"), "zero_padded", 41, x[i], y[i])
    assert got[:2] == (a, b)
  with pytest.raises(ValueError, match="length"):
    tasks.zero_padded_small("bmul", 2**30, 1, 41)
