"""PyTorch CPU F.dropout throughput, one thread, for the benchmark harness (bench/lib/kernel-sweep.ts).

    /usr/bin/python3 bench/torch_dropout.py '{"sizes": [1024, ...], "dtypes": ["float32"], "reps": 5, "min_ms": 50}'

Prints one JSON object: {"version", "threads", "results": [{"dtype", "n", "mps"}]}, mps = median M elements/s of
F.dropout(x, p=0.5, training=True) (not in place: it allocates the output, as the usual call does). Each repetition
runs enough calls to last at least min_ms; the calibration loop also warms up.
"""

import json
import sys
import time

import torch
import torch.nn.functional as F


def measure(run, n, reps, min_ms):
    iterations = 1
    while True:
        start = time.perf_counter()
        for _ in range(iterations):
            run()
        elapsed = (time.perf_counter() - start) * 1000
        if elapsed >= min_ms:
            break
        iterations *= min(16, max(2, int(min_ms / elapsed) + 1)) if elapsed > 0 else 16
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(iterations):
            run()
        elapsed = (time.perf_counter() - start) * 1000
        samples.append(n * iterations / (elapsed * 1000))
    samples.sort()
    return samples[len(samples) // 2]


def main():
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sizes = spec.get("sizes", [1 << 24])
    dtypes = spec.get("dtypes", ["float32"])
    reps = int(spec.get("reps", 5))
    min_ms = float(spec.get("min_ms", 50))
    torch.set_num_threads(1)
    torch.manual_seed(1)
    results = []
    for dtype_name in dtypes:
        dtype = getattr(torch, dtype_name)
        for n in sizes:
            x = (torch.rand(n, dtype=dtype) - 0.5) * 8
            mps = measure(lambda: F.dropout(x, p=0.5, training=True), n, reps, min_ms)
            results.append({"dtype": dtype_name, "n": n, "mps": mps})
            print(f"  {dtype_name} torch F.dropout {n}: {mps:.1f} M el/s", file=sys.stderr)
    json.dump({"version": torch.__version__, "threads": torch.get_num_threads(), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
