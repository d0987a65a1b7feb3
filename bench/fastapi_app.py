"""FastAPI + uvicorn + PyTorch baseline for the benchmark harness: the same dropout as the service's common cases.

    cd bench && /usr/bin/python3 -m uvicorn fastapi_app:app --host 127.0.0.1 --port 8000 --workers 1

POST /dropout
  - JSON (Content-Type: application/json): {"input": [numbers], "p": 0.5, "seed": 1} -> {"output": [numbers]}
  - binary (Content-Type: application/octet-stream): raw little-endian float32, ?p=0.5&seed=1 -> raw float32
Both: torch.manual_seed(seed) then F.dropout(x, p, training=True) in float32, as the service computes for a flat
tensor. The body is read raw and parsed with json.loads (cheaper than a pydantic model of a long list), so this is
a favourable FastAPI baseline, not a strawman.
"""

import json
import warnings

import torch
import torch.nn.functional as F
from fastapi import FastAPI, Request, Response

# torch.frombuffer on the read-only request bytes warns once; dropout does not write its input.
warnings.filterwarnings("ignore", message="The given buffer is not writable")

app = FastAPI()


@app.get("/healthz")
async def healthz():
    """Liveness, and what the baseline runs on (the harness prints it)."""
    import asyncio

    import fastapi
    import uvicorn

    return {
        "status": "ok",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
    }


def apply(x: torch.Tensor, p: float, seed) -> torch.Tensor:
    if seed is not None:
        torch.manual_seed(int(seed))
    return F.dropout(x, p=p, training=True)


@app.post("/dropout")
async def dropout(request: Request, p: float = 0.5, seed: int | None = None):
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/octet-stream"):
        x = torch.frombuffer(body, dtype=torch.float32) if body else torch.empty(0)
        y = apply(x, p, seed)
        return Response(content=y.numpy().tobytes(), media_type="application/octet-stream")
    data = json.loads(body)
    x = torch.tensor(data["input"], dtype=torch.float32)
    y = apply(x, float(data.get("p", p)), data.get("seed", seed))
    return Response(content=json.dumps({"output": y.tolist()}), media_type="application/json")
