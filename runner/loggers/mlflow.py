"""logger=mlflow: one MLflow run per dlrun run, through MLflow's own client.

- Tracking store: logger.mlflow.tracking_uri (default sqlite:///outputs/mlflow.db, any URI
  MLflow takes); experiment logger.mlflow.experiment; artifacts beside an SQLite store
  (outputs/mlartifacts/) unless the experiment already says where.
- A sweep gets a parent run (created by the first job that logs, its id kept in the sweep
  folder's .mlflow-parent); each job's run is nested under it. When the sweep ends, the parent
  gets the sweep's summary.csv, report and plots, the jobs' status counts (jobs_<status>), and
  ends FAILED when a job failed or did not finish, else FINISHED; a stop signal ends it
  KILLED; running the sweep again reopens it.
- Params: the resolved config (dotted keys). Metrics: every metrics.csv column with the epoch
  as step; at the end the final and best metrics. Tags: dlrun's `tags`, the run folder, the
  status. Artifacts: summary.json, metrics.csv, the plots and the report.
- A resumed run goes on in the same MLflow run (its id kept in <run>/.mlflow-run), and so does
  one killed before its first checkpoint; epochs a killed run had logged are not logged again.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from runner.locks import flock
from runner.loggers import RunLogger, flat_params

RUN_ID_FILE = ".mlflow-run"
PARENT_FILE = ".mlflow-parent"
BATCH = 100  # MLflow's limit on params per log_batch call
PROBE_SECONDS = 5  # how long the first contact with a tracking server may take


def _sweep_dir(run_dir: Path) -> Path | None:
    """The sweep folder a job belongs to (where the sweep's start wrote its record, or Hydra its
    multirun.yaml), else None."""
    from runner.runfolder import SWEEP_RECORD

    parent = Path(run_dir).resolve().parent
    return parent if any((parent / f).is_file() for f in (SWEEP_RECORD, "multirun.yaml")) else None


def _answers(uri: str) -> None:
    """Raise in seconds when no server answers at an http(s) tracking URI. MLflow retries a
    failed request 7 times with back-off, which rides out a server's rate limit but made a
    mistyped or stopped server cost each run 4 minutes (measured: 250 s) before the logger
    gave up; any HTTP answer, even an error, means a server is there."""
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=PROBE_SECONDS)
    except requests.RequestException as ex:
        why = f"no answer in {PROBE_SECONDS} s" if isinstance(ex, requests.Timeout) else _root(ex)
        raise ConnectionError(f"logger.mlflow.tracking_uri: no server answers at {uri} ({why}); "
                              "start it (mlflow server) or give another URI") from None  # fmt: skip


def _root(ex: BaseException) -> str:
    """The operating system's words under requests' and urllib3's wrappers ('Connection
    refused', 'Name or service not known'), else the outer exception's type."""
    seen = ex
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        inner = getattr(seen, "reason", None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__ or seen.__context__
    return type(ex).__name__


def _make_folder(folder: Path, uri: str) -> None:
    """The SQLite store's folder, or an error naming the key: mkdir's own words
    ("File exists: '/etc/passwd'") did not say which setting pointed there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        why = f"{ex.filename} is a file" if isinstance(ex, FileExistsError) else f"{ex.strerror}: {ex.filename}"
        raise OSError(f"logger.mlflow.tracking_uri: cannot make the folder {folder} for {uri} ({why}); "
                      "give a path under a writable folder") from None  # fmt: skip


@contextlib.contextmanager
def _quiet(*names: str):
    """MLflow's and alembic's INFO lines while a new store makes its tables ("Creating initial
    MLflow database tables...") broke into dlrun's own lines in every first run; warnings pass."""
    import logging

    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on `path` (created if missing) across processes."""
    with open(path, "a") as f:
        flock(f, wait=True)
        yield


class MlflowLogger(RunLogger):
    def __init__(self, cfg):
        self.section = cfg.logger.mlflow
        self.client = None
        self.logged = 0  # the last epoch this MLflow run already holds (a run killed and run again)

    def _store(self):
        """The client and the experiment's id. Parallel jobs (joblib, submitit) open a new SQLite
        store together: MLflow creates its tables on first use, and two processes doing that at
        once break each other (measured: 4 of 4 failed), so a lock beside the file makes them
        take turns, and the experiment is created once."""
        from mlflow.tracking import MlflowClient

        uri = str(self.section.tracking_uri)
        artifacts, lock = None, contextlib.nullcontext()
        if uri.startswith("sqlite:///"):
            db = Path(uri[len("sqlite:///") :])
            _make_folder(db.parent, uri)
            artifacts = (db.parent / "mlartifacts").resolve().as_uri()
            lock = _locked(db.with_name(db.name + ".lock"))
        elif uri.startswith(("http://", "https://")):
            _answers(uri)
        with lock, _quiet("mlflow.store.db.utils", "alembic"):
            client = MlflowClient(tracking_uri=uri)
            exp = client.get_experiment_by_name(self.section.experiment)  # the first call creates the tables
            exp_id = exp.experiment_id if exp else client.create_experiment(self.section.experiment, artifacts)
        return client, exp_id

    def _parent(self, sweep: Path) -> str:
        """The sweep's MLflow run, created once (a lock keeps parallel jobs to one)."""
        with _locked(sweep / (PARENT_FILE + ".lock")):
            path = sweep / PARENT_FILE
            if path.is_file():  # a sweep run again (or a later job): its parent is running again
                run_id = path.read_text().strip()
                if self.client.get_run(run_id).info.status != "RUNNING":
                    self.client.update_run(run_id, status="RUNNING")
                return run_id
            run = self.client.create_run(self.exp_id, run_name=sweep.name, tags={"dlrun.sweep_dir": str(sweep)})
            path.write_text(run.info.run_id)
            return run.info.run_id

    def start(self, cfg, run_dir: Path, summary: dict, resumed_at: int | None) -> None:
        from mlflow.entities import Param

        self.client, self.exp_id = self._store()
        run_dir = Path(run_dir)
        id_file = run_dir / RUN_ID_FILE
        if id_file.is_file() and self._reopen(id_file.read_text().strip(), resumed_at):
            return
        tags = {"dlrun.run_dir": str(run_dir.resolve()), **{f"tag.{t}": "true" for t in summary.get("tags") or []}}
        if summary.get("tags"):
            tags["dlrun.tags"] = ",".join(summary["tags"])
        sweep = _sweep_dir(run_dir)
        if sweep is not None:
            tags["mlflow.parentRunId"] = self._parent(sweep)
        name = f"{run_dir.name}" if sweep is not None else str(cfg.name)
        self.run_id = self.client.create_run(self.exp_id, run_name=name, tags=tags).info.run_id
        id_file.write_text(self.run_id)
        params = [Param(k, str(v)[:6000]) for k, v in flat_params(cfg).items()]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH])

    def _reopen(self, run_id: str, resumed_at: int | None) -> bool:
        """Go on in the run's earlier MLflow run: a resumed run (also resumed_at 0: stopped before
        its first epoch), or one killed before its first checkpoint, which starts over in the
        same folder and left its MLflow run RUNNING. A SIGKILL loses the epochs after the last
        checkpoint but not what they logged, and MLflow cannot delete metrics, so the epochs
        trained again are not logged again (on the CPU their numbers are the same)."""
        from mlflow.exceptions import MlflowException

        try:
            status = self.client.get_run(run_id).info.status
        except MlflowException:  # not in this store (logger.mlflow.tracking_uri changed): a new run
            return False
        if resumed_at is None and status != "RUNNING":
            return False  # a failed attempt, ended as such: the new one gets its own run
        self.run_id = run_id
        self.client.update_run(run_id, status="RUNNING")
        self.logged = max((m.step for m in self.client.get_metric_history(run_id, "seconds")), default=0)
        return True

    def _opened_parent(self, sweep_dir: Path) -> str | None:
        """The sweep's parent run id with the store open, or None when no job created one."""
        path = Path(sweep_dir) / PARENT_FILE
        if not path.is_file():
            return None
        self.client, self.exp_id = self._store()
        return path.read_text().strip()

    def sweep_end(self, sweep_dir: Path, counts: dict) -> None:
        """The parent run (if a job created one): the sweep's files, its status counts, its end."""
        run_id = self._opened_parent(sweep_dir)
        if run_id is None:
            return
        self.client.log_batch(
            run_id, metrics=self._metrics({f"jobs_{k.replace(' ', '_')}": v for k, v in counts.items()}, 0)
        )
        if self.section.artifacts:
            self._artifacts(run_id, Path(sweep_dir), ("summary.csv", "report.md", "report.html"))
        from runner.sweep.state import failed

        self.client.set_terminated(run_id, status="FAILED" if failed(counts) else "FINISHED")

    def sweep_stopped(self, sweep_dir: Path) -> None:
        run_id = self._opened_parent(sweep_dir)
        if run_id is not None:
            self.client.set_terminated(run_id, status="KILLED")

    def _artifacts(self, run_id: str, folder: Path, names: tuple) -> None:
        for name in names:
            if (folder / name).is_file():
                self.client.log_artifact(run_id, str(folder / name))
        if (folder / "plots").is_dir():
            self.client.log_artifacts(run_id, str(folder / "plots"), "plots")

    def _metrics(self, values: dict, step: int, prefix: str = "") -> list:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        return [Metric(f"{prefix}{k}", float(v), now, step) for k, v in values.items()
                if k not in ("epoch", "replica") and isinstance(v, (int, float)) and v is not None]  # fmt: skip

    def epoch(self, row, per_replica: list, layer_rows: list) -> None:
        if row.epoch <= self.logged:
            return
        metrics = self._metrics(row.as_dict(), row.epoch)
        for r in per_replica:
            metrics += self._metrics(r.as_dict(), row.epoch, f"replica_{r.replica}.")
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000])

    def end(self, summary: dict, run_dir: Path) -> None:
        if self.client is None:
            return
        run_dir = Path(run_dir)
        step = int(summary.get("epochs_run") or 0)
        final = {f"final_{k}": v for k, v in (summary.get("final") or {}).items()}
        best = {f"best_{k}": v for k, v in (summary.get("best") or {}).items() if not k.endswith("_epoch")}
        self.client.log_batch(self.run_id, metrics=self._metrics({**final, **best}, step))
        self.client.set_tag(self.run_id, "dlrun.status", str(summary.get("status")))
        if self.section.artifacts:
            self._artifacts(self.run_id, run_dir, ("summary.json", "metrics.csv", "report.md", "report.html"))
        status = {"ok": "FINISHED", "interrupted": "KILLED"}.get(str(summary.get("status")), "FAILED")
        self.client.set_terminated(self.run_id, status=status)
