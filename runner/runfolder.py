"""Run and sweep folders as dlrun guards them.

- A folder in use is locked (`.dlrun.lock`, an flock held for the process's life): a second
  dlrun process is refused in one line naming the holder. The kernel drops the lock when its
  process ends, killed or not, so a stale lock never blocks.
- A run folder that holds a finished run (DONE) is never overwritten; one that holds an
  unfinished run of the same config (checkpoint.pt) is resumed; anything else an earlier
  attempt left is cleared.
- A sweep folder remembers the command that made it (`.dlrun-sweep.json`: the overrides and
  the resolved data_dir); another command is refused in one line saying how to go on.
- dlrun writes Hydra's record of a run (`.hydra/config.yaml`, `hydra.yaml`, `overrides.yaml`)
  itself (hydra.output_subdir is null), through the same error path as every other result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import socket
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from runner.errors import DataError, UserError, writing
from runner.files import DONE_MARKER, atomic_write_text
from runner.loggers.mlflow import RUN_ID_FILE as MLFLOW_RUN_ID

LOCK = ".dlrun.lock"
SWEEP_RECORD = ".dlrun-sweep.json"
# what a fresh start keeps: Hydra's record, the lock, and the id of the MLflow run a killed attempt
# left RUNNING, which the new attempt goes on in (runner/loggers/mlflow.py)
KEEP = {".hydra", LOCK, MLFLOW_RUN_ID}
# overrides that change how a run or sweep looks, how often it saves or what it is called, not
# what it computes (and the loggers and tags, which mirror and label the results): a resumed
# sweep may change them, so they name no job folder either (presentation_keys,
# conf/config.yaml), and a checkpoint resumes under them (checkpoint.fingerprint)
PRESENTATION = ("trainer.progress", "trainer.checkpoint_every", "trainer.checkpoint_seconds", "sweep.render_workers",
                "sweep.x", "sweep.extra", "logger", "tags", "name")  # fmt: skip


@functools.cache
def presentation_keys() -> tuple:
    """PRESENTATION and every schema key under each (logger.mlflow.tracking_uri), as overrides name them."""
    import dataclasses

    from runner.config.schema import Config

    def under(node, prefix: str):
        for f in dataclasses.fields(node):
            key, value = f"{prefix}.{f.name}", getattr(node, f.name)
            yield key
            if dataclasses.is_dataclass(value):
                yield from under(value, key)

    keys = []
    for top in PRESENTATION:
        node = Config()
        for name in top.split("."):
            node = getattr(node, name)
        keys += [top, *(under(node, top) if dataclasses.is_dataclass(node) else ())]
    return tuple(keys)


_held: dict = {}  # folder -> the open lock file; the lock lasts as long as it stays open


def task_of(folder: Path) -> str | None:
    """The `task` in the resolved config.yaml a run, study or reproduction writes at the top of
    its folder (train, eval, gradcheck, study, reproduce), or None where there is none."""
    import yaml

    try:
        config = yaml.safe_load((Path(folder) / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return config.get("task") if isinstance(config, dict) else None


def lock(folder: Path, what: str = "folder", kind: str | None = None) -> None:
    """Hold `folder` for this process, or raise a UserError naming who holds it, or saying that
    it holds files no dlrun wrote (refuse_foreign), or, given the command's `kind` (its task, or
    "sweep"), a folder of another kind (refuse_other_kind)."""
    folder = Path(folder)
    if str(folder) in _held:
        return
    refuse_file(folder, what)
    refuse_foreign(folder, what)
    if kind is not None:
        refuse_other_kind(folder, kind, what)
    hold(folder, what)


def hold(folder: Path, what: str = "folder") -> None:
    """The flock of lock(), without its checks of what the folder holds: for a sweep's job folder,
    part of a sweep folder already locked and checked (one of an older dlrun has no lock file)."""
    from runner.locks import flock

    folder = Path(folder)
    if str(folder) in _held:
        return
    with writing(folder / LOCK):
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 - held open: that is the lock
    if not flock(handle):
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{folder} is in use by another dlrun ({holder}); wait for it to end, or choose another "
                        f"{what}") from None  # fmt: skip
    with writing(folder / LOCK):
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {dt.datetime.now():%Y-%m-%d %H:%M:%S}\n")
        handle.flush()
    _held[str(folder)] = handle


def refuse_file(folder: Path, what: str) -> None:
    """A UserError when `folder`, or the nearest of its parents that exists, is a file: the folder
    cannot be made (it said `cannot write afile/.dlrun.lock: File exists`)."""
    path = Path(folder).absolute()
    for there in (path, *path.parents):
        if there.exists():
            if not there.is_dir():
                named = "is a file" if there == path else f"is under {there}, a file"
                raise UserError(f"{what}={folder} {named}; expected a folder, or a path where one can be made")
            return


def refuse_foreign(folder: Path, what: str) -> None:
    """A folder that no dlrun has used (no lock file) must hold nothing but what this command's
    Hydra wrote there: dlrun clears an unfinished run's folder to start it, and writes a sweep's
    report over any file of that name, so `hydra.run.dir=.` in a project, or a typo that names a
    folder of one's own, deleted the files there."""
    if not folder.is_dir() or (folder / LOCK).exists():
        return
    refuse_finished(folder, what)  # a run copied without its dotfiles: said as what it is
    logs = kept(folder) - KEEP  # the job's log Hydra opened for this command
    own = KEEP | logs | {"multirun.yaml"}  # and Hydra's record of the sweep it is starting
    foreign = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if p.name not in own)
    if foreign:
        for log in logs:  # left as it was found
            with contextlib.suppress(OSError):
                if (folder / log).stat().st_size == 0:
                    (folder / log).unlink()
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UserError(f"{folder} holds files dlrun did not write ({shown}); dlrun starts in a new or empty folder "
                        f"and would clear or overwrite them: choose another {what}")  # fmt: skip


def kind_of(folder: Path) -> str | None:
    """What dlrun made `folder` for: "sweep" (Hydra's multirun.yaml at its root), or the task of the
    run, study or reproduction whose config.yaml is at its top; None for a folder with neither (a
    new one, or a run stopped before it wrote its config)."""
    from runner.sweep.summary import is_sweep_dir

    return "sweep" if is_sweep_dir(folder) else task_of(folder)


def refuse_other_kind(folder: Path, kind: str, what: str) -> None:
    """A command of one kind into a folder of another: a run clears what its folder holds to start,
    so `hydra.run.dir=<a sweep>` (for hydra.sweep.dir, or without -m) deleted every job of it, and a
    sweep or study writes its report and plots over a run's."""
    found = kind_of(folder)
    if found is None or found == kind:
        return
    held = "a sweep (multirun.yaml)" if found == "sweep" else f"a task={found} folder (config.yaml)"
    wanted = "a sweep" if kind == "sweep" else f"task={kind}"
    hint = ""
    if found == "sweep":
        from runner.config.overrides import as_override

        hint = f"; to resume the sweep, run its command with -m and {as_override('hydra.sweep.dir', folder)}"
    raise UserError(f"{folder} holds {held}: {wanted} there would clear or overwrite it; choose another "
                    f"{what}{hint}")  # fmt: skip


def holder(folder: Path) -> str | None:
    """Who holds `folder` (the lock file's line), or None when no live process does; reads only."""
    from runner.locks import flock

    try:
        with open(Path(folder) / LOCK, encoding="utf-8") as handle:
            if not flock(handle, exclusive=False):  # released when the file closes
                return handle.read().strip() or "another process"
    except OSError:  # no lock file: nobody holds it
        return None
    return None


def unlock(folder: Path) -> None:
    key = _held_key(folder)
    handle = None if key is None else _held.pop(key)
    if handle is not None:
        handle.close()


def finished(folder: Path) -> str | None:
    """The status a finished run left in DONE, or None."""
    marker = Path(folder) / DONE_MARKER
    if not marker.is_file():
        return None
    try:
        return (marker.read_text().split() or ["ok"])[0]
    except (OSError, ValueError):  # unreadable or not text: still the marker of a finished run
        return "ok"


# what a sweep says of a job that finished (DONE) but whose summary.json is gone or damaged: the
# sweep cannot report it (its metrics live there), so running the sweep again runs it again
RECORD_LOST = "its summary.json is missing or damaged"


def record_lost(folder: Path) -> bool:
    from runner.files import read_json

    return finished(folder) is not None and read_json(Path(folder) / "summary.json") is None


def refuse_finished(folder: Path, what: str = "hydra.run.dir") -> None:
    status = finished(folder)
    if status is not None:
        raise UserError(f"{folder} holds a finished run (DONE, status {status}); choose another {what}, "
                        "or delete the folder to run it again")  # fmt: skip


_found: set = set()  # folders the command named that were there before it: an early error empties, never removes them
_made_from: dict = {}  # each folder the command made -> the outermost of it and its parents that making it made


def note_folder(folder: Path) -> None:
    """Before Hydra makes `folder` (a run's or a sweep's): remember whether it was there. One that
    was (`mkdir results/a` for hydra.run.dir=results/a, a mount point) an early error empties and
    keeps; one that was not it removes with the parents made for it (outputs/runs/<date>/) that
    nothing else came to live in."""
    path = os.path.abspath(Path(folder).expanduser())
    if os.path.isdir(path):
        _found.add(path)
    else:
        _made_from[path] = outermost_missing(Path(path))


def home_folder(config, mode: str) -> str:
    """config.hydra.<mode>.dir ("run" or "sweep"), a leading ~ expanded in place to the home
    folder, before Hydra makes it as written, a folder named `~` here: the command line's
    ("hydra.run.dir='~/runs'", quoted) or a config file's of one's own (`dir: ~/runs/...`)."""
    from omegaconf import read_write

    from runner.config.paths import home

    node = config.hydra[mode]
    folder = str(node.dir)
    if home(folder) != folder:
        with read_write(node):
            node.dir = home(folder)
    return str(node.dir)


class RunFolder(Callback):
    """Hydra's callback before a single run's folder is made (conf/config.yaml, hydra.callbacks)."""

    def on_run_start(self, config, **kwargs) -> None:
        from runner.errors import Refused

        # the folder as run_job will resolve it: ${now:...} is cached on this same config
        try:
            folder = Path(home_folder(config, "run"))
        except Exception:  # noqa: BLE001 - a dir that does not resolve: run_job says why itself
            return
        try:
            refuse_file(folder, "hydra.run.dir")  # before run_job's mkdir fails on it
        except UserError as ex:  # Hydra only warns about a callback's Exception
            raise Refused(ex) from None
        note_folder(folder)
        _single_run.append((folder, f"{config.hydra.job.name}.log"))


_single_run: list = []  # (folder, its job log's name) of a single run, noted before Hydra makes it


def discard_unstarted_run() -> None:
    """A single run that stopped before its task began (Hydra's job logging, which Python's logging
    refused, is set up in between) leaves no folder behind: Hydra made it, with a log file at most,
    and a reproduction its command's record (a part that `reproduce.only` does not know)."""
    for folder, log in _single_run:
        records = {*KEEP, log, SWEEP_RECORD}
        if folder.is_dir() and all(p.name in records for p in folder.iterdir()):
            discard(folder, records)


def _held_key(folder: Path) -> str | None:
    """The key `folder` is held under, however it is written (relative, absolute), or None."""
    if str(Path(folder)) in _held:
        return str(Path(folder))
    path = os.path.abspath(folder)
    return next((k for k in _held if os.path.abspath(k) == path), None)


def holds(folder: Path) -> bool:
    """Whether this process holds `folder`'s lock."""
    return _held_key(folder) is not None


def discard(folder: Path, records) -> None:
    """Undo what this command made in `folder`, which holds only its `records` (the lock, Hydra's):
    the folder goes with the empty parents made for it, except one that was there before
    (note_folder), which is left as it was, empty. A folder another process holds is left alone:
    its records are that process's (a command refused as `in use` removed the running one's lock
    and .hydra/, and a third command then ran in the folder beside it)."""
    if not holds(folder) and holder(folder) is not None:
        return
    unlock(folder)
    path = os.path.abspath(folder)
    if path not in _found:
        shutil.rmtree(path, ignore_errors=True)
        made, parent = _made_from.get(path, Path(path)), Path(path).parent
        while parent.is_relative_to(made):
            with contextlib.suppress(OSError):  # not empty: another run's or sweep's, keep it
                parent.rmdir()
            parent = parent.parent
        return
    with contextlib.suppress(OSError):
        for p in Path(path).iterdir():
            if p.name in records:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def discard_unstarted_sweep(sweep_dir: Path) -> None:
    """A sweep that stopped on an error before its first job (a job's config that does not
    compose, say) leaves no folder behind: its records alone would pass for a sweep, and would
    refuse the corrected command as "another command" in the same hydra.sweep.dir."""
    sweep_dir = Path(sweep_dir).absolute()
    records = {"multirun.yaml", SWEEP_RECORD, LOCK}

    def unstarted_job(p: Path) -> bool:  # a job folder Hydra made, with its log at most (job logging refused)
        return p.is_dir() and not p.is_symlink() and all(q.name in KEEP or q.suffix == ".log" for q in p.iterdir())

    if sweep_dir.is_dir():
        jobs = {p.name for p in sweep_dir.iterdir() if p.name not in records and unstarted_job(p)}
        if all(p.name in records | jobs for p in sweep_dir.iterdir()):
            discard(sweep_dir, records | jobs)


def outermost_missing(folder: Path) -> Path:
    """The outermost of `folder` and its parents that does not exist yet: what making it makes."""
    folder = Path(folder).absolute()
    made = folder
    for parent in folder.parents:
        if parent.exists():
            break
        made = parent
    return made


def kept(folder: Path) -> set:
    """Names a fresh start keeps in `folder`: KEEP, and the log files Python logging is writing
    there (Hydra's `<job>.log` with `hydra/job_logging=default`), opened before the task starts:
    removed, the job's log would go to a deleted file. Neither is a sign that anything ran."""
    import logging

    folder = Path(folder).absolute()
    logs = {Path(h.baseFilename) for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)}
    return KEEP | {p.name for p in logs if p.parent == folder}


def clear(folder: Path, keep_runs: bool = False, also: frozenset = frozenset()) -> None:
    """Remove what an earlier, unfinished attempt left, keeping Hydra's record, the lock and the log;
    keep_runs (a study's folder): also the folders of the runs it finished (DONE), at any depth,
    and the files named in `also`, which the study checks before it keeps what they hold."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    keep = kept(folder) | also
    with writing(folder):
        for p in folder.iterdir():
            if p.name in keep:
                continue
            if p.is_dir() and not p.is_symlink():
                if keep_runs and next(p.rglob(DONE_MARKER), None) is not None:
                    if finished(p) is None:  # a folder of runs (function_fit's <fn>/): clear around them
                        clear(p, keep_runs=True)
                    continue
                shutil.rmtree(p)
            else:
                p.unlink()


def remove_litter(folder: Path) -> None:
    """Temporary files of a process killed in the middle of a write (runner.files.atomic_write);
    safe to remove: this process holds the folder's lock."""
    with contextlib.suppress(OSError):
        for tmp in Path(folder).glob(".*.tmp"):
            tmp.unlink()


def start_folder(run_dir: Path, cfg, resume: bool) -> dict | None:
    """The checkpoint to resume a training run from, or None after clearing the folder."""
    run_dir = Path(run_dir)
    remove_litter(run_dir)
    saved = resumable(run_dir, cfg) if resume else None
    if saved is not None:
        return saved
    clear(run_dir)
    with writing(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
    return None


def resumable(run_dir: Path, cfg, header_only: bool = False) -> dict | None:
    """The checkpoint of an unfinished run of this config in run_dir, or None where it holds none;
    a UserError naming what differs where it holds one of another config. A single run asks before
    it writes Hydra's record (header_only: the weights are not read), so a command refused here
    leaves the record of the command that made the run as it was."""
    from runner.train import checkpoint

    path = Path(run_dir) / checkpoint.CHECKPOINT
    if not path.is_file():
        return None
    try:
        saved = checkpoint.load(path, header_only)
    except DataError as ex:
        raise DataError(f"{ex}; delete it to start the run over") from ex
    mine = checkpoint.fingerprint(cfg)
    if saved.get("kind") != "checkpoint" or saved.get("fingerprint") != mine:
        differs = _differences(saved.get("fingerprint"), mine)
        raise UserError(f"{run_dir} holds an unfinished run of another config ({path.name}{differs}); run the "
                        "command that made it to resume it (its .hydra/overrides.yaml), or choose another folder")  # fmt: skip
    return saved


def _differences(then, now, most: int = 3) -> str:
    """': optimizer.lr 0.001 there, 0.1 here; ...' between two checkpoint fingerprints (JSON)."""
    from runner.loggers import flatten

    try:
        before, after = flatten(json.loads(then)), flatten(json.loads(now))
    except (TypeError, ValueError):  # an older checkpoint's fingerprint: nothing to compare
        return ""
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    said = [f"{k} {json.dumps(before.get(k))} there, {json.dumps(after.get(k))} here" for k in keys[:most]]
    return (": " + "; ".join(said) + (f"; {len(keys) - most} more" if len(keys) > most else "")) if keys else ""


def write_hydra_record(folder: Path, task_cfg, hydra_root, overrides) -> None:
    """.hydra/config.yaml, hydra.yaml and overrides.yaml, as Hydra itself would write them."""
    record = Path(folder) / ".hydra"
    atomic_write_text(record / "config.yaml", OmegaConf.to_yaml(task_cfg))
    if hydra_root is not None:
        atomic_write_text(record / "hydra.yaml", OmegaConf.to_yaml(hydra_root))
    atomic_write_text(record / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(list(overrides))))


def root_config(hydra_node) -> dict:
    """Where a command's config comes from besides dlrun's own root config, as Hydra's node
    records it: another --config-name, a --config-dir, a --config-path in place of dlrun's conf/.
    Empty for dlrun's own (so the record of a sweep made before this was kept still matches)."""
    from runner.config.compose import conf_dir

    if hydra_node is None:
        return {}
    out = {}
    name = OmegaConf.select(hydra_node, "job.config_name", default=None)
    if name and name != "config":
        out["config_name"] = str(name)
    folders = [str(Path(s.path).resolve()) for s in OmegaConf.select(hydra_node, "runtime.config_sources", default=[])
               if s.get("schema") == "file" and (s.get("provider") == "command-line" or
                                                 (s.get("provider") == "main" and Path(s.path).resolve() != conf_dir()))]  # fmt: skip
    if folders:
        out["config_folders"] = folders
    return out


def _command(overrides, data_dir, root: dict | None = None) -> dict:
    """What makes a sweep: its overrides (data_dir compared once resolved, however it was given),
    and its root config when it is not dlrun's own (root_config)."""
    skip = {*presentation_keys(), "data_dir"}
    from runner.config.overrides import typed_overrides

    kept = sorted(o for o in typed_overrides(overrides) if o.lstrip("+~").split("=", 1)[0] not in skip)
    command = {"overrides": kept, "data_dir": str(Path(str(data_dir)).expanduser().resolve())}
    return {**command, "root_config": root} if root else command


def _describe_root(root: dict | None) -> str:
    if not root:
        return "dlrun's own"
    said = [f"-cn {root['config_name']}"] if root.get("config_name") else []
    return " ".join(said + [f"--config-dir {f}" for f in root.get("config_folders", [])]) or "dlrun's own"


def refuse_running_jobs(sweep_dir: Path) -> None:
    """A UserError when a job of the sweep still runs from an earlier launch: submitit's jobs hold
    their folders (runner.sweep.job) and SLURM's go on when the dlrun that launched them stops, so
    running the command again at once trained a second copy of each into the same folder."""
    held = [(job, who) for job in sorted(Path(sweep_dir).glob("*/")) if (who := holder(job))]
    if held:
        job, who = held[0]
        where = f"{len(held)} of its job folders" if len(held) > 1 else "one of its job folders"
        raise UserError(f"{sweep_dir}: jobs launched earlier still run in {where} ({job.name}: {who}); run the "
                        "command again once they have ended (under SLURM, scancel stops them)")  # fmt: skip


def _command_differences(before: dict, now: dict) -> list:
    """What differs between two sweep commands: the overrides one has and the other lacks (not
    both lists whole: a grid of ten overrides hid the one that changed), and data_dir."""
    said = []
    then, here = list(before.get("overrides") or []), list(now["overrides"])
    gone, new = [o for o in then if o not in here], [o for o in here if o not in then]
    if gone and new:
        said.append(f"{' '.join(gone)} then, {' '.join(new)} now")
    elif gone or new:
        said.append(f"{' '.join(gone)} left out" if gone else f"{' '.join(new)} added")
    if before.get("data_dir") != now["data_dir"]:
        said.append(f"data_dir {before.get('data_dir')} then, {now['data_dir']} now")
    if before.get("root_config") != now.get("root_config"):
        said.append(f"root config {_describe_root(before.get('root_config'))} then, "
                    f"{_describe_root(now.get('root_config'))} now")  # fmt: skip
    return said


def guard_sweep(sweep_dir: Path, overrides, data_dir, hydra_node=None) -> None:
    """Refuse a sweep folder made by another command (its overrides, data_dir, and root config
    from Hydra's node); remember this command in a new one."""
    sweep_dir = Path(sweep_dir)
    record = sweep_dir / SWEEP_RECORD
    now = _command(overrides, data_dir, root_config(hydra_node))
    before = None
    with contextlib.suppress(OSError, ValueError):
        before = json.loads(record.read_text())
    if before is None and (sweep_dir / "multirun.yaml").is_file():  # a sweep of an older dlrun: its overrides
        with contextlib.suppress(Exception):
            old = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task
            before = {**_command(OmegaConf.to_container(old), data_dir)}
    if before is not None and before != now:
        diff = _command_differences(before, now)
        raise UserError(f"{sweep_dir} holds a sweep of another command ({'; '.join(diff)}); run that command again "
                        "to resume it, or choose a new hydra.sweep.dir")  # fmt: skip
    if before is None:
        atomic_write_text(record, json.dumps(now, indent=2) + "\n")
