"""Benchmark of the ONNX wing: serving throughput, serve-only start-up and memory, import time.

Peers run interleaved, round by round, with the same thread count; medians are reported.

- Throughput of a ResNet-18 (3x224x224, batch 4) and a U-Net (64 base filters, depth 4, 1x128x128,
  batch 1) exported by `deephealth.eddl`: `deephealth.serving.InferenceSession.run` vs onnxruntime
  called directly (goal: ratio >= 0.95) vs our PyTorch forward (`Model.graph`, eval, no_grad).
- Start-up (wall time of `python -c` that imports, loads the ResNet-18 and runs one sample) and
  peak RSS of a serve-only process vs a process calling onnxruntime directly; `import
  deephealth.eddl` (torch) for reference.
- Import time of a ResNet-50 file: our own file (layer graph in the metadata) and the same graph
  without metadata (the foreign, op-table path).

Usage: `OMP_NUM_THREADS=2 python bench/bench_onnx.py [--threads 2] [--rounds 7] [--out FILE]`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

import deephealth.eddl as eddl
from deephealth.eddl.zoo import ResNet18, ResNet50, UNet
from deephealth.serving import InferenceSession

SERVE = """
import json, sys, time
def peak_kb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
t0 = time.perf_counter()
import numpy as np
from deephealth.serving import InferenceSession
s = InferenceSession(sys.argv[1], threads=int(sys.argv[2]))
s.run(np.zeros((3, 224, 224), np.float32))
print(json.dumps({"inner_s": time.perf_counter() - t0,
                  "rss_mb": peak_kb() / 1024,
                  "torch": "torch" in sys.modules}))
"""

DIRECT = """
import json, sys, time
def peak_kb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
t0 = time.perf_counter()
import numpy as np
import onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = int(sys.argv[2]); o.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
s.run(None, {s.get_inputs()[0].name: np.zeros((1, 3, 224, 224), np.float32)})
print(json.dumps({"inner_s": time.perf_counter() - t0,
                  "rss_mb": peak_kb() / 1024,
                  "torch": "torch" in sys.modules}))
"""

EDDL_IMPORT = "import deephealth.eddl"
SERVING_IMPORT = "import deephealth.serving"


def interleaved(peers: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each peer: one warm-up, then rounds in which every peer runs
    once, the order rotating from round to round so no peer always follows the same one."""
    for fn in peers.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in peers}
    names = list(peers)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = peers[name]
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def sessions(path: Path, threads: int) -> tuple[InferenceSession, ort.InferenceSession]:
    """Our session and a direct onnxruntime session with the same thread settings."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    direct = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return InferenceSession(path, threads=threads), direct


def throughput(net: eddl.Model, path: Path, x: np.ndarray, threads: int, rounds: int) -> dict:
    ours, direct = sessions(path, threads)
    name = direct.get_inputs()[0].name
    net.graph.eval()
    xt = torch.from_numpy(x)

    def torch_forward() -> object:
        with torch.no_grad():
            return net.graph(xt)

    med = interleaved(
        {
            "serving": lambda: ours.run(x),
            "onnxruntime": lambda: direct.run(None, {name: x}),
            "torch": torch_forward,
        },
        rounds,
    )
    n = x.shape[0]
    return {
        "batch": n,
        "samples_per_s": {k: n / v for k, v in med.items()},
        "serving_vs_onnxruntime": med["onnxruntime"] / med["serving"],
        "serving_vs_torch": med["torch"] / med["serving"],
    }


def call_overhead(net: eddl.Model, path: Path, threads: int, rounds: int) -> dict:
    """Per-call cost of the wrapper: a tiny model, 500 calls per peer per round, in microseconds."""
    ours, direct = sessions(path, threads)
    name = direct.get_inputs()[0].name
    x = np.zeros((1, *net.inputs[0].output_shape), np.float32)

    def many(fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(500):
                fn()

        return run

    med = interleaved(
        {
            "serving": many(lambda: ours.run(x)),
            "onnxruntime": many(lambda: direct.run(None, {name: x})),
        },
        rounds,
    )
    return {k: v / 500 * 1e6 for k, v in med.items()}


def process(code: str, args: list[str], runs: int) -> dict:
    """Median wall time, inner time and peak RSS of fresh processes."""
    walls, inner, rss, has_torch = [], [], [], False
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - t0)
        if out.stdout.strip():
            info = json.loads(out.stdout)
            inner.append(info["inner_s"])
            rss.append(info["rss_mb"])
            has_torch = info["torch"]
    result = {"wall_s": statistics.median(walls)}
    if inner:
        result |= {
            "inner_s": statistics.median(inner),
            "peak_rss_mb": statistics.median(rss),
            "imports_torch": has_torch,
        }
    return result


def import_times(path: Path, runs: int) -> dict:
    proto = onnx.load(path)
    del proto.metadata_props[:]
    foreign = path.with_name("resnet50_foreign.onnx")
    onnx.save(proto, foreign)
    timed: dict[str, list[float]] = {"own_file": [], "foreign_path": []}
    for _ in range(runs):
        for key, p in (("own_file", path), ("foreign_path", foreign)):
            t0 = time.perf_counter()
            eddl.import_net_from_onnx_file(p)
            timed[key].append(time.perf_counter() - t0)
    return {
        "size_mb": path.stat().st_size / 2**20,
        **{k: statistics.median(v) for k, v in timed.items()},
    }


def markdown(r: dict) -> str:
    t18, tun = r["resnet18"], r["unet"]
    s, d = r["startup"]["serving"], r["startup"]["onnxruntime"]
    i, e = r["startup"]["import_serving"], r["startup"]["import_eddl"]
    imp = r["import_resnet50"]
    lines = [
        f"## ONNX: serving, start-up, import ({r['date']})",
        "",
        f"Machine: 2-core x86_64 CPU, shared; {r['threads']} threads for every peer; medians of "
        f"{r['rounds']} interleaved rounds. onnxruntime {ort.__version__}, "
        f"torch {torch.__version__}.",
        "",
        "| ratio | ResNet-18 | U-Net |",
        "|---|---|---|",
        f"| InferenceSession / onnxruntime direct (goal >= 0.95) | "
        f"{t18['serving_vs_onnxruntime']:.3f} | {tun['serving_vs_onnxruntime']:.3f} |",
        f"| InferenceSession / our PyTorch forward | {t18['serving_vs_torch']:.2f}x | "
        f"{tun['serving_vs_torch']:.2f}x |",
        "",
        f"Per call on a tiny model (Dense 16->4, where only call overhead counts): InferenceSession "
        f"{r['overhead_us']['serving']:.1f} us, onnxruntime direct "
        f"{r['overhead_us']['onnxruntime']:.1f} us (medians; on this shared machine differences of "
        "a few us are noise).",
        "",
        "| samples/s | ResNet-18 (3x224x224, batch 4) | U-Net (1x128x128, batch 1) |",
        "|---|---|---|",
    ]
    for peer in ("serving", "onnxruntime", "torch"):
        lines.append(
            f"| {peer} | {t18['samples_per_s'][peer]:.2f} | {tun['samples_per_s'][peer]:.2f} |"
        )
    lines += [
        "",
        "| serve-only process (ResNet-18, one sample) | wall s | inside s | peak RSS MB | torch |",
        "|---|---|---|---|---|",
        f"| deephealth.serving | {s['wall_s']:.3f} | {s['inner_s']:.3f} | "
        f"{s['peak_rss_mb']:.0f} | {s['imports_torch']} |",
        f"| onnxruntime direct | {d['wall_s']:.3f} | {d['inner_s']:.3f} | "
        f"{d['peak_rss_mb']:.0f} | {d['imports_torch']} |",
        f"| `import deephealth.serving` only | {i['wall_s']:.3f} | | | no |",
        f"| `import deephealth.eddl` (reference) | {e['wall_s']:.3f} | | | yes |",
        "",
        f"Import of a ResNet-50 file ({imp['size_mb']:.0f} MB): own file (metadata) "
        f"{imp['own_file']:.2f} s, same graph through the foreign op-table path "
        f"{imp['foreign_path']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "onnx.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "threads": args.threads,
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(0)
        r18 = ResNet18(input_shape=(3, 224, 224), num_classes=1000)
        p18 = folder / "resnet18.onnx"
        eddl.save_net_to_onnx_file(r18, p18)
        x = rng.standard_normal((4, 3, 224, 224)).astype(np.float32)
        results["resnet18"] = throughput(r18, p18, x, args.threads, args.rounds)
        print("resnet18", results["resnet18"], flush=True)
        unet = UNet(input_shape=(1, 128, 128), base_filters=64, depth=4)
        pun = folder / "unet.onnx"
        eddl.save_net_to_onnx_file(unet, pun)
        x = rng.standard_normal((1, 1, 128, 128)).astype(np.float32)
        results["unet"] = throughput(unet, pun, x, args.threads, args.rounds)
        print("unet", results["unet"], flush=True)
        inp = eddl.Input([16])
        tiny = eddl.Model([inp], [eddl.Softmax(eddl.Dense(inp, 4))], "tiny")
        ptiny = folder / "tiny.onnx"
        eddl.save_net_to_onnx_file(tiny, ptiny)
        results["overhead_us"] = call_overhead(tiny, ptiny, args.threads, args.rounds)
        print("overhead", results["overhead_us"], flush=True)
        proc_args = [str(p18), str(args.threads)]
        results["startup"] = {
            "serving": process(SERVE, proc_args, 5),
            "onnxruntime": process(DIRECT, proc_args, 5),
            "import_serving": process(SERVING_IMPORT, [], 5),
            "import_eddl": process(EDDL_IMPORT, [], 3),
        }
        print("startup", results["startup"], flush=True)
        p50 = folder / "resnet50.onnx"
        eddl.save_net_to_onnx_file(ResNet50(input_shape=(3, 224, 224), num_classes=1000), p50)
        results["import_resnet50"] = import_times(p50, 3)
        print("import", results["import_resnet50"], flush=True)
    text = markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
