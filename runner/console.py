"""What a run prints: a progress bar over epochs with one compact line per epoch and a final
summary table on a terminal; the same lines, plain, when stdout is a pipe or a CI log, or
when the job logs (runner.say)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from runner import signals
from runner.formatting import number, percent, spread, spread_number
from runner.registry.data import SPLITS
from runner.say import job_logger, say, to_console
from runner.train.rows import EpochRow
from runner.train.verdict import verdict_lines


class _Console(Console):
    """rich's Console, for dlrun: a closed pipe stops the command as SIGPIPE does the plain lines
    (runner.say.to_console), where rich's own answer was SystemExit(1) mid-epoch."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        signals.output_closed()


def _lines_when_logged(mode: str) -> str:
    """With a job logging, plain lines: a bar or a rich table would draw over its records."""
    return "plain" if mode in ("auto", "bar") and job_logger() is not None else mode


def epoch_line(row: EpochRow, epochs: int) -> str:
    width = len(str(epochs))
    parts = [f"epoch {row.epoch:>{width}}/{epochs}"]
    for split in row.measured():
        acc = row.get(f"{split}_acc")
        parts.append(f"{split} {number(row.get(f'{split}_loss'))}" + ("" if acc is None else f" {percent(acc, 1, 5)}"))
    parts.append(f"{row.seconds:.2f}s")
    return "  ".join(parts)


class Reporter:
    def __init__(self, mode: str, epochs: int, label: str = ""):
        mode = _lines_when_logged(mode)
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "plain"
        self.mode, self.epochs, self.label = mode, epochs, label
        # no markup: paths and overrides like model.hidden=[16] must print as they are
        self.console = _Console(highlight=False, markup=False, soft_wrap=True)
        self._progress = self._task = None

    def _print(self, text: str, **kw) -> None:
        if self.mode == "quiet":
            return
        text = self.label + text
        if self.mode == "bar":
            with to_console():
                self.console.print(text, **kw)
        else:
            say(text)

    def start(self, lines: list) -> None:
        for line in lines:
            self._print(line)
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]epochs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._progress.add_task("train", total=self.epochs)
            self._progress.start()

    def epoch(self, row: EpochRow) -> None:
        line = epoch_line(row, self.epochs)
        if self._progress is not None:
            line = self.label + line
            with to_console():
                self._progress.console.print(line, highlight=False)
            self._progress.advance(self._task)
        else:
            self._print(line)

    def note(self, line: str) -> None:
        self._print(f"note: {line}")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def finish(self, summary: dict, run_dir) -> None:
        self.stop()
        if self.mode == "quiet":
            return
        final, best = summary.get("final", {}), summary.get("best", {})
        std = summary.get("final_std") or {}  # trainer.replicas > 1: spread over the copies
        rows = []
        for split in SPLITS:
            if f"{split}_loss" not in final:
                continue
            acc, best_acc = final.get(f"{split}_acc"), best.get(f"{split}_acc")
            best_txt = "" if best_acc is None else f"{percent(best_acc)} (epoch {best[f'{split}_acc_epoch']})"
            acc_txt = "" if acc is None else spread(acc, std.get(f"{split}_acc"))
            rows.append((split, spread_number(final[f"{split}_loss"], std.get(f"{split}_loss")), acc_txt, best_txt))
        facts = [
            f"status {summary['status']}",
            f"{summary['params']:,} parameters",
            f"device {summary['device']}",
            f"{summary['wall_seconds']:.1f}s wall",
        ]
        if summary.get("replicas", 1) > 1:
            facts.insert(2, f"mean of {summary['replicas']} replicas")
        if summary.get("precision", "fp32") != "fp32":
            facts.insert(-1, summary["precision"])
        verdicts = verdict_lines(summary)
        if self.mode == "bar":
            table = Table(title=f"{summary['name']}: " + ", ".join(facts), title_justify="left")
            # regression has no accuracy: its two columns would stay empty
            keep = [i for i in range(4) if i < 2 or any(r[i] for r in rows)]
            for i in keep:
                col = ("split", "final loss", "final accuracy", "best accuracy")[i]
                # a narrow terminal folds a value onto two lines: cut to "0.3…", the number was lost
                table.add_column(col, justify="left" if col == "split" else "right", overflow="fold")
            for r in rows:
                table.add_row(*(r[i] for i in keep))
            with to_console():
                self.console.print(table)
                for line in verdicts:
                    self.console.print(self.label + line)
                self.console.print(f"files: {run_dir}")
        else:
            self._print(f"done: {summary['name']}: " + ", ".join(facts))
            for split, loss, acc, best_txt in rows:
                extra = f"  accuracy {acc}" if acc else ""
                extra += f"  best {best_txt}" if best_txt else ""
                self._print(f"  {split:5s} loss {loss}{extra}")
            for line in verdicts:
                self._print(line)
            self._print(f"files: {run_dir}")


def print_table(title: str, columns: list, rows: list, mode: str = "auto") -> None:
    """A titled table: rich on a terminal, aligned plain text otherwise."""
    mode = _lines_when_logged(mode)
    if mode == "quiet":
        return
    if mode == "bar" or (mode == "auto" and sys.stdout.isatty()):
        table = Table(title=title, title_justify="left")
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*[str(v) for v in r])
        with to_console():
            _Console(highlight=False, markup=False).print(table)
        return
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) if rows else len(str(c)) for i, c in enumerate(columns)]
    say(title)
    say("  " + "  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        say("  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
