"""Re-render the report of a sweep folder, the plots and report of a single run folder, or the
plots and report of a study folder, from files.

    python -m runner.report outputs/sweeps/<name>/<stamp>
    python -m runner.report outputs/runs/<date>/<time>_<name>      (a training run, task=eval's or task=gradcheck's folder)
    python -m runner.report outputs/runs/<date>/<time>_<study>
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list) -> int:
    """Render, and say in one line what stopped it: a folder of the wrong kind, files that are
    missing, unreadable or corrupt, or a result that could not be written."""
    from runner.errors import UserError
    from runner.say import tolerate_console_encoding

    tolerate_console_encoding()
    try:
        return _render(argv)
    except UserError as ex:
        print(f"report: error: {ex}", file=sys.stderr)
    except Exception as ex:  # noqa: BLE001 - a hand-edited or damaged folder; DLRUN_DEBUG=1 shows where
        import os

        if os.environ.get("DLRUN_DEBUG"):
            raise
        from runner.errors import reason

        target = argv[0] if argv else "the folder"
        print(f"report: error: cannot render {target}: its files do not read as dlrun wrote them ({reason(ex)})",
              file=sys.stderr)  # fmt: skip
    return 2


def _render(argv: list) -> int:
    if len(argv) != 1:
        print("usage: python -m runner.report DIR   (a sweep, run or study folder)", file=sys.stderr)
        return 2
    from runner.say import say  # what it wrote; a reader that is gone (| head) does not stop it

    target = Path(argv[0])
    if not target.is_dir():
        what = f"is a file; give the folder that holds it ({target.parent})" if target.exists() else "does not exist"
        print(f"report: error: {target} {what}", file=sys.stderr)
        return 2
    from runner.runfolder import holder

    busy = holder(target)
    if busy is not None:  # a progress snapshot is fine; say it is one
        print(f"report: note: {target} is in use by a running dlrun ({busy}): this is a snapshot, and that dlrun "
              "writes the report again when it ends", file=sys.stderr)  # fmt: skip
    if (target / "metrics.csv").is_file() or (target / "eval.csv").is_file():  # a run, or an eval of one
        from runner.errors import DataError
        from runner.files import read_json
        from runner.report.run_plots import render_run
        from runner.report.run_report import write_run_report

        summary = target / "summary.json"
        if summary.is_file() and read_json(summary) is None:  # checked first: nothing is redrawn from half a run
            raise DataError(f"{summary}: not a readable JSON object; the run's report needs it")
        for p in render_run(target):
            say(str(p))
        if summary.is_file():  # report.html embeds the plots: redraw it with them
            write_run_report(target)
            say(str(target / "report.html"))
        return 0
    from runner.report.gradcheck_report import is_gradcheck_dir, write_gradcheck_report

    if is_gradcheck_dir(target):  # task=gradcheck's folder
        write_gradcheck_report(target)
        say(str(target / "plots" / "gradcheck.png"))
        say(str(target / "report.html"))
        return 0
    from runner import reproduce
    from runner.studies import is_study_dir, rerender
    from runner.sweep.summary import is_sweep_dir

    if reproduce.is_reproduction_dir(target):
        reproduce.rerender(target)
        say(str(target / "reproduction.html"))
        return 0

    if is_study_dir(target):
        try:
            rerender(target)
        except Exception as ex:  # a study stopped before its CSVs were written (read raw, or through `reading`)
            missing = ex if isinstance(ex, FileNotFoundError) else ex.__cause__
            if not isinstance(missing, FileNotFoundError):
                raise
            print(
                f"report: error: {target} is a study folder without {Path(missing.filename).name}: the study did not "
                f"finish; run it again",
                file=sys.stderr,
            )
            return 2
        return 0
    if not is_sweep_dir(target):
        if (target / "config.yaml").is_file():  # damaged, it would hide the folder's kind: name it instead
            from runner.files import read_config

            read_config(target / "config.yaml")
        print(
            f"report: error: {target} is neither a sweep folder (one with multirun.yaml), a run folder "
            f"(one with metrics.csv, eval.csv or gradcheck.csv) nor a study folder (config.yaml with task: study)",
            file=sys.stderr,
        )
        return 2
    from runner.report.sweep_report import render_sweep
    from runner.sweep.callback import print_outcome

    print_outcome(render_sweep(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
