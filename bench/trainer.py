"""trainer.fit against a minimal hand-written PyTorch loop on the same spec, in the same process.

Targets (BENCHMARKS.md): plain fit ≤ 1.05× the hand loop, instrumented ≤ 1.15×, peak RSS ≤ 1.5×.

W1: digits, MLP 64-128-128-10 ReLU, Adam, batch 64.
W2: 100,000×64 synthetic, MLP 64-512-512-512-10 with BatchNorm, batch 256 (an uploaded-dataset npz).

The machine is noisy, so the variants are interleaved within each round (in rotating order) and the
figure is the median of the per-round ratios. Peak RSS is measured in fresh subprocesses (the median
of three per variant), because ru_maxrss never goes down within a process.

`python -m bench.trainer --device cuda` runs the same comparison on a GPU (written to
trainer_cuda.json): every variant's tensors and model live on the GPU, W2 trains GPU_W2_EPOCHS epochs
(one epoch there is a fraction of a second), a bf16-autocast run of fit is timed beside them, and W2's
peak GPU memory (torch.cuda.max_memory_allocated) stands in for peak RSS.

Torch runs on THREADS intra-op threads. One by default: on a shared machine with few cores, OpenMP
threads spin at every barrier and a run swings by whole multiples whenever another process wakes
up, which drowns a 5% question. One thread makes each step slower, so a fixed per-step cost weighs
a little less than it would with more threads.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from trainer import fit
from trainwell.spec import JobSpec

RESULTS = Path(__file__).parent / "results" / "trainer.json"
CUDA_RESULTS = Path(__file__).parent / "results" / "trainer_cuda.json"
GPU_W2_EPOCHS = 5
THREADS = 1
RSS_RUNS = 3
W2_ID = "ds_00000000000000b2"
W2_ROWS, W2_FEATURES, W2_CLASSES = 100_000, 64, 10

WORKLOADS: dict[str, dict[str, Any]] = {
    "W1": {
        "spec": {
            "dataset": {"name": "digits"},
            "model": {"hidden": [128, 128], "activation": "relu"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "batch_size": 64,
            "epochs": 20,
        },
        "rounds": 15,
    },
    "W2": {
        "spec": {
            "dataset": {"name": W2_ID},
            "model": {"hidden": [512, 512, 512], "activation": "relu", "norm": "batch"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "batch_size": 256,
            "epochs": 1,  # one epoch (250 steps + evaluation) per run keeps the bench within minutes on 2 CPU cores
        },
        "rounds": 5,
    },
}


def write_w2(data_dir: Path) -> None:
    """Gaussian features labelled by a random linear teacher: learnable, and the same in every process."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(W2_ROWS, W2_FEATURES)).astype(np.float32)
    teacher = rng.normal(size=(W2_FEATURES, W2_CLASSES))
    y = (X @ teacher + rng.normal(scale=2.0, size=(W2_ROWS, W2_CLASSES))).argmax(axis=1).astype(np.int64)
    (data_dir / "datasets").mkdir(parents=True, exist_ok=True)
    np.savez(data_dir / "datasets" / f"{W2_ID}.npz", X=X, y=y, task=np.array("classification"))


def spec_for(workload: str, instrumented: bool, device: str = "cpu", precision: str = "fp32") -> JobSpec:
    spec = dict(WORKLOADS[workload]["spec"])
    spec["instrumentation"] = {"enabled": instrumented}
    spec["device"], spec["precision"] = device, precision
    if device == "cuda" and workload == "W2":
        spec["epochs"] = GPU_W2_EPOCHS
    return JobSpec.model_validate(spec)


# -- the baseline: what a careful person writes by hand -----------------------------------------


def hand_loop(spec: JobSpec, data_dir: Path) -> float:
    """Load, split 80/20 twice, standardize, train with randperm batches, evaluate val and test every epoch."""
    torch.manual_seed(spec.seed)
    device = torch.device(spec.device)
    if spec.dataset.name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        with np.load(data_dir / "datasets" / f"{spec.dataset.name}.npz", allow_pickle=False) as npz:
            X, y = npz["X"], npz["y"]
    X_dev, X_test, y_dev, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(X_dev, y_dev, test_size=0.2, random_state=0, stratify=y_dev)
    mean, std = X_train.mean(0), X_train.std(0)
    std[std == 0] = 1

    def tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.from_numpy(((X - mean) / std).astype(np.float32)).to(device),
            torch.from_numpy(y.astype(np.int64)).to(device),
        )

    (Xtr, ytr), (Xv, yv), (Xte, yte) = tensors(X_train, y_train), tensors(X_val, y_val), tensors(X_test, y_test)
    layers: list[nn.Module] = []
    width = Xtr.shape[1]
    for hidden in spec.model.hidden:
        layers += [
            nn.Linear(width, hidden),
            *([nn.BatchNorm1d(hidden)] if spec.model.norm == "batch" else []),
            nn.ReLU(),
        ]
        width = hidden
    model = nn.Sequential(*layers, nn.Linear(width, int(y.max()) + 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.optimizer.lr)
    loss_fn = nn.CrossEntropyLoss()
    n, size = len(Xtr), spec.batch_size
    for _ in range(spec.epochs):
        model.train()
        total, correct = torch.zeros((), device=device), torch.zeros((), dtype=torch.long, device=device)
        order = torch.randperm(n, device=device)
        for start in range(0, n, size):
            rows = order[start : start + size]
            xb, yb = Xtr[rows], ytr[rows]
            out = model(xb)
            loss = loss_fn(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(rows)
            correct += (out.argmax(1) == yb).sum()
        model.eval()
        with torch.no_grad():
            scores = [total / n, correct / n]
            for Xs, ys in ((Xv, yv), (Xte, yte)):
                out = model(Xs)
                scores += [loss_fn(out, ys), (out.argmax(1) == ys).float().mean()]
            torch.stack([s.float() for s in scores]).tolist()  # one host sync per epoch, as fit does
    return 0.0


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # a variant's time includes the kernels it queued
    return time.perf_counter() - started


def lightning_available() -> bool:
    return lightning_version() is not None


def lightning_version() -> str | None:
    try:
        import lightning
    except ImportError:
        return None
    return str(lightning.__version__)


def lightning_loop(spec: JobSpec, data_dir: Path) -> float:
    """The same model and data through PyTorch Lightning with every extra turned off (bench extra only)."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(spec.seed)
    if spec.dataset.name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        with np.load(data_dir / "datasets" / f"{spec.dataset.name}.npz", allow_pickle=False) as npz:
            X, y = npz["X"], npz["y"]
    X_dev, _, y_dev, _ = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(X_dev, y_dev, test_size=0.2, random_state=0, stratify=y_dev)
    mean, std = X_train.mean(0), X_train.std(0)
    std[std == 0] = 1

    def loader(X: np.ndarray, y: np.ndarray, shuffle: bool) -> DataLoader:
        data = TensorDataset(
            torch.from_numpy(((X - mean) / std).astype(np.float32)), torch.from_numpy(y.astype(np.int64))
        )
        return DataLoader(data, batch_size=spec.batch_size if shuffle else len(data), shuffle=shuffle)

    layers: list[nn.Module] = []
    width = X.shape[1]
    for hidden in spec.model.hidden:
        layers += [
            nn.Linear(width, hidden),
            *([nn.BatchNorm1d(hidden)] if spec.model.norm == "batch" else []),
            nn.ReLU(),
        ]
        width = hidden
    net = nn.Sequential(*layers, nn.Linear(width, int(y.max()) + 1))

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch: Any, _: int) -> torch.Tensor:
            return nn.functional.cross_entropy(self.net(batch[0]), batch[1])

        def validation_step(self, batch: Any, _: int) -> None:
            self.log("val_loss", nn.functional.cross_entropy(self.net(batch[0]), batch[1]))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=spec.optimizer.lr)

    trainer = L.Trainer(
        max_epochs=spec.epochs,
        accelerator="gpu" if spec.device == "cuda" else "cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(Module(), loader(X_train, y_train, True), loader(X_val, y_val, False))
    return 0.0


def measure(workload: str, data_dir: Path, device: str = "cpu") -> dict[str, Any]:
    plain, instrumented = spec_for(workload, False, device), spec_for(workload, True, device)
    variants: dict[str, Callable[[], object]] = {
        "hand": lambda: hand_loop(plain, data_dir),
        "plain": lambda: fit(plain, data_dir=data_dir),
        "instrumented": lambda: fit(instrumented, data_dir=data_dir),
    }
    if device == "cuda":
        bf16 = spec_for(workload, True, device, "bf16")
        variants["bf16"] = lambda: fit(bf16, data_dir=data_dir)
    if lightning_available():
        variants["lightning"] = lambda: lightning_loop(plain, data_dir)
    for run in variants.values():
        run()  # warm-up: first-call costs (imports, allocator, kernel selection) belong to nobody
    names = list(variants)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(WORKLOADS[workload]["rounds"]):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(timed(variants[name]))
    ratios = {name: [s / h for s, h in zip(seconds[name], seconds["hand"], strict=True)] for name in names[1:]}
    return {
        **{f"ratio_{name}": round(statistics.median(r), 3) for name, r in ratios.items()},
        "ratio_lightning": round(statistics.median(ratios["lightning"]), 3) if "lightning" in ratios else None,
        "ratio_range": {name: [round(min(r), 3), round(max(r), 3)] for name, r in ratios.items()},
        "seconds_median": {name: round(statistics.median(s), 3) for name, s in seconds.items()},
        "rounds": WORKLOADS[workload]["rounds"],
        "epochs": plain.epochs,
    }


def peak_rss(variant: str, data_dir: Path) -> int:
    """Peak RSS in KiB of one W2 run in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.trainer", "--rss", variant, str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    return int(out.stdout.strip().splitlines()[-1])


def _rss_child(variant: str, data_dir: Path) -> None:
    torch.set_num_threads(THREADS)
    spec = spec_for("W2", instrumented=True)
    hand_loop(spec, data_dir) if variant == "hand" else fit(spec, data_dir=data_dir)
    print(_peak_rss_kib())


def _peak_rss_kib() -> int:
    # Linux carries ru_maxrss across exec: a child of the (large) bench process would report the
    # parent's peak. VmHWM belongs to the child's own address space; ru_maxrss is the fallback elsewhere.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_gpu_memory(variant: str, data_dir: Path) -> int:
    """Peak bytes allocated on the GPU by one W2 run (instrumented, as the RSS figure is)."""
    spec = spec_for("W2", instrumented=True, device="cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    hand_loop(spec, data_dir) if variant == "hand" else fit(spec, data_dir=data_dir)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def main(device: str = "cpu") -> dict[str, Any]:
    torch.set_num_threads(THREADS)
    results: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "lightning": lightning_version(),
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
    }
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        write_w2(data_dir)
        for workload in WORKLOADS:
            results[workload] = measure(workload, data_dir, device)
        if device == "cpu":  # fresh processes: independent of the timed runs above
            runs = [(peak_rss("hand", data_dir), peak_rss("fit", data_dir)) for _ in range(RSS_RUNS)]
            hand, trainer = (statistics.median(r[i] for r in runs) for i in (0, 1))
            results["W2"]["rss_ratio"] = round(trainer / hand, 3)
            results["W2"]["rss_mib"] = {"hand": round(hand / 1024), "fit": round(trainer / 1024)}
        else:  # after the timed runs: their warm-up already paid the allocator's and the kernels' first costs
            hand, trainer = peak_gpu_memory("hand", data_dir), peak_gpu_memory("fit", data_dir)
            results["W2"]["gpu_memory_ratio"] = round(trainer / hand, 3)
            results["W2"]["gpu_memory_mib"] = {"hand": round(hand / 2**20), "fit": round(trainer / 2**20)}
    path = RESULTS if device == "cpu" else CUDA_RESULTS
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"wrote {path}")
    return results


def print_table(results: dict[str, Any]) -> None:
    memory = "rss" if results["device"] == "cpu" else "gpu mem"
    print(
        f"{'workload':<9}{'plain':>8}{'instr.':>8}{'bf16':>7}{'lightning':>11}{memory:>9}"
        f"   (× a hand-written loop on {results['device']}; median of paired rounds)"
    )
    for workload in WORKLOADS:
        row = results[workload]
        bf16 = f"{row['ratio_bf16']:.3f}" if "ratio_bf16" in row else "-"
        lightning = "n/a" if row["ratio_lightning"] is None else f"{row['ratio_lightning']:.2f}"
        peak = row.get("rss_ratio", row.get("gpu_memory_ratio"))
        print(
            f"{workload:<9}{row['ratio_plain']:>8.3f}{row['ratio_instrumented']:>8.3f}{bf16:>7}{lightning:>11}"
            f"{'-' if peak is None else f'{peak:.2f}':>9}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--rss":
        _rss_child(sys.argv[2], Path(sys.argv[3]))
    elif sys.argv[1:] == ["--device", "cuda"]:
        main("cuda")
    else:
        main()
