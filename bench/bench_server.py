"""Load benchmark of the inference REST endpoint: 50 concurrent clients for 30 s on 127.0.0.1.

Starts a real `deephealth serve` (uvicorn, no job workers) on a temporary data folder, uploads a
LeNet classifier (zoo, exported to ONNX) to a project, and has 50 asyncio clients POST a 64x64 PNG
to `/api/v1/predict/<id>` with an API token, back to back, for 30 s. Reports errors, p50/p95
latency and throughput, next to the ceiling: onnxruntime's own single-image throughput on the
same model (same machine, same threads, measured in this run), and the server's in-process
inference path (ECVL read + preprocessing + onnxruntime) without HTTP. Writes
bench/results/server.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model(path: Path, size: int) -> Path:
    import deephealth.eddl as eddl
    from deephealth.eddl.zoo import build_model

    net = build_model("lenet", [1, size, size], 3)
    eddl.build(
        net, eddl.adam(0.001), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    eddl.save_net_to_onnx_file(net, str(path))
    return path


def ort_ceiling(model: Path, x: np.ndarray, seconds: float) -> tuple[float, str]:
    """Best single-image runs per second of plain onnxruntime on the preprocessed input, over its
    default thread pool and one intra-op thread (what the server uses); returns (rate, setting)."""
    import onnxruntime as ort

    best = (0.0, "")
    for threads in (None, 1):
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x[None].astype(np.float32)}
        for _ in range(20):
            sess.run(None, feed)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 2:
            sess.run(None, feed)
            n += 1
        rate = n / (time.perf_counter() - t0)
        if rate > best[0]:
            best = (rate, f"{threads or 'default'} thread(s)")
    return best


def in_process(model: Path, image: Path, seconds: float) -> float:
    """Requests per second of the server's inference path without HTTP."""
    from deephealth.server.inference import predict_file

    for _ in range(5):
        predict_file(model, image, "classification")
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        predict_file(model, image, "classification")
        n += 1
    return n / (time.perf_counter() - t0)


async def load(
    url: str, token: str, body: bytes | None, clients: int, seconds: float, check: bool = True
) -> dict:
    """`clients` concurrent clients calling `url` back to back (POST `body`, or GET when None)."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/png"}
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    if body is None:
                        r = await client.get(url, headers=headers)
                    else:
                        r = await client.post(url, content=body, headers=headers)
                    if r.status_code != 200 or (check and "label" not in r.json()):
                        errors.append(f"{r.status_code} {r.text[:80]}")
                except httpx.HTTPError as err:
                    errors.append(repr(err))
                latencies.append(time.perf_counter() - t0)

        t_start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - t_start
    lat = sorted(latencies)
    return {
        "requests": len(lat),
        "errors": len(errors),
        "first_errors": errors[:3],
        "throughput": len(lat) / wall,
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
        "wall_s": wall,
    }


def start_server(data: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DEEPHEALTH_ARGON2_TIME_COST": "1", "DEEPHEALTH_ARGON2_MEMORY_KIB": "1024"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deephealth.cli", "serve", "--port", str(port), "--data-dir",
         str(data), "--workers", "0", "--insecure-cookies"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "server.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    model = make_model(tmp / "lenet.onnx", args.size)
    rng = np.random.default_rng(0)
    img = (rng.random((args.size, args.size)) * 255).astype(np.uint8)
    image = tmp / "probe.png"
    cv2.imwrite(str(image), img)
    body = image.read_bytes()
    x = (img.astype(np.float32) / 255.0)[None]
    ceiling, ceiling_setting = ort_ceiling(model, x, 6.0)
    direct = in_process(model, image, 5.0)
    port = free_port()
    proc = start_server(tmp / "data", port)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.post(
                "/api/auth/signup",
                json={"email": "bench@example.org", "password": "bench-password"},
            )
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            pid = c.post("/api/projects", json={"name": "bench", "task": "classification"}).json()[
                "id"
            ]
            w = c.post(
                f"/api/projects/{pid}/weights",
                files={"file": ("lenet.onnx", model.read_bytes(), "application/octet-stream")},
            ).json()
            token = c.post("/api/tokens", json={"name": "bench"}).json()["token"]
        url = f"{base}/api/v1/predict/{w['id']}"
        asyncio.run(load(url, token, body, 4, 2.0))  # warm-up
        res = asyncio.run(load(url, token, body, args.clients, args.seconds))
        http = asyncio.run(
            load(f"{base}/static/favicon.svg", token, None, args.clients, 10.0, check=False)
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    print(res)
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    lines = [
        "## Server: inference REST endpoint under load",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: {os.cpu_count()}-core CPU "
        f"({platform.machine()}, {platform.python_implementation()} {platform.python_version()}), "
        f"OMP_NUM_THREADS={threads}, shared with other work. `deephealth serve` (one uvicorn "
        f"process) on 127.0.0.1; {args.clients} concurrent clients (httpx, asyncio) POST a "
        f"{args.size}x{args.size} PNG to `/api/v1/predict/<id>` with an API token for "
        f"{args.seconds:.0f} s. Model: zoo LeNet, 1x{args.size}x{args.size} input, 3 classes, "
        "ONNX. uvicorn with httptools + uvloop. The load generator runs on the same cores. "
        "Script: `bench/bench_server.py`.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| requests | {res['requests']} |",
        f"| errors | {res['errors']} |",
        f"| throughput (req/s) | {res['throughput']:.1f} |",
        f"| latency p50 (ms) | {res['p50_ms']:.1f} |",
        f"| latency p95 (ms) | {res['p95_ms']:.1f} |",
        f"| in-process path, no HTTP (ECVL read + preprocessing + onnxruntime, img/s) | {direct:.1f} |",
        f"| onnxruntime alone, same model, single image, {ceiling_setting} (ceiling, img/s) "
        f"| {ceiling:.1f} |",
        f"| server throughput / onnxruntime ceiling | {res['throughput'] / ceiling:.2f} |",
        f"| same clients on a static file (HTTP + load-generator ceiling of this machine, "
        f"req/s) | {http['throughput']:.1f} |",
        f"| server throughput / HTTP ceiling | {res['throughput'] / http['throughput']:.2f} |",
        "",
        "Reading: the onnxruntime ceiling is onnxruntime alone on one core with nothing else to "
        "do; the server shares the same two cores with the 50 load-generating clients (httpx in "
        "Python), HTTP parsing, API-token and project-membership checks, the content check of the "
        "upload and ECVL decoding. The static-file row shows what the same clients get from the "
        "same server when the endpoint does no work at all: on this 2-core machine HTTP and the "
        "load generator, not onnxruntime, bound the throughput. Machines are shared: compare "
        "runs made in the same session only.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0 if res["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
