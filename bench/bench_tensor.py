"""pyeddl `Tensor` math against the same operation written directly in torch and in numpy.

Each op runs on a float32 tensor of SIZE elements (and on a small one, where the wrapper's Python
overhead shows most); interleaved rounds on fresh buffers. Times are this thread's CPU time per call
(`time.thread_time`: the time other processes hold the core is not counted, which matters on a
shared machine), the median over rounds; the ratio is the median over rounds of baseline time / our
time measured back to back (1.0 = as fast; the goal is ≥ 0.9 against torch).

Run: `python bench/bench_tensor.py [--size N] [--rounds R] [--only add,select]` (prints a Markdown
table; `--only` keeps the ops whose name contains one of the words). Not a test.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from deephealth.eddl import Tensor

Case = tuple[str, Callable[[], object], Callable[[], object], Callable[[], object]]


def cases(n: int) -> list[Case]:
    """(name, ours, torch, numpy) closures, each case on fresh data of n elements.

    In-place ops are chosen so that repeating them keeps ordinary values (no overflow, no
    denormals): multiplying by ones, square roots of values >= 0.5, clamps, normalizations.
    """
    side = int(round(n**0.5))
    rng = np.random.default_rng(0)

    def data() -> tuple:
        a = rng.random((side, side), dtype=np.float32) + 0.5
        return Tensor.fromarray(a), torch.from_numpy(a.copy()), a.copy()

    out: list[Case] = []

    def case(name: str, ours: Callable, plain: Callable, nump: Callable, two: bool = False) -> None:
        t, ta, na = data()
        if two:
            u, tb, nb = data()
            out.append((name, lambda: ours(t, u), lambda: plain(ta, tb), lambda: nump(na, nb)))
        else:
            out.append((name, lambda: ours(t), lambda: plain(ta), lambda: nump(na)))

    ones_t, ones_ta, ones_na = (
        Tensor.ones([side, side]),
        torch.ones(side, side),
        np.ones((side, side), np.float32),
    )
    case(
        "add_ (scalar, in place)",
        lambda t: t.add_(1.0),
        lambda a: a.add_(1.0),
        lambda a: np.add(a, 1.0, out=a),
    )
    case(
        "mult_ (tensor, in place)",
        lambda t: t.mult_(ones_t),
        lambda a: a.mul_(ones_ta),
        lambda a: np.multiply(a, ones_na, out=a),
    )
    case("Tensor.add(A, B) (new)", Tensor.add, torch.add, np.add, two=True)
    case("Tensor.mult(A, B) (new)", Tensor.mult, torch.mul, np.multiply, two=True)
    case("sqrt (new)", Tensor.sqrt, torch.sqrt, np.sqrt)
    case("sqrt_ (in place)", lambda t: t.sqrt_(), lambda a: a.sqrt_(), lambda a: np.sqrt(a, out=a))
    case("exp (new)", Tensor.exp, torch.exp, np.exp)
    case(
        "clamp_",
        lambda t: t.clamp_(0.6, 1.2),
        lambda a: a.clamp_(0.6, 1.2),
        lambda a: np.clip(a, 0.6, 1.2, out=a),
    )
    case("sum (to float)", lambda t: t.sum(), lambda a: float(a.sum()), lambda a: float(a.sum()))
    case("max (to float)", lambda t: t.max(), lambda a: float(a.max()), lambda a: float(a.max()))
    case("normalize_(0, 1)", lambda t: t.normalize_(0.0, 1.0), _torch_normalize, _np_normalize)
    case(
        "select rows ['1:-1'] (copy)",
        lambda t: t.select(["1:-1"]),
        lambda a: a[1:-1].clone(),
        lambda a: a[1:-1].copy(),
    )
    m = max(8, side // 4)
    a_m, b_m = rng.random((m, m), dtype=np.float32), rng.random((m, m), dtype=np.float32)
    tm, um = Tensor.fromarray(a_m), Tensor.fromarray(b_m)
    ta_m, tb_m = torch.from_numpy(a_m.copy()), torch.from_numpy(b_m.copy())
    out.append(
        (
            f"mult2D ({m}x{m} matmul)",
            lambda: Tensor.mult2D(tm, um),
            lambda: torch.mm(ta_m, tb_m),
            lambda: a_m @ b_m,
        )
    )
    return out


def _torch_normalize(x: torch.Tensor) -> None:
    lo, hi = torch.aminmax(x)
    x.sub_(lo).mul_(1.0 / float(hi - lo))


def _np_normalize(x: np.ndarray) -> None:
    lo, hi = x.min(), x.max()
    x -= lo
    x *= 1.0 / (hi - lo)


def timed(fn: Callable[[], object], reps: int) -> float:
    start = time.thread_time()
    for _ in range(reps):
        fn()
    return (time.thread_time() - start) / reps


def run(
    n: int, rounds: int, only: list[str] | None = None
) -> list[tuple[str, float, float, float, float, float]]:
    """Per op, the median round of ours, torch and numpy, and the median ratios to ours.

    Every round makes new buffers: how fast a memory-bound op runs depends on where its buffers
    happen to lie (the same torch op on two same-sized buffers differs by up to ~15 % here), so
    each side is measured on several placements and the median taken. The order of the three
    goes through all six permutations, round after round: a side pays for the allocator state the
    side before it left (numpy's freed large arrays, in transparent huge pages, made the next
    side's 4 MB results fault in again on every call), so no side may always follow the same one.
    """
    samples: dict[str, dict[str, list[float]]] = {}
    reps = max(20, int(2e6 // n))
    orders = list(itertools.permutations(("ours", "torch", "numpy")))
    for r in range(rounds):
        for name, ours, plain, nump in cases(n):
            if only and not any(word in name for word in only):
                continue
            per = samples.setdefault(name, {"ours": [], "torch": [], "numpy": []})
            fns = {"ours": ours, "torch": plain, "numpy": nump}
            for key in orders[r % len(orders)]:
                fn = fns[key]
                fn()  # warm-up
                per[key].append(timed(fn, reps))
    med = statistics.median
    return [
        (
            name,
            *(med(per[k]) for k in ("ours", "torch", "numpy")),
            med(b / o for b, o in zip(per["torch"], per["ours"])),
            med(b / o for b, o in zip(per["numpy"], per["ours"])),
        )
        for name, per in samples.items()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_024)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated words: ops to keep")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), Python "
        f"{sys.version.split()[0]}; 1-minute load average {os.getloadavg()[0]:.1f}"
    )
    for n in (args.size, args.small):
        print(f"\n{n:,} elements; median of {args.rounds} interleaved rounds (µs per call)\n")
        print("| op | Tensor | torch | numpy | vs torch | vs numpy |")
        print("|---|---|---|---|---|---|")
        for name, o, t, p, rt, rp in run(n, args.rounds, [w for w in args.only.split(",") if w]):
            print(
                f"| {name} | {o * 1e6:.2f} | {t * 1e6:.2f} | {p * 1e6:.2f} | {rt:.2f}x | {rp:.2f}x |"
            )
    print(f"\n1-minute load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
