"""Re-render the report of a sweep folder, or the plots of a single run folder, from files.

    python -m runner.report outputs/sweeps/<name>/<stamp>
    python -m runner.report outputs/runs/<date>/<time>_<name>
"""
from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list) -> int:
    if len(argv) != 1:
        print("usage: python -m runner.report DIR   (a sweep folder or a run folder)", file=sys.stderr)
        return 2
    target = Path(argv[0])
    if (target / "metrics.csv").is_file():
        from runner.report.run_plots import render_run

        for p in render_run(target):
            print(p)
        return 0
    from runner.sweep.summary import is_sweep_dir

    if not is_sweep_dir(target):
        print(f"report: error: {target} is neither a sweep folder (one with multirun.yaml) nor a run folder "
              f"(one with metrics.csv)", file=sys.stderr)
        return 2
    from runner.report.sweep_report import render_sweep
    from runner.sweep.callback import print_outcome

    print_outcome(render_sweep(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
