"""Every picture of one workdir, written as PNGs to a folder outside it by default.

``render_workdir(workdir, out_dir)`` reads the workdir (``plotkit.workdir.load``:
refused, naming it, when it is not one) and writes

* all kinds: ``learning_curves.png``; pools of seeds (Neural GPU pools, Q-learning,
  RL-NTM): ``solved_fraction.png``;
* Neural GPU: ``error_vs_length.png`` (the final table) and ``state.png`` (the state
  over its steps on a carry chain at the training length, from the latest checkpoint);
* Q-learning: ``q_episode.png`` + ``q_episode.txt`` (Q-values and the greedy policy
  over one episode, and its Time / Input Tape / Output Tape trace);
* RL-NTM: ``policy_episode.png`` + ``policy_episode.txt``.

The workdir is only read. ``out_dir`` defaults to ``<workdir>_plots`` beside it; a
folder inside the workdir is used only when given explicitly.
"""

from __future__ import annotations

import os
from typing import Callable

from plotkit import curves
from plotkit import workdir as workdir_lib


def _out_dir(wd_path: str, out_dir: str | None) -> str:
  out = workdir_lib.default_out_dir(wd_path) if out_dir is None else out_dir
  if os.path.exists(out) and not os.path.isdir(out):
    raise ValueError(f"out_dir {out!r} is a file; give a folder (new or existing) for the PNGs")
  return out


def model_figures(
    wd: workdir_lib.Workdir,
    *,
    state_length: int | None = None,
    episode_length: int | None = None,
    seed: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[dict, dict]:
  """(``{name: Figure}``, ``{name: text}``) of the pictures that need the trained
  model (the latest checkpoint); none when the workdir has no checkpoint yet."""
  figs, texts = {}, {}
  if not wd.has_checkpoint:
    log(f"{wd.path}: no checkpoint yet, so no model pictures")
    return figs, texts
  if wd.kind in ("ngpu", "ngpu_pool"):
    from plotkit import ngpu

    fig, _ = ngpu.state_figure(wd.path, state_length, seed_index=seed)
    figs["state.png"] = fig
  elif wd.kind in ("qlearning", "rlntm"):
    from plotkit import rl

    load, episode, draw, name = {
        "qlearning": (rl.load_qlearning, rl.q_episode, rl.plot_q_episode, "q_episode"),
        "rlntm": (rl.load_rlntm, rl.rlntm_episode, rl.plot_rlntm_episode, "policy_episode"),
    }[wd.kind]
    m = load(wd.path, seed)
    ep = episode(m["config"], m["params"], episode_length)
    what = f"seed {m['seed']} after {m['update']} updates"
    figs[f"{name}.png"] = draw(ep, f"{wd.name}: {what}")
    texts[f"{name}.txt"] = what + "\n" + ep["trace"] + "\n"
  return figs, texts


def render_workdir(
    path: str,
    out_dir: str | None = None,
    *,
    model_pictures: bool = True,
    state_length: int | None = None,
    episode_length: int | None = None,
    seed: int | None = None,
    log: Callable[[str], None] = print,
) -> list[str]:
  """Writes the workdir's pictures under ``out_dir`` (default ``<workdir>_plots``);
  returns the paths written. ``NotAWorkdirError`` (nothing written) when ``path`` is
  not a workdir; ValueError when ``out_dir`` is a file."""
  wd = workdir_lib.load(path)
  out = _out_dir(path, out_dir)
  figs = curves.record_figures(wd)
  texts = {}
  if model_pictures:
    more, texts = model_figures(
        wd, state_length=state_length, episode_length=episode_length, seed=seed, log=log
    )
    figs.update(more)
  os.makedirs(out, exist_ok=True)
  written = curves.write_all(figs, out)
  for name, text in texts.items():
    p = os.path.join(out, name)
    with open(p, "w") as f:
      f.write(text)
    written.append(p)
  return written
