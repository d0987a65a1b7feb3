#!/usr/bin/env python3
"""NVIDIA's tritonclient (tritonclient.http and tritonclient.http.aio, unchanged, from ../shared/clients/python)
against the service's /v2 routes (docs/semantics.md §3), every tensor compared bit for bit with the project's own
kernels (test/interop/reference.ts), never with another reply of the service.

Run through scripts/test-interop.sh (npm run test:interop), which checks the Debian packages and sets PYTHONPATH.
Arguments are unittest's (-k PATTERN selects cases). The last line is "N passed, N failed".
"""

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import unittest
import urllib.request
from dataclasses import dataclass

import numpy as np
import tritonclient.http as httpclient
import tritonclient.http.aio as aioclient
from tritonclient.utils import InferenceServerException

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE = os.environ.get("NODE") or shutil.which("node") or "node"
MODEL = "dropout"
TWO_64 = 1 << 64

# datatype -> (the service's dtype name, the numpy dtype tritonclient hands back, bytes per element on the wire)
DATATYPES = {
    "FP32": ("float32", np.dtype("<f4"), 4),
    "FP64": ("float64", np.dtype("<f8"), 8),
    "FP16": ("float16", np.dtype("<f2"), 2),
    # tritonclient holds BF16 in float32 arrays: it sends their high 16 bits and reads values back as float32.
    "BF16": ("bfloat16", np.dtype("<f4"), 2),
}

# Values that catch sign-of-zero, shortest-decimal and subnormal mistakes, ahead of the random ones.
SPECIALS = [0.0, -0.0, 0.1, -0.1, -0.546875, 1 / 3, -1 / 3, -7.75, 3.0e-3, 1.0, -2.0]
TINY = {
    "FP32": [1e-45, -1.1754942e-38, 2.5e-40],
    "FP64": [5e-324, -2.2250738585072014e-308, 1e-310],
    "FP16": [6e-8, -6.1e-5, 3.0e-6],
    "BF16": [9.2e-41, -1.2e-38, 3.0e-39],
}


# --- tensors ---------------------------------------------------------------------------------------------------


@dataclass
class Tensor:
    datatype: str
    shape: list
    wire: np.ndarray  # what set_data_from_numpy is given
    raw: bytes  # the tensor's little-endian bytes in its own dtype (bfloat16: its 16-bit patterns)


def make_tensor(datatype, shape, seed):
    n = int(np.prod(shape))
    values = np.random.RandomState(seed).standard_normal(n) * 2.0
    head = SPECIALS + TINY[datatype]
    k = min(n, len(head))
    values[:k] = head[:k]
    if datatype == "BF16":
        # Truncation, as tritonclient's serialize_bf16_tensor keeps the high half: the wire array is then exact.
        bits = (values.astype(np.float32).view(np.uint32) >> 16).astype("<u2")
        wire = (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape)
        return Tensor(datatype, list(shape), wire, bits.tobytes())
    dtype = DATATYPES[datatype][1]
    wire = values.astype(dtype).reshape(shape)
    return Tensor(datatype, list(shape), wire, wire.tobytes())


def wire_bytes(arr, datatype):
    """The bytes tritonclient's array stands for, or raises AssertionError saying why it stands for none."""
    np_dtype = DATATYPES[datatype][1]
    if arr.dtype != np_dtype:
        raise AssertionError(f"tritonclient returned {arr.dtype} for {datatype}, expected {np_dtype}")
    flat = np.ascontiguousarray(arr).reshape(-1).astype(np_dtype)
    if datatype != "BF16":
        return flat.tobytes()
    u = flat.view("<u4")
    rest = np.nonzero(u & 0xFFFF)[0]
    if rest.size:
        i = int(rest[0])
        raise AssertionError(
            f"{rest.size} of {u.size} BF16 values are not bfloat16 values once read as float32 (as tritonclient "
            f"reads them); first at element {i}: {float(flat[i])!r} (float32 bits {int(u[i]):08x})"
        )
    return (u >> 16).astype("<u2").tobytes()


def describe_difference(got, want, datatype):
    """Where two equal-length byte strings differ, element by element, with the kinds of difference counted."""
    width = DATATYPES[datatype][2]
    if len(got) != len(want):
        return f"{len(got)} bytes, expected {len(want)}"
    code = {8: "<u8", 4: "<u4", 2: "<u2"}[width]
    g = np.frombuffer(got, code)
    w = np.frombuffer(want, code)
    bad = np.nonzero(g != w)[0]
    if bad.size == 0:
        return "no difference"
    sign = 1 << (8 * width - 1)
    zero_sign = int(np.sum(((g[bad] | sign) == sign) & ((w[bad] | sign) == sign)))
    i = int(bad[0])
    hexw = 2 * width
    return (
        f"{bad.size} of {g.size} elements differ ({zero_sign} only in the sign of zero); first at element {i}: "
        f"got {int(g[i]):0{hexw}x}, expected {int(w[i]):0{hexw}x} ({datatype} bits)"
    )


# --- expected results, from the project's kernels --------------------------------------------------------------


@dataclass(frozen=True)
class RefKey:
    datatype: str
    shape: tuple
    input_seed: int
    p: float
    mode: str
    seed: str  # decimal, as sent (negative ones wrap)
    offset: int


TENSORS = {}
EXPECTED = {}


def tensor_for(key):
    tk = (key.datatype, key.shape, key.input_seed)
    if tk not in TENSORS:
        TENSORS[tk] = make_tensor(key.datatype, key.shape, key.input_seed)
    return TENSORS[tk]


def compute_expected(keys):
    """Runs test/interop/reference.ts once for all keys; fills EXPECTED."""
    cases = []
    ids = {}
    for i, key in enumerate(dict.fromkeys(keys)):
        ids[str(i)] = key
        cases.append(
            {
                "id": str(i),
                "dtype": DATATYPES[key.datatype][0],
                "shape": list(key.shape),
                "p": key.p,
                "mode": key.mode,
                "seed": key.seed,
                "offset": key.offset,
                "input": base64.b64encode(tensor_for(key).raw).decode(),
            }
        )
    proc = subprocess.run(
        [NODE, "--import", "tsx", "test/interop/reference.ts"],
        cwd=ROOT,
        input=json.dumps({"cases": cases}).encode(),
        capture_output=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"test/interop/reference.ts failed:\n{proc.stderr.decode()[-4000:]}")
    for i, answer in json.loads(proc.stdout).items():
        if "error" in answer:
            EXPECTED[ids[i]] = answer
        else:
            EXPECTED[ids[i]] = {
                "output": base64.b64decode(answer["output"]),
                "mask": base64.b64decode(answer["mask"]),
                "kept": answer["kept"],
            }


# --- the service -----------------------------------------------------------------------------------------------


class Server:
    """src/server.ts on free ports; `env` adds to or overrides the suite's settings (GRPC_PORT "0" serves gRPC too)."""

    def __init__(self, env=None):
        settings = dict(HOST="127.0.0.1", PORT="0", WORKERS="1", LOG_LEVEL="info", GRPC_PORT="off")
        settings.update(env or {})
        env = dict(os.environ)
        for name in ("API_KEYS", "RATE_LIMIT_PER_MINUTE", "CORS_ORIGIN"):
            env.pop(name, None)
        # One worker keeps the load modest on shared machines; GRPC_PORT off (unless asked) so no fixed port can clash.
        env.update(settings)
        wants_grpc = settings["GRPC_PORT"] != "off"
        self.proc = subprocess.Popen(
            [NODE, "--import", "tsx", "src/server.ts"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines = []
        self.origin = None
        self.grpc = None
        found = threading.Event()

        def pump():
            # Reads to the end so the server never blocks on a full pipe; the log is kept for failure reports.
            for line in self.proc.stdout:
                text = line.decode(errors="replace").rstrip("\n")
                self.lines.append(text)
                if self.origin is None:
                    match = re.search(r"listening at (http://127\.0\.0\.1:\d+)", text)
                    if match:
                        self.origin = match.group(1)
                if self.grpc is None:
                    match = re.search(r"gRPC listening at (127\.0\.0\.1:\d+)", text)
                    if match:
                        self.grpc = match.group(1)
                if self.origin is not None and (self.grpc is not None or not wants_grpc):
                    found.set()
            found.set()

        self.pump = threading.Thread(target=pump, daemon=True)
        self.pump.start()
        if not found.wait(90) or self.origin is None or (wants_grpc and self.grpc is None):
            self.stop()
            raise RuntimeError("the service did not print 'listening at http://127.0.0.1:N':\n" + self.log_tail())
        self.hostport = self.origin[len("http://") :]

    def log_tail(self, n=40):
        return "\n".join(self.lines[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # The pump reaches the end of the output once the process is gone; then the pipe can be closed.
        self.pump.join(5)
        if not self.pump.is_alive():
            self.proc.stdout.close()


SERVER = None
CLIENT = None


def setUpModule():
    global SERVER, CLIENT
    compute_expected(ALL_KEYS)
    SERVER = Server()
    CLIENT = httpclient.InferenceServerClient(url=SERVER.hostport, network_timeout=120.0)


def tearDownModule():
    if CLIENT is not None:
        CLIENT.close()
    if SERVER is not None:
        SERVER.stop()


def run_aio(make_call):
    """Runs make_call(aio_client) on a fresh tritonclient.http.aio client and event loop."""

    async def main():
        client = aioclient.InferenceServerClient(url=SERVER.hostport)
        try:
            return await make_call(client)
        finally:
            await client.close()

    return asyncio.run(main())


def call(kind, method, *args, **kwargs):
    if kind == "sync":
        return getattr(CLIENT, method)(*args, **kwargs)
    return run_aio(lambda client: getattr(client, method)(*args, **kwargs))


# --- infer cases -----------------------------------------------------------------------------------------------


@dataclass
class InferCase:
    name: str
    datatype: str = "FP32"
    shape: tuple = (3, 37)
    input_seed: int = 1
    p: float = 0.3
    mode: str = "train"
    seed: str = "20240607"  # the reference's seed, decimal
    offset: int = 0
    # What the request's parameters say; None: p, seed (as a JSON number when small) and mode from the fields above.
    params: dict = None
    json_in: bool = False
    json_out: bool = False
    mask: bool = True
    clients: tuple = ("sync", "aio")
    request_id: str = ""
    model_version: str = ""
    compression: str = None  # request and response compression, both ways
    reported_seed: str = None  # the seed the reply must report; default: seed mod 2^64

    def key(self):
        return RefKey(self.datatype, tuple(self.shape), self.input_seed, self.p, self.mode, self.seed, self.offset)

    def parameters(self):
        if self.params is not None:
            return self.params
        params = {"p": self.p, "seed": int(self.seed) if abs(int(self.seed)) < 2**53 else self.seed}
        if self.mode != "train":
            params["mode"] = self.mode
        if self.offset:
            params["offset"] = self.offset
        return params


def infer_input(case, tensor):
    inp = httpclient.InferInput("input", list(tensor.shape), case.datatype)
    if case.datatype == "BF16" and case.json_in:
        # tritonclient refuses BF16 JSON input (test_bf16_json_input_refused_by_client); other V2 clients send
        # it, so the values go in as the client writes FP32 JSON data: exact decimals of the bfloat16 values.
        inp.set_data_from_numpy(tensor.wire, binary_data=True)
        inp._parameters.pop("binary_data_size", None)
        inp._raw_data = None
        inp._data = [float(v) for v in tensor.wire.reshape(-1)]
    else:
        inp.set_data_from_numpy(tensor.wire, binary_data=not case.json_in)
    return inp


def requested_outputs(case):
    outputs = [httpclient.InferRequestedOutput("output", binary_data=not case.json_out)]
    if case.mask:
        outputs.append(httpclient.InferRequestedOutput("mask", binary_data=not case.json_out))
    return outputs


def infer_kwargs(case, tensor):
    kwargs = dict(
        model_name=MODEL,
        inputs=[infer_input(case, tensor)],
        outputs=requested_outputs(case),
        parameters=case.parameters(),
        request_id=case.request_id,
        model_version=case.model_version,
    )
    if case.compression:
        kwargs.update(
            request_compression_algorithm=case.compression, response_compression_algorithm=case.compression
        )
    return kwargs


def v1_binary(case, tensor):
    """The /v1 octet-stream reply for the same request: (body, headers)."""
    query = {
        "shape": ",".join(str(d) for d in case.shape),
        "dtype": DATATYPES[case.datatype][0],
        "p": repr(case.p),
        "mode": case.mode,
        "offset": str(case.offset),
    }
    if case.mode != "eval":
        query["seed"] = case.seed
    url = f"{SERVER.origin}/v1/dropout?" + "&".join(f"{k}={v}" for k, v in query.items())
    request = urllib.request.Request(
        url,
        data=tensor.raw,
        method="POST",
        headers={"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read(), response.headers


class Infer(unittest.TestCase):
    """One test per (case, client): the reply's tensors, mask and parameters against the reference."""

    def check(self, case, kind):
        expected = EXPECTED[case.key()]
        if "error" in expected:
            self.fail(f"no reference for this case: {expected['error']}")
        tensor = tensor_for(case.key())
        kwargs = infer_kwargs(case, tensor)
        try:
            result = call(kind, "infer", **kwargs)
        except InferenceServerException as error:
            self.fail(f"the service refused the request: [{error.status()}] {error.message()}")
        response = result.get_response()
        problems = []

        if response.get("model_name") != MODEL:
            problems.append(f"model_name {response.get('model_name')!r}")
        if case.request_id and response.get("id") != case.request_id:
            problems.append(f"id {response.get('id')!r}, expected {case.request_id!r} echoed")

        out = result.get_output("output")
        if out is None:
            self.fail(f"no 'output' in the reply: {response}")
        if out.get("datatype") != case.datatype or list(out.get("shape", [])) != list(case.shape):
            problems.append(
                f"output is {out.get('datatype')} {out.get('shape')}, expected {case.datatype} {list(case.shape)}"
            )
        binary = "binary_data_size" in (out.get("parameters") or {})
        if binary == case.json_out:
            problems.append(f"output came as {'binary' if binary else 'JSON'} data")
        got = None
        try:
            got = wire_bytes(result.as_numpy("output"), case.datatype)
        except AssertionError as error:
            problems.append(str(error))
        if got is not None and got != expected["output"]:
            problems.append("output: " + describe_difference(got, expected["output"], case.datatype))

        if case.mask:
            mask = result.get_output("mask")
            if mask is None:
                problems.append("no 'mask' in the reply")
            else:
                if mask.get("datatype") != "BOOL" or list(mask.get("shape", [])) != list(case.shape):
                    problems.append(f"mask is {mask.get('datatype')} {mask.get('shape')}, expected BOOL {case.shape}")
                m = result.as_numpy("mask")
                if m.dtype != np.bool_:
                    problems.append(f"mask read as {m.dtype}")
                elif m.reshape(-1).astype(np.uint8).tobytes() != expected["mask"]:
                    diff = np.nonzero(m.reshape(-1).astype(np.uint8) != np.frombuffer(expected["mask"], np.uint8))[0]
                    problems.append(f"mask: {diff.size} elements differ, first at {int(diff[0])}")

        params = response.get("parameters") or {}
        nulls = [k for k, v in params.items() if not isinstance(v, (str, bool, int, float))]
        if nulls:
            problems.append(f"reply parameters {nulls} are not strings, numbers or booleans: {params}")
        if case.mode == "eval":
            if "seed" in params:
                problems.append(f"eval reply carries a seed: {params}")
        else:
            want = case.reported_seed or str(int(case.seed) % TWO_64)
            if str(params.get("seed")) != want:
                problems.append(f"reply seed {params.get('seed')!r}, expected {want}")
        if "kept" in params and params["kept"] != expected["kept"]:
            problems.append(f"reply kept {params['kept']!r}, expected {expected['kept']}")

        # The native route must give the same bytes for the same request.
        if got is not None:
            body, headers = v1_binary(case, tensor)
            if body != got:
                difference = describe_difference(body, got, case.datatype)
                problems.append(f"/v1 octet-stream reply differs from /v2: {difference}")
            if case.mode == "train" and headers.get("Dropout-Seed") != str(int(case.seed) % TWO_64):
                problems.append(f"/v1 Dropout-Seed {headers.get('Dropout-Seed')!r}")

        if problems:
            self.fail("; ".join(problems))


def dtype_matrix():
    cases = []
    for dt in DATATYPES:
        for json_in in (False, True):
            for json_out in (False, True):
                name = f"{dt.lower()}_{'json' if json_in else 'binary'}_in_{'json' if json_out else 'binary'}_out"
                cases.append(InferCase(name, dt, json_in=json_in, json_out=json_out))
    return cases


def edge_cases():
    cases = []
    for dt in DATATYPES:
        for json_out in (False, True):
            out = "json_out" if json_out else "binary_out"
            common = dict(datatype=dt, shape=(5, 9), json_out=json_out, clients=("sync",))
            cases += [
                # p = 0.5 in the request besides eval: eval must ignore it and use no seed.
                InferCase(f"{dt.lower()}_eval_{out}", mode="eval", p=0.5, params={"p": 0.5, "mode": "eval"}, **common),
                InferCase(f"{dt.lower()}_p0_{out}", p=0.0, **common),
                InferCase(f"{dt.lower()}_p1_{out}", p=1.0, **common),
                InferCase(f"{dt.lower()}_seed_2p64_minus_1_{out}", seed=str(TWO_64 - 1), **common),
            ]
    big = (520, 512)  # past INLINE_MAX_ELEMENTS's default, so the worker pool computes it
    for dt in DATATYPES:
        cases.append(InferCase(f"{dt.lower()}_large_binary", dt, big, input_seed=7, clients=("sync",)))
    cases += [
        InferCase("fp32_large_json_in_json_out", "FP32", big, 7, json_in=True, json_out=True, clients=("sync",)),
        InferCase("bf16_large_json_out", "BF16", big, 7, json_out=True, clients=("sync",)),
        InferCase("fp32_seed_2p63", seed=str(2**63)),
        InferCase("bf16_seed_2p63_plus_12345", "BF16", seed=str(2**63 + 12345), json_out=True),
        InferCase("fp32_seed_minus_1_wraps", seed="-1", params={"p": 0.3, "seed": "-1"}, reported_seed=str(TWO_64 - 1)),
        InferCase("fp64_seed_as_string", "FP64", seed="42", params={"p": 0.3, "seed": "42"}, clients=("sync",)),
        InferCase("fp32_p_as_string", p=0.5, seed="42", params={"p": "0.5", "seed": 42}),
        InferCase("fp16_offset", "FP16", offset=1001, clients=("sync",)),
        InferCase("fp32_offset_as_string", offset=4097, params={"p": 0.3, "seed": 20240607, "offset": "4097"}),
        InferCase("fp32_p_0_5", p=0.5, json_out=True),
        InferCase("fp32_without_mask", mask=False, clients=("sync",)),
        InferCase("fp32_request_id_and_version", request_id="req-7", model_version="1"),
        InferCase("fp16_gzip_both_ways", "FP16", compression="gzip"),
        InferCase("fp32_deflate_both_ways", compression="deflate"),
        InferCase("bf16_3d_shape", "BF16", (2, 3, 5), 3, json_out=True),
        InferCase("fp64_one_element", "FP64", (1,), 4),
    ]
    return cases


INFER_CASES = dtype_matrix() + edge_cases()
ALL_KEYS = [c.key() for c in INFER_CASES]


def add_infer_tests():
    for case in INFER_CASES:
        for kind in case.clients:
            setattr(Infer, f"test_{kind}_{case.name}", lambda self, case=case, kind=kind: self.check(case, kind))


add_infer_tests()


class Unseeded(unittest.TestCase):
    def test_sync_unseeded_train_reports_a_seed_that_reproduces(self):
        case = InferCase("unseeded", params={"p": 0.3})
        tensor = tensor_for(case.key())
        result = CLIENT.infer(**infer_kwargs(case, tensor))
        seed = (result.get_response().get("parameters") or {}).get("seed")
        self.assertIsNotNone(seed, "train reply without a seed")
        self.assertRegex(str(seed), r"^\d+$")
        case.seed = str(seed)
        compute_expected([case.key()])
        expected = EXPECTED[case.key()]
        self.assertNotIn("error", expected)
        got = wire_bytes(result.as_numpy("output"), "FP32")
        if got != expected["output"]:
            self.fail(describe_difference(got, expected["output"], "FP32"))


# --- server and model routes, and errors: each check runs once per client ------------------------------------


class Routes(unittest.TestCase):
    def check_server_live_and_ready(self, kind):
        self.assertIs(call(kind, "is_server_live"), True)
        self.assertIs(call(kind, "is_server_ready"), True)

    def check_server_metadata(self, kind):
        meta = call(kind, "get_server_metadata")
        self.assertEqual(meta.get("name"), "dropout-service")
        self.assertIsInstance(meta.get("version"), str)
        self.assertIn("binary_tensor_data", meta.get("extensions", []))

    def check_model_metadata(self, kind):
        for version in ("", "1"):
            meta = call(kind, "get_model_metadata", MODEL, model_version=version)
            self.assertEqual(meta.get("name"), MODEL)
            self.assertEqual([i["name"] for i in meta["inputs"]], ["input"])
            self.assertIn(meta["inputs"][0]["datatype"], DATATYPES)
            outputs = {o["name"]: o for o in meta["outputs"]}
            self.assertEqual(set(outputs), {"output", "mask"})
            self.assertEqual(outputs["mask"]["datatype"], "BOOL")

    def check_model_ready(self, kind):
        self.assertIs(call(kind, "is_model_ready", MODEL), True)
        self.assertIs(call(kind, "is_model_ready", MODEL, model_version="1"), True)
        self.assertIs(call(kind, "is_model_ready", "no-such-model"), False)

    def check_unknown_model_metadata_raises(self, kind):
        with self.assertRaises(InferenceServerException) as caught:
            call(kind, "get_model_metadata", "no-such-model")
        message = caught.exception.message() or ""
        self.assertEqual(caught.exception.status(), "404", message)
        self.assertIn("no-such-model", message)
        self.assertIn("not found", message.lower())


class Errors(unittest.TestCase):
    """Each bad request raises InferenceServerException with the service's status and a message naming the fault."""

    def raises(self, kind, status, pattern, model=MODEL, inp=None, params=None, outputs=None):
        if inp is None:
            inp = httpclient.InferInput("input", [2, 3], "FP32")
            inp.set_data_from_numpy(make_tensor("FP32", (2, 3), 11).wire, binary_data=True)
        kwargs = dict(model_name=model, inputs=[inp], parameters=params or {"p": 0.5, "seed": 1})
        if outputs is not None:
            kwargs["outputs"] = [httpclient.InferRequestedOutput(name) for name in outputs]
        with self.assertRaises(InferenceServerException) as caught:
            call(kind, "infer", **kwargs)
        message = caught.exception.message() or ""
        self.assertEqual(caught.exception.status(), status, message)
        self.assertRegex(message, pattern)
        return message

    def check_p_above_1(self, kind):
        self.raises(kind, "400", r"\bp\b", params={"p": 1.5, "seed": 1})

    def check_p_negative(self, kind):
        self.raises(kind, "400", r"\bp\b", params={"p": -0.1, "seed": 1})

    def check_p_not_a_number(self, kind):
        self.raises(kind, "400", r"\bp\b", params={"p": "half", "seed": 1})

    def check_seed_past_2p64(self, kind):
        self.raises(kind, "400", r"seed", params={"p": 0.5, "seed": str(TWO_64)})

    def check_seed_not_an_integer(self, kind):
        self.raises(kind, "400", r"seed", params={"p": 0.5, "seed": "abc"})

    def check_unknown_mode(self, kind):
        self.raises(kind, "400", r"mode", params={"p": 0.5, "seed": 1, "mode": "bogus"})

    def check_unknown_model(self, kind):
        message = self.raises(kind, "404", r"no-such-model", model="no-such-model")
        self.assertIn("not found", message.lower())

    def check_unsupported_datatype(self, kind):
        inp = httpclient.InferInput("input", [2, 3], "INT32")
        inp.set_data_from_numpy(np.arange(6, dtype=np.int32).reshape(2, 3), binary_data=True)
        self.raises(kind, "400", r"INT32", inp=inp)

    def check_data_shorter_than_shape(self, kind):
        inp = httpclient.InferInput("input", [5], "FP32")
        inp.set_data_from_numpy(np.ones(5, np.float32), binary_data=True)
        inp.set_shape([2, 3])
        self.raises(kind, "400", r"\S", inp=inp)

    def check_unknown_output(self, kind):
        self.raises(kind, "400", r"no_such_output", outputs=["output", "no_such_output"])

    def check_output_listed_twice(self, kind):
        self.raises(kind, "400", r"output", outputs=["output", "output"])

    def test_bf16_json_input_refused_by_client(self):
        # A property of tritonclient, not of the service: it is why the BF16 JSON-input cases set the data past it.
        inp = httpclient.InferInput("input", [1], "BF16")
        with self.assertRaises(InferenceServerException):
            inp.set_data_from_numpy(np.zeros(1, np.float32), binary_data=False)


def add_client_tests(cls):
    """test_sync_X and test_aio_X for each check_X(kind) of cls."""
    for name in [n for n in dir(cls) if n.startswith("check_")]:
        for kind in ("sync", "aio"):
            test = lambda self, name=name, kind=kind: getattr(self, name)(kind)  # noqa: E731
            setattr(cls, f"test_{kind}_{name[len('check_'):]}", test)


add_client_tests(Routes)
add_client_tests(Errors)


if __name__ == "__main__":
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    # A setUpModule error is reported against no test: it counts as one failure, and nothing ran to pass.
    failing = [test for test, _ in result.failures + result.errors]
    in_tests = {test.id() for test in failing if isinstance(test, unittest.TestCase)}
    failed = len(in_tests) + len(failing) - sum(isinstance(test, unittest.TestCase) for test in failing)
    passed = result.testsRun - len(result.skipped) - len(in_tests)
    if failed and SERVER is not None:
        print("--- the service's log, last lines ---\n" + SERVER.log_tail(20), file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or result.testsRun == 0 else 0)
