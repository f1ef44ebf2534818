"""Shared pytest setup: small CPU-only JAX, float32, deterministic; and the smoke runs
of every trainer, made once per test process and shared by the files that read them."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The suite is bound by XLA's compile time (hundreds of small programs, each run for a
# few steps): LLVM's optimisation of the generated CPU code is most of that time and
# buys little at these sizes, so the tests compile without it. The matmuls and convs
# call the same library kernels either way. The workers and the binaries that tests
# start as subprocesses inherit it; XLA_FLAGS that already set a level are kept.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (
      os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
  ).strip()

import pytest  # noqa: E402  (after the platform is chosen)


def _one_bin_ngpu_smoke(arg: str):
  """The Neural GPU smoke config on one length bin (one program to compile)."""
  from experiments.configs import ngpu

  c = ngpu.get_config(arg)
  ngpu.train_on_bins(c, (9,))
  c.eval.lengths, c.eval.examples, c.eval.solve_lengths = (9, 15), (4, 4), (15,)
  return c


def _train_smoke(kind: str, workdir: str) -> None:
  """One real training run of ``kind`` at smoke size into ``workdir``."""
  if kind == "ngpu":  # one seed
    from neuralgpu import loop

    c = _one_bin_ngpu_smoke("variant=smoke")
    c.eval.every = 1000  # no periodic checks: the final table only
    loop.train_and_evaluate(c, workdir)
  elif kind == "ngpu_pool":  # two seeds
    from neuralgpu import loop

    loop.train_and_evaluate(_one_bin_ngpu_smoke("variant=smoke,seeds=2"), workdir)
  elif kind == "qlearning":  # two seeds, feed-forward controller
    from experiments.configs import qlearning
    from rltape.qlearning import experiment

    c = qlearning.get_config("task=copy,controller=ff,smoke=1")
    experiment.train_and_evaluate(c, workdir, progress=False)
  elif kind == "rlntm":  # two seeds, tiny controller
    from rltape.reinforce import config
    from rltape.reinforce import experiment

    experiment.train_and_evaluate(config.get_config("smoke"), workdir)
  else:
    raise ValueError(f"unknown smoke run {kind!r}; allowed: {SMOKE_KINDS}")


SMOKE_KINDS = ("ngpu", "ngpu_pool", "qlearning", "rlntm")

# The files that take longest (end-to-end runs, compile bound; measured with
# --durations), longest first. pytest.ini runs the suite with --dist loadfile, which hands
# files to the two workers in collection order; running these first and the many short
# files last keeps one worker from finishing a long file alone at the end.
LONGEST_FIRST = (
    "rltape/test_q_train.py",
    "benchmarks/test_suite.py",
    "notebooks/test_notebooks.py",
    "neuralgpu/test_pool_any.py",
    "neuralgpu/test_dngpu_options.py",
    "neuralgpu/test_pool.py",
    "neuralgpu/test_train.py",
    "neuralgpu/test_failure_tools.py",
    "runkit/test_workdir_layout.py",
    "plotkit/test_plots.py",
    "benchmarks/test_rl_bench.py",
    "neuralgpu/test_pool_restart.py",
)


def pytest_collection_modifyitems(config, items):
  """Reorders the collected tests: the files of ``LONGEST_FIRST`` first, in that order,
  then every other file in collection order (a stable sort; tests keep their order
  within a file)."""
  del config
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  tests_dir = os.path.dirname(os.path.abspath(__file__))

  def key(item):
    rel = os.path.relpath(str(item.fspath), tests_dir).replace(os.sep, "/")
    return rank.get(rel, len(rank))

  items.sort(key=key)


@pytest.fixture(scope="session")
def smoke_workdir(tmp_path_factory):
  """``smoke_workdir(kind)`` -> the path of that trainer's smoke run (``SMOKE_KINDS``),
  trained on first use and shared for the session. Tests only read it (the plot tests
  check that reading leaves it exactly as it was)."""
  made = {}

  def get(kind: str) -> str:
    if kind not in made:
      path = str(tmp_path_factory.mktemp("smoke") / kind)
      _train_smoke(kind, path)
      made[kind] = path
    return made[kind]

  return get
