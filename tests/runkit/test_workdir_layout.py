"""Every trainer writes the same workdir layout (``runkit``): the Neural GPU (one seed and
a pool), Q-learning and the RL-NTM, each at smoke size."""

import json
import os

import pytest

COMMON = {
    "config.json",
    "checkpoints/",
    "tb/",
    "metrics.jsonl",
    "progress.json",
    "provenance.jsonl",
    "summary.json",
}
# What a trainer writes beyond the common files, and why.
OWN = {"rlntm": {"traces.txt"}}  # solved seeds' episodes, rendered


def _listing(workdir):
  return {f + "/" if os.path.isdir(os.path.join(workdir, f)) else f for f in os.listdir(workdir)}


@pytest.fixture(scope="module")
def workdirs(smoke_workdir):
  # The smoke runs of tests/conftest.py (shared with the plot tests).
  return {kind: smoke_workdir(kind) for kind in ("ngpu", "ngpu_pool", "qlearning", "rlntm")}


def test_every_trainer_writes_the_same_files(workdirs):
  for kind, wd in workdirs.items():
    assert _listing(wd) == COMMON | OWN.get(kind, set()), kind
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(wd, "tb")))


def test_the_records_have_the_same_keys_and_units(workdirs):
  for kind, wd in workdirs.items():
    prog = json.load(open(os.path.join(wd, "progress.json")))
    steps = sorted(int(s) for s in os.listdir(os.path.join(wd, "checkpoints")) if s.isdigit())
    # progress.json: the latest checkpoint's step (optimizer updates) and training seconds.
    assert prog["step"] == steps[-1] and prog["train_seconds"] > 0, kind
    lines = [json.loads(l) for l in open(os.path.join(wd, "metrics.jsonl"))]
    assert lines and all(isinstance(l["step"], int) for l in lines), kind
    assert [l["step"] for l in lines] == sorted(l["step"] for l in lines), kind
    assert lines[-1]["step"] <= prog["step"], kind
    prov = [json.loads(l) for l in open(os.path.join(wd, "provenance.jsonl"))]
    assert len(prov) == 1 and {"argv", "versions", "git_commit", "config"} <= set(prov[0])
    assert json.load(open(os.path.join(wd, "config.json"))) == prov[0]["config"], kind
