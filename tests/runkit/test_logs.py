"""runkit.logs: binaries are quiet (absl WARNING) unless --verbosity is given."""

from absl import flags
from absl import logging

from runkit import logs


def test_quiet_unless_verbosity_given():
  before = logging.get_verbosity()
  flag = flags.FLAGS["verbosity"]
  present = flag.present
  try:
    logging.set_verbosity(logging.INFO)
    flag.present = 0
    logs.quiet_libraries()
    assert logging.get_verbosity() == logging.WARNING
    logging.set_verbosity(logging.INFO)
    flag.present = 1  # the user asked: leave it as they set it
    logs.quiet_libraries()
    assert logging.get_verbosity() == logging.INFO
  finally:
    flag.present = present
    logging.set_verbosity(before)
