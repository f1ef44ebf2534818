"""Every notebook in notebooks/ runs top to bottom at its smoke size (NOTEBOOK_SMOKE=1)
in a fresh kernel, as Jupyter starts it in that folder; a failing cell fails the test.
Temporary files (the notebooks' workdirs) go under the test's tmp_path."""

import glob
import os

import nbclient
import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))


def test_the_notebooks_are_there():
  names = {os.path.basename(p) for p in NOTEBOOKS}
  assert {
      "neuralgpu_quickstart.ipynb",
      "neuralgpu_failures.ipynb",
      "rltape_quickstart.ipynb",
      "reinforce_gradcheck.ipynb",
  } <= names, names


def test_notebooks_have_no_local_paths():
  # They run unchanged on a Colab runtime: files go under tempfile, not a fixed path.
  for path in NOTEBOOKS:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
      assert "/work/" not in cell.source and "/tmp/" not in cell.source, (path, cell.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
  monkeypatch.setenv("NOTEBOOK_SMOKE", "1")
  monkeypatch.setenv("TMPDIR", str(tmp_path))
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  monkeypatch.setenv("MPLBACKEND", "Agg")
  nb = nbformat.read(path, as_version=4)
  before = sorted(os.listdir(NOTEBOOK_DIR))
  client = nbclient.NotebookClient(
      nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": NOTEBOOK_DIR}}
  )
  try:
    client.execute()
  except nbclient.exceptions.CellExecutionError as e:
    pytest.fail(f"{os.path.basename(path)}: a cell failed:\n{e}")
  errors = [
      o
      for c in nb.cells
      if c.cell_type == "code"
      for o in c.outputs
      if o.get("output_type") == "error"
  ]
  assert not errors
  # Nothing was written beside the notebooks (workdirs live under the temp folder).
  assert sorted(os.listdir(NOTEBOOK_DIR)) == before
