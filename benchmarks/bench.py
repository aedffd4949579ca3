"""dlrun's training speed against the DataLoader loop that tutorials teach, on one device.

    python benchmarks/bench.py [--device auto|cpu|cuda] [--quick] [--epochs N] [--seeds N]
    make bench ARGS="--device cpu --quick"

Three workloads (Adam 1e-3, relu, fp32, real data from data_dir) are trained through:
  dataloader0 / dataloader4   per-item PIL image -> ToTensor -> Normalize, DataLoader with
                              shuffle and 0 or 4 workers, .to(device) per batch (what
                              torchvision's own MNIST/CIFAR10 datasets do per sample)
  dlrun_eager                 dlrun's loop with trainer.cuda_graph=off (CUDA only)
  dlrun                       dlrun's loop as users run it (on CUDA: whole-step CUDA graph)
Both paths start from the same initial weights. epoch_s is the median training time of the
epochs after the first (the first pays for warm-up, worker start and graph capture), test_acc
the test accuracy after the last epoch (mean over --seeds). Then the 3 activations x 1, 2, 3
hidden layers of 1024 grid on CIFAR-10 (Adam 1e-3, batch 128, 30 epochs, 35,000 training
samples) is timed end to end as a `dlrun -m` process, start-up included.

Writes outputs/bench/<stamp>/bench.csv and prints the table and the path. A benchmark, not a
test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name -> (dlrun overrides, training samples in --quick, test samples in --quick)
WORKLOADS = {
    "mnist_mlp 784-256-10 b64": (
        ["dataset=mnist", "model=mlp", "model.hidden=[256]", "trainer.batch_size=64"],
        10000,
        2000,
    ),
    "cifar10_mlp 3072-1024-1024-10 b128": (
        ["dataset=cifar10", "model=mlp", "model.hidden=[1024,1024]", "trainer.batch_size=128"],
        5000,
        1000,
    ),
    "cifar10_cnn 32-64-128+512-256-128 b64": (
        [
            "dataset=cifar10",
            "model=cnn",
            "model.conv=[32,64,128]",
            "model.hidden=[512,256,128]",
            "trainer.batch_size=64",
        ],
        2000,
        1000,
    ),
}
COMMON = [
    "optimizer=adam",
    "optimizer.lr=1e-3",
    "activation=relu",
    "regularizer=none",
    "dataset.val_size=0",
    "diagnostics.probes=false",
    "trainer.progress=quiet",
    "trainer.precision=fp32",
]
COLUMNS = [
    "workload",
    "path",
    "device",
    "epoch_s",
    "speedup_vs_dataloader0",
    "test_acc",
    "acc_diff_vs_dataloader0",
    "epochs",
    "seeds",
    "train_samples",
    "test_samples",
    "wall_s",
]


def compose(overrides: list):
    from runner.config.compose import compose as compose_config
    from runner.config.validate import prepare

    return prepare(compose_config(overrides))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(epoch_times: list) -> float:
    return statistics.median(epoch_times[1:] if len(epoch_times) > 1 else epoch_times)


def dlrun_path(cfg) -> tuple[float, float, object]:
    """(median train seconds per epoch, final test accuracy, the engine) through dlrun's trainer."""
    from runner.train.engine import TorchEngine

    engine = TorchEngine(cfg)
    times, acc = [], None
    for n in range(1, cfg.trainer.epochs + 1):
        row, _ = engine.epoch(n)
        times.append(row.train_seconds)
        acc = row.test_acc
    return _timed(times), acc, engine


class TutorialDataset:
    """One sample at a time, as torchvision's MNIST and CIFAR10 datasets serve them."""

    def __init__(self, x, y, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image

        img = self.x[i]
        img = Image.fromarray(img[0], mode="L") if img.shape[0] == 1 else Image.fromarray(img.transpose(1, 2, 0))
        return self.transform(img), int(self.y[i])


def dataloader_path(cfg, workers: int, device, init_state: dict, mean: list, std: list) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from runner.data.sources import load_raw
    from runner.data.splits import carve
    from runner.models import build_model

    raw = load_raw(cfg.dataset, Path(cfg.data_dir), cfg.seed)
    splits = carve(raw.splits, cfg.dataset, cfg.seed, classification=True)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    pin = device.type == "cuda"
    train = DataLoader(
        TutorialDataset(*splits["train"], tf),
        batch_size=cfg.trainer.batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=pin,
    )
    test = DataLoader(TutorialDataset(*splits["test"], tf), batch_size=1000, num_workers=workers, pin_memory=pin)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, (cfg.dataset.channels, *cfg.dataset.image_size), cfg.dataset.num_classes).to(device)
    model.load_state_dict(init_state)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr)
    times = []
    for _ in range(cfg.trainer.epochs):
        model.train()
        _sync(device)
        t0 = time.perf_counter()
        for xb, yb in train:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for xb, yb in test:
            pred = model(xb.to(device)).argmax(1).cpu()
            correct += int((pred == yb).sum())
            total += len(yb)
    return _timed(times), correct / total


def initial_state(cfg) -> dict:
    """The weights dlrun starts from for this seed, so both paths begin at the same point."""
    from runner.models import build_model
    from runner.train.engine import seed_everything

    seed_everything(cfg.seed)
    model = build_model(cfg, (cfg.dataset.channels, *cfg.dataset.image_size), cfg.dataset.num_classes)
    return {k: v.clone() for k, v in model.state_dict().items()}


def bench_workload(name: str, overrides: list, args, device_name: str) -> list:
    quick_train, quick_test = WORKLOADS[name][1:]
    base = (
        overrides
        + COMMON
        + [
            f"data_dir={args.data_dir}",
            f"device={args.device}",
            f"trainer.epochs={args.epochs}",
            f"dataset.download={not args.no_download}",
        ]
    )
    train_n, test_n = (
        args.train_samples or (quick_train if args.quick else 0),
        args.test_samples or (quick_test if args.quick else 0),
    )
    if train_n:
        base.append(f"dataset.subsample={train_n}")
    if test_n:
        base.append(f"dataset.test_subsample={test_n}")
    paths = {}  # path -> list of (epoch_s, acc) per seed
    sizes = {}
    for seed in range(args.seeds):
        cfg = compose(base + [f"seed={seed}"])
        import torch

        from runner.train.engine import pick_device

        device = pick_device(str(cfg.device))
        dl_paths = [] if args.skip_dataloader else [f"dataloader{w}" for w in args.workers]
        dlrun_paths = ["dlrun_eager", "dlrun"] if device.type == "cuda" else ["dlrun"]
        init = initial_state(cfg)
        mean = std = None
        for path in dlrun_paths:
            c = cfg if path == "dlrun" else compose(base + [f"seed={seed}", "trainer.cuda_graph=off"])
            secs, acc, engine = dlrun_path(c)
            paths.setdefault(path, []).append((secs, acc))
            mean, std = engine.data.mean, engine.data.std
            sizes = engine.data.sizes()
            print(
                f"  {name}  seed {seed}  {path:12s} {secs:8.3f} s/epoch  test acc {100 * acc:.2f}%"
                + (f"  cuda graph {engine.cuda_graph()}" if device.type == "cuda" and path == "dlrun" else ""),
                flush=True,
            )
            del engine
            if device.type == "cuda":
                torch.cuda.empty_cache()
        for path in dl_paths:
            secs, acc = dataloader_path(cfg, int(path.removeprefix("dataloader")), device, init, mean, std)
            paths.setdefault(path, []).append((secs, acc))
            print(f"  {name}  seed {seed}  {path:12s} {secs:8.3f} s/epoch  test acc {100 * acc:.2f}%", flush=True)
    ref = paths.get("dataloader0")
    ref_s = statistics.median(s for s, _ in ref) if ref else None
    ref_acc = statistics.fmean(a for _, a in ref) if ref else None
    rows = []
    for path, results in paths.items():
        secs = statistics.median(s for s, _ in results)
        acc = statistics.fmean(a for _, a in results)
        rows.append(
            {
                "workload": name,
                "path": path,
                "device": device_name,
                "epoch_s": secs,
                "speedup_vs_dataloader0": ref_s / secs if ref_s else None,
                "test_acc": acc,
                "acc_diff_vs_dataloader0": (acc - ref_acc) if ref_acc is not None else None,
                "epochs": args.epochs,
                "seeds": args.seeds,
                "train_samples": sizes.get("train"),
                "test_samples": sizes.get("test"),
                "wall_s": None,
            }
        )
    return rows


def bench_grid(args, out_dir: Path, device_name: str) -> dict:
    """The 9-job activation x depth sweep on CIFAR-10, timed as a user would run it."""
    epochs = 1 if args.quick else 30
    cmd = [
        sys.executable,
        "-m",
        "runner.cli",
        "-m",
        "sweep=activation_x_depth",
        "dataset=cifar10",
        "model=mlp",
        "optimizer=adam",
        "optimizer.lr=1e-3",
        "trainer.batch_size=128",
        f"trainer.epochs={epochs}",
        f"data_dir={args.data_dir}",
        f"device={args.device}",
        "trainer.progress=quiet",
        f"hydra.sweep.dir={out_dir / 'grid'}",
    ]
    if args.quick:
        cmd += ["dataset.subsample=2000", "dataset.val_size=0.3", "dataset.test_subsample=1000"]
    else:
        cmd += ["dataset.val_size=15000"]  # 50,000 - 15,000 = 35,000 training samples
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stderr[-2000:], file=sys.stderr)
    name = f"grid 3 act x depth 1-3 x1024 cifar10 {epochs} ep" + (" (quick)" if args.quick else "")
    return {
        "workload": name,
        "path": "dlrun -m (end to end)",
        "device": device_name,
        "epoch_s": None,
        "speedup_vs_dataloader0": None,
        "test_acc": None,
        "acc_diff_vs_dataloader0": None,
        "epochs": epochs,
        "seeds": 1,
        "train_samples": 1400 if args.quick else 35000,
        "test_samples": None,
        "wall_s": wall if res.returncode == 0 else float("nan"),
    }


def _fmt(v, kind: str = "") -> str:
    if v is None:
        return "-"
    if kind == "acc":
        return f"{100 * v:.2f}%"
    if kind == "diff":
        return f"{100 * v:+.2f} pt"
    if kind == "x":
        return f"{v:.1f}x"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _check_args(args) -> str | None:
    """Normalise the arguments in place; return what is wrong with them in one line, or None."""
    args.epochs = 2 if args.epochs is None and args.quick else 3 if args.epochs is None else args.epochs
    if args.epochs < 1:
        return f"--epochs: expected an integer >= 1 (2 or more to leave out the warm-up epoch), got {args.epochs}"
    if args.seeds < 1:
        return f"--seeds: expected an integer >= 1, got {args.seeds}"
    if args.train_samples < 0 or args.test_samples < 0:
        return "--train-samples/--test-samples: expected a count >= 0 (0: all, or the --quick size)"
    try:
        args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        return f"--workers: expected comma-separated worker counts such as 0,4, got {args.workers!r}"
    if any(w < 0 for w in args.workers):
        return f"--workers: expected counts >= 0, got {args.workers}"
    prefixes = [p for p in args.only.split(",") if p]
    args.only = [n for n in WORKLOADS if not prefixes or any(n.startswith(p) for p in prefixes)]
    if not args.only:
        return f"--only: no workload starts with {', '.join(prefixes)}; the workloads are " + ", ".join(
            n.split()[0] for n in WORKLOADS
        )
    dev = args.device
    if not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        return f"--device: expected auto, cpu, cuda, cuda:N or mps, got {dev!r}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("DLRUN_DATA", "data"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="small subsets and 2 epochs: minutes on a CPU")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per path (default 3, --quick 2)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per path; accuracy is their mean")
    ap.add_argument("--workers", default="0,4", help="DataLoader worker counts to time")
    ap.add_argument(
        "--train-samples", type=int, default=0, help="training samples per workload (0: all, or the --quick size)"
    )
    ap.add_argument("--test-samples", type=int, default=0, help="test samples per workload (0: as above)")
    ap.add_argument("--only", default="", help="comma-separated workload prefixes, e.g. mnist_mlp")
    ap.add_argument("--skip-dataloader", action="store_true")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--no-download", action="store_true", help="missing data is an error, never a download")
    ap.add_argument("--out", default=str(REPO / "outputs" / "bench"))
    args = ap.parse_args()
    problem = _check_args(args)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    import warnings

    # torch warns when asked for more workers than cores; the 4-worker path is the tutorial's, kept as is
    warnings.filterwarnings("ignore", message="This DataLoader will create")

    import torch

    from runner.errors import ConfigError, DataError
    from runner.files import write_csv
    from runner.train.engine import device_name, pick_device

    try:
        device = pick_device(args.device)
    except ConfigError as ex:
        print(f"bench: {ex}", file=sys.stderr)
        return 2
    dev_name = f"{device.type}: {device_name(device)}" + (
        f" ({torch.get_num_threads()} threads)" if device.type == "cpu" else ""
    )
    out_dir = Path(args.out) / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S.%f")
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"bench on {dev_name}, {args.epochs} epochs per path{' (quick)' if args.quick else ''}", flush=True)
    rows = []
    try:
        for name in args.only:
            rows += bench_workload(name, WORKLOADS[name][0], args, dev_name)
        if not args.skip_grid:
            rows.append(bench_grid(args, out_dir, dev_name))
    except (ConfigError, DataError) as ex:
        print(f"bench: {ex}", file=sys.stderr)
        if not any(out_dir.iterdir()):
            out_dir.rmdir()  # leave nothing that looks like a result
        return 2
    path = out_dir / "bench.csv"
    write_csv(path, COLUMNS, [[r[c] for c in COLUMNS] for r in rows])
    from runner.console import print_table

    print()
    print_table(
        f"dlrun bench ({dev_name}; epoch_s = median seconds per training epoch)",
        ["workload", "path", "epoch s", "vs dataloader0", "test acc", "acc vs dataloader0", "wall s"],
        [
            [
                r["workload"],
                r["path"],
                _fmt(r["epoch_s"]),
                _fmt(r["speedup_vs_dataloader0"], "x"),
                _fmt(r["test_acc"], "acc"),
                _fmt(r["acc_diff_vs_dataloader0"], "diff"),
                _fmt(r["wall_s"]),
            ]
            for r in rows
        ],
        mode="plain",
    )
    far = [
        r for r in rows if r["acc_diff_vs_dataloader0"] is not None and abs(r["acc_diff_vs_dataloader0"]) > 0.01 + 1e-9
    ]
    for r in far:
        print(
            f"note: {r['workload']} {r['path']}: test accuracy differs from dataloader0 by more than 1 point "
            f"({100 * r['acc_diff_vs_dataloader0']:+.2f}); with few epochs or small data try --seeds 3"
        )
    print(f"\nbench.csv: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
