"""Fuzz worker (run in a subprocess with CPU-time and memory limits by test_signal_fuzz.py):
mutates an EDF many times and reads each; prints a JSON summary. Every failure must be a
SignalReadError naming the file; anything else is reported as a crash."""

import json
import resource
import sys
from pathlib import Path

import numpy as np

from deephealth.ecvl.signal import SignalRead, SignalReadError


def main(src: str, out_dir: str, n: int, seed: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    data = Path(src).read_bytes()
    rng = np.random.default_rng(seed)
    ok = errors = 0
    crashes = []
    for k in range(n):
        b = bytearray(data)
        kind = k % 4
        if kind == 0:  # header bytes
            for _ in range(int(rng.integers(1, 8))):
                b[int(rng.integers(0, min(len(b), 256 * 3)))] = int(rng.integers(0, 256))
        elif kind == 1:  # truncation
            b = b[: int(rng.integers(0, len(b)))]
        elif kind == 2:  # data bytes
            for _ in range(int(rng.integers(1, 64))):
                b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        else:  # numeric header fields replaced
            off = int(rng.choice([184, 236, 244, 252]))
            b[off : off + 8] = rng.choice(
                [b"-1      ", b"99999999", b"abc     ", b"0       "]
            ).ljust(8)[:8]
        p = Path(out_dir) / f"m{k}.edf"
        p.write_bytes(bytes(b))
        try:
            SignalRead(p)
            ok += 1
        except SignalReadError as e:
            if str(p) not in str(e):
                crashes.append(f"{k}: message does not name the file: {e}")
            errors += 1
        except Exception as e:
            crashes.append(f"{k}: {type(e).__name__}: {e}")
        p.unlink()
    print(json.dumps({"ok": ok, "errors": errors, "crashes": crashes}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
