#!/usr/bin/env python3
"""NVIDIA's tritonclient.grpc (unchanged, from ../shared/clients/python, its stubs generated from Triton's own
protos) against the service's gRPC port: every RPC the service serves, every dtype bit for bit against the
project's kernels (test/interop/reference.ts), the mask, eval, the bidirectional stream, each status code,
concurrent calls, a call in flight at SIGTERM, and the same request over /v1 and /v2 giving the same bytes.

Run through scripts/test-interop.sh (npm run test:interop). Arguments are unittest's (-k PATTERN selects cases).
The last line is "N passed, N failed".
"""

import queue
import re
import socket
import signal
import sys
import threading
import time
import unittest
import urllib.request
from dataclasses import dataclass, field

import grpc
import numpy as np
import test_tritonclient as base
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import health_pb2, service_pb2
from tritonclient.utils import InferenceServerException

MODEL = "dropout"
TWO_64 = base.TWO_64
DATATYPES = base.DATATYPES

SERVER = None
CLIENT = None


def start_server(env=None):
    """The service with gRPC on a free port. Shedding on event-loop delay is off, as in the TypeScript tests: on a
    shared machine the loop's delay says how busy the machine is, not whether the service answers right."""
    return base.Server({"GRPC_PORT": "0", "MAX_EVENT_LOOP_DELAY_MS": "0", **(env or {})})


def setUpModule():
    global SERVER, CLIENT
    base.compute_expected(ALL_KEYS)
    SERVER = start_server()
    # base.v1_binary asks the suite's server for the /v1 reply.
    base.SERVER = SERVER
    CLIENT = grpcclient.InferenceServerClient(url=SERVER.grpc)


def tearDownModule():
    if CLIENT is not None:
        CLIENT.close()
    if SERVER is not None:
        SERVER.stop()


# --- infer cases -----------------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    datatype: str = "FP32"
    shape: tuple = (3, 37)
    input_seed: int = 1
    p: float = 0.3
    mode: str = "train"
    seed: str = "20240607"
    offset: int = 0
    # The request's parameters as tritonclient's dict takes them; None: p, seed, mode, offset from the fields above.
    params: dict = None
    # Parameters set by hand on the protobuf request, as other clients send them: {name: (field, value)}.
    raw_params: dict = field(default_factory=dict)
    mask: bool = True
    request_id: str = ""
    model_version: str = ""
    typed_contents: bool = False  # the values in fp32_contents / fp64_contents instead of raw_input_contents
    compression: str = None
    reported_seed: str = None

    def key(self):
        return base.RefKey(self.datatype, tuple(self.shape), self.input_seed, self.p, self.mode, self.seed, self.offset)

    def parameters(self):
        if self.params is not None:
            return self.params
        params = {"p": self.p, "seed": int(self.seed) if abs(int(self.seed)) < 2**63 else self.seed}
        if self.mode != "train":
            params["mode"] = self.mode
        if self.offset:
            params["offset"] = self.offset
        return params


def grpc_input(datatype, tensor):
    inp = grpcclient.InferInput("input", list(tensor.shape), datatype)
    inp.set_data_from_numpy(tensor.wire)
    return inp


def grpc_outputs(mask=True):
    outputs = [grpcclient.InferRequestedOutput("output")]
    if mask:
        outputs.append(grpcclient.InferRequestedOutput("mask"))
    return outputs


def build_request(case, tensor):
    """The protobuf ModelInferRequest tritonclient's infer() sends, for cases that set fields it has no argument for."""
    request = service_pb2.ModelInferRequest(model_name=MODEL, model_version=case.model_version, id=case.request_id)
    for key, value in case.parameters().items():
        if isinstance(value, bool):
            request.parameters[key].bool_param = value
        elif isinstance(value, int):
            request.parameters[key].int64_param = value
        elif isinstance(value, float):
            request.parameters[key].double_param = value
        else:
            request.parameters[key].string_param = value
    for key, (kind, value) in case.raw_params.items():
        setattr(request.parameters[key], kind, value)
    inp = request.inputs.add(name="input", datatype=case.datatype, shape=list(case.shape))
    if case.typed_contents:
        values = tensor.wire.reshape(-1)
        if case.datatype == "FP32":
            inp.contents.fp32_contents.extend(values.tolist())
        else:
            inp.contents.fp64_contents.extend(values.tolist())
    else:
        request.raw_input_contents.append(tensor.raw)
    for name in ["output", "mask"] if case.mask else ["output"]:
        request.outputs.add(name=name)
    return request


def result_bytes(response, name, datatype):
    """An output's bytes from a ModelInferResponse, through tritonclient's own InferResult."""
    result = grpcclient.InferResult(response)
    arr = result.as_numpy(name)
    if arr is None:
        raise AssertionError(f"no {name!r} in the reply")
    if name == "mask":
        if arr.dtype != np.bool_:
            raise AssertionError(f"mask read as {arr.dtype}")
        return arr.reshape(-1).astype(np.uint8).tobytes()
    return base.wire_bytes(arr, datatype)


def reply_parameters(response):
    out = {}
    for key, value in response.parameters.items():
        out[key] = getattr(value, value.WhichOneof("parameter_choice"))
    return out


def check_response(test, case, response, expected):
    """Problems of one reply against the reference: outputs, mask, shape, datatype, parameters, id."""
    problems = []
    if response.model_name != MODEL:
        problems.append(f"model_name {response.model_name!r}")
    if response.id != case.request_id:
        problems.append(f"id {response.id!r}, expected {case.request_id!r}")
    outputs = {o.name: o for o in response.outputs}
    out = outputs.get("output")
    if out is None:
        test.fail(f"no 'output' in the reply: {response}")
    if out.datatype != case.datatype or list(out.shape) != list(case.shape):
        problems.append(f"output is {out.datatype} {list(out.shape)}, expected {case.datatype} {list(case.shape)}")
    got = None
    try:
        got = result_bytes(response, "output", case.datatype)
    except AssertionError as error:
        problems.append(str(error))
    if got is not None and got != expected["output"]:
        problems.append("output: " + base.describe_difference(got, expected["output"], case.datatype))
    if case.mask:
        mask = outputs.get("mask")
        if mask is None or mask.datatype != "BOOL" or list(mask.shape) != list(case.shape):
            problems.append(f"mask is {mask and (mask.datatype, list(mask.shape))}, expected BOOL {list(case.shape)}")
        elif result_bytes(response, "mask", "BOOL") != expected["mask"]:
            problems.append("mask differs from the reference")
    elif "mask" in outputs:
        problems.append("a mask that was not asked for")
    params = reply_parameters(response)
    if case.mode == "eval":
        if "seed" in params:
            problems.append(f"eval reply carries a seed: {params}")
    else:
        want = case.reported_seed or str(int(case.seed) % TWO_64)
        if str(params.get("seed")) != want:
            problems.append(f"reply seed {params.get('seed')!r}, expected {want}")
    if params.get("kept") != expected["kept"]:
        problems.append(f"reply kept {params.get('kept')!r}, expected {expected['kept']}")
    if params.get("offset") != case.offset:
        problems.append(f"reply offset {params.get('offset')!r}, expected {case.offset}")
    return problems, got


def v2_bytes(case, tensor):
    """The same request's output over /v2 with tritonclient.http (binary tensors)."""
    client = httpclient.InferenceServerClient(url=SERVER.hostport, network_timeout=120.0)
    try:
        inp = httpclient.InferInput("input", list(case.shape), case.datatype)
        inp.set_data_from_numpy(tensor.wire, binary_data=True)
        result = client.infer(
            MODEL,
            [inp],
            outputs=[httpclient.InferRequestedOutput("output", binary_data=True)],
            parameters=case.parameters() if not case.raw_params else None,
        )
        return base.wire_bytes(result.as_numpy("output"), case.datatype)
    finally:
        client.close()


class Infer(unittest.TestCase):
    """One test per case: the gRPC reply against the reference, and the same request over /v1 and /v2."""

    def check(self, case):
        expected = base.EXPECTED[case.key()]
        if "error" in expected:
            self.fail(f"no reference for this case: {expected['error']}")
        tensor = base.tensor_for(case.key())
        try:
            if case.typed_contents or case.raw_params:
                response = CLIENT._client_stub.ModelInfer(build_request(case, tensor))
            else:
                result = CLIENT.infer(
                    MODEL,
                    [grpc_input(case.datatype, tensor)],
                    model_version=case.model_version,
                    outputs=grpc_outputs(case.mask),
                    request_id=case.request_id,
                    parameters=case.parameters(),
                    compression_algorithm=case.compression,
                )
                response = result.get_response()
        except InferenceServerException as error:
            self.fail(f"the service refused the request: [{error.status()}] {error.message()}")
        except grpc.RpcError as error:
            self.fail(f"the service refused the request: [{error.code()}] {error.details()}")
        problems, got = check_response(self, case, response, expected)
        if got is not None and not case.raw_params:
            body, _ = base.v1_binary(case, tensor)
            if body != got:
                problems.append("/v1 octet-stream reply differs: " + base.describe_difference(body, got, case.datatype))
            v2 = v2_bytes(case, tensor)
            if v2 != got:
                problems.append("/v2 reply differs: " + base.describe_difference(v2, got, case.datatype))
        if problems:
            self.fail("; ".join(problems))


def cases():
    out = []
    for dt in DATATYPES:
        out += [
            Case(f"{dt.lower()}", dt),
            Case(f"{dt.lower()}_eval", dt, (5, 9), mode="eval", p=0.5, params={"p": 0.5, "mode": "eval"}),
            Case(f"{dt.lower()}_p0", dt, (5, 9), p=0.0),
            Case(f"{dt.lower()}_p1", dt, (5, 9), p=1.0),
            Case(f"{dt.lower()}_seed_2p64_minus_1_as_string", dt, (5, 9), seed=str(TWO_64 - 1)),
            # Past INLINE_MAX_ELEMENTS's default: computed by the pool, on shared memory.
            Case(f"{dt.lower()}_large", dt, (520, 512), input_seed=7),
        ]
    out += [
        Case("fp32_typed_fp32_contents", typed_contents=True),
        Case("fp64_typed_fp64_contents", "FP64", typed_contents=True),
        Case("fp32_large_typed_contents", "FP32", (520, 512), input_seed=7, typed_contents=True),
        Case("fp32_seed_2p63_as_uint64_param", seed=str(2**63), params={"p": 0.3}, raw_params={"seed": ("uint64_param", 2**63)}),
        Case("fp32_seed_as_uint64_param", seed="42", params={"p": 0.3}, raw_params={"seed": ("uint64_param", 42)}),
        Case("fp32_seed_minus_1_wraps", seed="-1", params={"p": 0.3, "seed": -1}, reported_seed=str(TWO_64 - 1)),
        Case("fp64_seed_as_string", "FP64", seed="42", params={"p": 0.3, "seed": "42"}),
        Case("fp32_p_as_string", p=0.5, seed="42", params={"p": "0.5", "seed": 42}),
        Case("fp32_p_as_int64", p=1.0, seed="42", params={"p": 1, "seed": 42}),
        Case("fp16_offset", "FP16", offset=1001),
        Case("fp32_offset_as_string", offset=4097, params={"p": 0.3, "seed": 20240607, "offset": "4097"}),
        Case("fp32_without_mask", mask=False),
        Case("fp32_request_id_and_version", request_id="req-7", model_version="1"),
        Case("bf16_3d_shape", "BF16", (2, 3, 5), 3),
        Case("fp64_one_element", "FP64", (1,), 4),
        Case("fp32_gzip_request", compression="gzip"),
    ]
    return out


INFER_CASES = cases()
ALL_KEYS = [c.key() for c in INFER_CASES]
for _case in INFER_CASES:
    setattr(Infer, f"test_{_case.name}", lambda self, case=_case: self.check(case))


class Unseeded(unittest.TestCase):
    def test_unseeded_train_reports_a_seed_that_reproduces(self):
        case = Case("unseeded", params={"p": 0.3})
        tensor = base.tensor_for(case.key())
        result = CLIENT.infer(MODEL, [grpc_input("FP32", tensor)], parameters={"p": 0.3})
        seed = reply_parameters(result.get_response()).get("seed")
        self.assertRegex(str(seed), r"^\d+$")
        case.seed = str(seed)
        base.compute_expected([case.key()])
        expected = base.EXPECTED[case.key()]
        self.assertNotIn("error", expected)
        got = base.wire_bytes(result.as_numpy("output"), "FP32")
        self.assertEqual(got, expected["output"], base.describe_difference(got, expected["output"], "FP32"))


# --- the stream ------------------------------------------------------------------------------------------------


class Stream(unittest.TestCase):
    def test_bidirectional_stream_answers_each_request_with_its_id(self):
        """start_stream / async_stream_infer: every dtype, one bad request among them, each reply by its id."""
        replies = queue.Queue()
        client = grpcclient.InferenceServerClient(url=SERVER.grpc)
        client.start_stream(callback=lambda result, error: replies.put((result, error)))
        sent = {}
        try:
            for k, dt in enumerate(DATATYPES):
                case = Case(f"stream_{dt.lower()}", dt, request_id=f"stream-{k}")
                tensor = base.tensor_for(case.key())
                sent[case.request_id] = case
                client.async_stream_infer(
                    MODEL,
                    [grpc_input(dt, tensor)],
                    outputs=grpc_outputs(),
                    request_id=case.request_id,
                    parameters=case.parameters(),
                )
            bad = base.tensor_for(Case("bad").key())
            client.async_stream_infer(MODEL, [grpc_input("FP32", bad)], request_id="bad", parameters={"p": 1.5})
            got = [replies.get(timeout=60) for _ in range(len(sent) + 1)]
        finally:
            client.stop_stream()
            client.close()
        errors = [error for result, error in got if error is not None]
        self.assertEqual(len(errors), 1, f"one error expected: {errors}")
        self.assertRegex(errors[0].message(), r"parameters/p must be <= 1")
        problems = []
        seen = set()
        for result, error in got:
            if error is not None:
                continue
            response = result.get_response()
            case = sent.get(response.id)
            if case is None:
                problems.append(f"a reply with id {response.id!r}")
                continue
            seen.add(response.id)
            found, _ = check_response(self, case, response, base.EXPECTED[case.key()])
            problems += [f"{response.id}: {p}" for p in found]
        self.assertEqual(seen, set(sent), problems)
        if problems:
            self.fail("; ".join(problems))

    def test_stream_of_many_requests_in_order_of_ids(self):
        """Sixteen requests on one stream, each checked against its own reference."""
        replies = queue.Queue()
        client = grpcclient.InferenceServerClient(url=SERVER.grpc)
        client.start_stream(callback=lambda result, error: replies.put((result, error)))
        case = Case("stream_many")
        tensor = base.tensor_for(case.key())
        expected = base.EXPECTED[case.key()]
        try:
            for k in range(16):
                client.async_stream_infer(
                    MODEL, [grpc_input("FP32", tensor)], outputs=grpc_outputs(), request_id=f"m{k}", parameters=case.parameters()
                )
            got = [replies.get(timeout=60) for _ in range(16)]
        finally:
            client.stop_stream()
            client.close()
        ids = []
        for result, error in got:
            self.assertIsNone(error)
            response = result.get_response()
            ids.append(response.id)
            problems, _ = check_response(self, Case("stream_many", request_id=response.id), response, expected)
            self.assertEqual(problems, [])
        self.assertEqual(sorted(ids), sorted(f"m{k}" for k in range(16)))


# --- concurrency -----------------------------------------------------------------------------------------------


class Concurrency(unittest.TestCase):
    def test_concurrent_calls_each_get_their_own_bytes(self):
        """24 calls at once from 8 threads on one channel, with different seeds and dtypes, all exact."""
        cases = [Case(f"conc_{k}", list(DATATYPES)[k % 4], (64, 33), input_seed=k, seed=str(1000 + k)) for k in range(24)]
        base.compute_expected([c.key() for c in cases])
        failures = []
        lock = threading.Lock()

        def run(chunk):
            for case in chunk:
                tensor = base.tensor_for(case.key())
                try:
                    result = CLIENT.infer(
                        MODEL, [grpc_input(case.datatype, tensor)], outputs=grpc_outputs(), parameters=case.parameters()
                    )
                    problems, _ = check_response(self, case, result.get_response(), base.EXPECTED[case.key()])
                except InferenceServerException as error:
                    problems = [f"[{error.status()}] {error.message()}"]
                if problems:
                    with lock:
                        failures.append(f"{case.name}: {'; '.join(problems)}")

        threads = [threading.Thread(target=run, args=(cases[k::8],)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(failures, [])

    def test_async_infer_callbacks(self):
        case = Case("async", "BF16")
        tensor = base.tensor_for(case.key())
        done = queue.Queue()
        for k in range(6):
            CLIENT.async_infer(
                MODEL,
                [grpc_input("BF16", tensor)],
                callback=lambda result, error: done.put((result, error)),
                outputs=grpc_outputs(),
                parameters=case.parameters(),
                request_id=f"a{k}",
            )
        for _ in range(6):
            result, error = done.get(timeout=60)
            self.assertIsNone(error)
            response = result.get_response()
            problems, _ = check_response(self, Case("async", "BF16", request_id=response.id), response, base.EXPECTED[case.key()])
            self.assertEqual(problems, [])


ALL_KEYS += [Case("stream_" + dt.lower(), dt).key() for dt in DATATYPES] + [Case("stream_many").key(), Case("async", "BF16").key()]


# --- server and model RPCs -------------------------------------------------------------------------------------


def health_call(target, method, service="", timeout=10):
    channel = grpc.insecure_channel(target)
    try:
        if method == "Check":
            rpc = channel.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )
            return rpc(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status
        rpc = channel.unary_stream(
            "/grpc.health.v1.Health/Watch",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        stream = rpc(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        first = next(stream).status
        stream.cancel()
        return first
    finally:
        channel.close()


class Routes(unittest.TestCase):
    def test_server_live_and_ready(self):
        self.assertIs(CLIENT.is_server_live(), True)
        self.assertIs(CLIENT.is_server_ready(), True)

    def test_model_ready(self):
        self.assertIs(CLIENT.is_model_ready(MODEL), True)
        self.assertIs(CLIENT.is_model_ready(MODEL, model_version="1"), True)
        self.assertIs(CLIENT.is_model_ready("no-such-model"), False)
        self.assertIs(CLIENT.is_model_ready(MODEL, model_version="2"), False)

    def test_server_metadata(self):
        meta = CLIENT.get_server_metadata(as_json=True)
        self.assertEqual(meta["name"], "dropout-service")
        self.assertIsInstance(meta["version"], str)
        self.assertIn("binary_tensor_data", meta["extensions"])
        # The same as /v2 says.
        http = httpclient.InferenceServerClient(url=SERVER.hostport)
        try:
            self.assertEqual(http.get_server_metadata(), meta)
        finally:
            http.close()

    def test_model_metadata(self):
        for version in ("", "1"):
            meta = CLIENT.get_model_metadata(MODEL, model_version=version, as_json=True)
            self.assertEqual(meta["name"], MODEL)
            self.assertEqual(meta["versions"], ["1"])
            self.assertEqual([i["name"] for i in meta["inputs"]], ["input"])
            self.assertIn(meta["inputs"][0]["datatype"], DATATYPES)
            outputs = {o["name"]: o for o in meta["outputs"]}
            self.assertEqual(set(outputs), {"output", "mask"})
            self.assertEqual(outputs["mask"]["datatype"], "BOOL")

    def test_model_config(self):
        config = CLIENT.get_model_config(MODEL, as_json=True)["config"]
        self.assertEqual(config["name"], MODEL)
        self.assertTrue(config.get("platform") or config.get("backend"))
        # as_json leaves out proto3 defaults: max_batch_size 0 is absent, which is 0.
        self.assertEqual(int(config.get("max_batch_size", 0)), 0)
        self.assertEqual([i["name"] for i in config["input"]], ["input"])
        self.assertEqual(config["input"][0]["data_type"], "TYPE_FP32")
        outputs = {o["name"]: o for o in config["output"]}
        self.assertEqual(set(outputs), {"output", "mask"})
        self.assertEqual(outputs["mask"]["data_type"], "TYPE_BOOL")
        proto = CLIENT.get_model_config(MODEL).config
        self.assertEqual(proto.max_batch_size, 0)

    def test_health_check_and_watch(self):
        serving = health_pb2.HealthCheckResponse.SERVING
        self.assertEqual(health_call(SERVER.grpc, "Check"), serving)
        self.assertEqual(health_call(SERVER.grpc, "Check", "inference.GRPCInferenceService"), serving)
        self.assertEqual(health_call(SERVER.grpc, "Watch"), serving)
        with self.assertRaises(grpc.RpcError) as caught:
            health_call(SERVER.grpc, "Check", "no.such.Service")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(
            health_call(SERVER.grpc, "Watch", "no.such.Service"), health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        )

    def test_metrics_count_grpc_calls(self):
        CLIENT.is_server_live()
        with urllib.request.urlopen(f"{SERVER.origin}/metrics", timeout=30) as response:
            text = response.read().decode()
        self.assertRegex(text, r'grpc_server_handled_total\{[^}]*grpc_method="ServerLive",grpc_code="OK"\} [1-9]')
        self.assertRegex(text, r'grpc_server_handling_seconds_count\{[^}]*grpc_method="ServerLive"')


# --- status codes ----------------------------------------------------------------------------------------------


def status_of(call):
    try:
        call()
    except InferenceServerException as error:
        return error.status(), error.message() or ""
    except grpc.RpcError as error:
        return f"StatusCode.{error.code().name}", error.details() or ""
    return "StatusCode.OK", ""


def small_input(datatype="FP32", shape=(2, 3)):
    inp = grpcclient.InferInput("input", list(shape), datatype)
    inp.set_data_from_numpy(base.make_tensor(datatype, shape, 11).wire)
    return inp


def http_detail(parameters, datatype="FP32", outputs=None, shape=(2, 3), model=MODEL):
    """The /v2 error message of the same request, for the detail-text comparison."""
    client = httpclient.InferenceServerClient(url=SERVER.hostport)
    try:
        inp = httpclient.InferInput("input", list(shape), datatype)
        if datatype == "INT32":
            inp.set_data_from_numpy(np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape), binary_data=True)
        else:
            inp.set_data_from_numpy(base.make_tensor(datatype, shape, 11).wire, binary_data=True)
        kwargs = dict(parameters=parameters)
        if outputs is not None:
            kwargs["outputs"] = [httpclient.InferRequestedOutput(o) for o in outputs]
        client.infer(model, [inp], **kwargs)
    except InferenceServerException as error:
        return error.message()
    finally:
        client.close()
    return None


class Errors(unittest.TestCase):
    def assert_status(self, call, code, pattern):
        status, message = status_of(call)
        self.assertEqual(status, f"StatusCode.{code}", message)
        if pattern:
            self.assertRegex(message, pattern)
        return message

    def invalid(self, parameters, pattern, inp=None, outputs=None, http=None):
        """INVALID_ARGUMENT with the detail text /v2 gives the same request."""
        kwargs = dict(parameters=parameters)
        if outputs is not None:
            kwargs["outputs"] = [grpcclient.InferRequestedOutput(o) for o in outputs]
        message = self.assert_status(lambda: CLIENT.infer(MODEL, [inp or small_input()], **kwargs), "INVALID_ARGUMENT", pattern)
        if http is not None:
            self.assertEqual(message, http_detail(parameters, outputs=outputs, **http), "the same detail as /v2")
        return message

    def test_p_above_1(self):
        self.invalid({"p": 1.5, "seed": 1}, r"\bp\b", http={})

    def test_p_not_a_number(self):
        self.invalid({"p": "half", "seed": 1}, r"\bp\b", http={})

    def test_p_as_bool(self):
        self.invalid({"p": True}, r"\bp\b", http={})

    def test_seed_past_2p64(self):
        self.invalid({"p": 0.5, "seed": str(TWO_64)}, r"seed", http={})

    def test_seed_not_an_integer(self):
        self.invalid({"p": 0.5, "seed": "abc"}, r"seed", http={})

    def test_unknown_mode(self):
        self.invalid({"p": 0.5, "seed": 1, "mode": "bogus"}, r"mode", http={})

    def test_bad_noise_shape(self):
        self.invalid({"p": 0.5, "seed": 1, "noise_shape": "3,3"}, r"noise_shape", http={})

    def test_unsupported_datatype(self):
        inp = grpcclient.InferInput("input", [2, 3], "INT32")
        inp.set_data_from_numpy(np.arange(6, dtype=np.int32).reshape(2, 3))
        self.invalid({"p": 0.5}, r"INT32", inp=inp, http={"datatype": "INT32"})

    def test_data_shorter_than_shape(self):
        inp = grpcclient.InferInput("input", [5], "FP32")
        inp.set_data_from_numpy(np.ones(5, np.float32))
        inp.set_shape([2, 3])
        self.invalid({"p": 0.5}, r"shape", inp=inp)

    def test_unknown_output(self):
        self.invalid({"p": 0.5}, r"no_such_output", outputs=["output", "no_such_output"], http={})

    def test_output_listed_twice(self):
        self.invalid({"p": 0.5}, r"output", outputs=["output", "output"], http={})

    def test_wrong_typed_contents(self):
        request = service_pb2.ModelInferRequest(model_name=MODEL)
        inp = request.inputs.add(name="input", datatype="FP16", shape=[2])
        inp.contents.fp32_contents.extend([1.0, 2.0])
        self.assert_status(lambda: CLIENT._client_stub.ModelInfer(request), "INVALID_ARGUMENT", r"raw_input_contents")

    def test_no_data(self):
        request = service_pb2.ModelInferRequest(model_name=MODEL)
        request.inputs.add(name="input", datatype="FP32", shape=[2])
        self.assert_status(lambda: CLIENT._client_stub.ModelInfer(request), "INVALID_ARGUMENT", r"no data")

    def test_unknown_model(self):
        message = self.assert_status(lambda: CLIENT.infer("no-such-model", [small_input()]), "NOT_FOUND", r"no-such-model")
        self.assertIn("not found", message.lower())
        self.assert_status(lambda: CLIENT.get_model_metadata("no-such-model"), "NOT_FOUND", r"no-such-model")
        self.assert_status(lambda: CLIENT.get_model_config("no-such-model"), "NOT_FOUND", r"no-such-model")

    def test_unknown_version(self):
        self.assert_status(lambda: CLIENT.infer(MODEL, [small_input()], model_version="7"), "NOT_FOUND", r"version")

    def test_unimplemented_rpcs(self):
        self.assert_status(lambda: CLIENT.get_model_repository_index(), "UNIMPLEMENTED", r"")
        self.assert_status(lambda: CLIENT.get_inference_statistics(MODEL), "UNIMPLEMENTED", r"")
        self.assert_status(lambda: CLIENT.load_model(MODEL), "UNIMPLEMENTED", r"")

    def test_client_deadline(self):
        """A 1M-element call with a 1 ms deadline: DEADLINE_EXCEEDED, and the service keeps serving."""
        x = np.ones((1024, 1024), np.float32)
        inp = grpcclient.InferInput("input", [1024, 1024], "FP32")
        inp.set_data_from_numpy(x)
        self.assert_status(
            lambda: CLIENT.infer(MODEL, [inp], parameters={"p": 0.5, "seed": 1}, client_timeout=0.001),
            "DEADLINE_EXCEEDED",
            r"",
        )
        self.assertIs(CLIENT.is_server_ready(), True)


def metric(server, name):
    with urllib.request.urlopen(f"{server.origin}/metrics", timeout=30) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def wait_for_metric(server, name, value, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if metric(server, name) == value:
            return True
        time.sleep(0.01)
    return False


def ones_input(elements):
    inp = grpcclient.InferInput("input", [elements], "FP32")
    inp.set_data_from_numpy(np.ones(elements, np.float32))
    return inp


def http_head(server, path, length, extra=""):
    """An HTTP request's head on a raw socket with a tiny receive buffer: the service's reply cannot be pushed
    through it unread, so the request holds what it took until the socket closes."""
    host, port = server.origin[len("http://") :].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n{extra}"
    sock.sendall(f"{head}Content-Length: {length}\r\n\r\n".encode())
    return sock


class Limits(unittest.TestCase):
    """Shedding and the message size limit, on a service of its own with small limits; HTTP requests hold the
    budget, so these also show that HTTP and gRPC share it."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(
            {"MAX_BODY_BYTES": str(3 << 20), "MAX_INFLIGHT_BYTES": str(5 << 20), "MAX_QUEUE": "1", "REQUEST_TIMEOUT_MS": "10000"}
        )
        cls.client = grpcclient.InferenceServerClient(url=cls.server.grpc)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_message_over_max_body_bytes(self):
        status, message = status_of(lambda: self.client.infer(MODEL, [ones_input(1 << 20)]))
        self.assertEqual(status, "StatusCode.RESOURCE_EXHAUSTED", message)

    def test_byte_budget_full_is_unavailable(self):
        # An upload declaring 3,000,000 bytes holds them from its first byte; 2.4 MB more do not fit in 5 MiB.
        sock = http_head(self.server, "/v1/dropout?p=0.5&seed=1", 3_000_000)
        try:
            self.assertTrue(wait_for_metric(self.server, "dropout_inflight_bytes", 3_000_000))
            status, message = status_of(lambda: self.client.infer(MODEL, [ones_input(600_000)], parameters={"p": 0.5}))
            self.assertEqual(status, "StatusCode.UNAVAILABLE", message)
            self.assertIn("MAX_INFLIGHT_BYTES", message)
        finally:
            sock.close()
        self.assertTrue(wait_for_metric(self.server, "dropout_inflight_bytes", 0))
        self.assertEqual(status_of(lambda: self.client.infer(MODEL, [ones_input(600_000)], parameters={"p": 0.5}))[0], "StatusCode.OK")

    def test_queue_full_is_unavailable(self):
        # An HTTP request whose 700,000-value JSON reply its client does not read holds the one compute slot.
        body = np.random.RandomState(5).standard_normal(700_000).astype(np.float32).tobytes()
        sock = http_head(self.server, "/v1/dropout?p=0.5&seed=1", len(body), "Accept: application/json\r\n")
        try:
            sock.sendall(body)
            self.assertTrue(wait_for_metric(self.server, "dropout_inflight_computations", 1))
            status, message = status_of(lambda: self.client.infer(MODEL, [small_input()], parameters={"p": 0.5}))
            self.assertEqual(status, "StatusCode.UNAVAILABLE", message)
            self.assertIn("MAX_QUEUE", message)
            stream_errors = queue.Queue()
            self.client.start_stream(callback=lambda result, error: stream_errors.put(error))
            self.client.async_stream_infer(MODEL, [small_input()], parameters={"p": 0.5})
            error = stream_errors.get(timeout=30)
            self.client.stop_stream()
            self.assertIsNotNone(error, "a stream message is shed too, in its error_message")
            self.assertIn("MAX_QUEUE", error.message())
        finally:
            sock.close()
        self.assertTrue(wait_for_metric(self.server, "dropout_inflight_computations", 0))
        self.assertEqual(status_of(lambda: self.client.infer(MODEL, [small_input()], parameters={"p": 0.5}))[0], "StatusCode.OK")


class RequestTimeout(unittest.TestCase):
    def test_request_timeout_aborts_the_work(self):
        # The torch stream skipped 2^28 draws ahead takes the one worker far longer than REQUEST_TIMEOUT_MS, whatever
        # the tensor's size (the HTTP resilience test's slow request).
        server = start_server({"WORKERS": "1", "INLINE_MAX_ELEMENTS": "0", "REQUEST_TIMEOUT_MS": "100"})
        client = grpcclient.InferenceServerClient(url=server.grpc)
        slow = {"p": 0.5, "seed": 3, "rng": "torch", "offset": 2**28}
        try:
            status, message = status_of(lambda: client.infer(MODEL, [ones_input(1000)], parameters=slow))
            self.assertEqual(status, "StatusCode.DEADLINE_EXCEEDED", message)
            self.assertIn("REQUEST_TIMEOUT_MS", message)
            # The aborted call's queued pool work is dropped, and its slot and bytes come back.
            self.assertTrue(wait_for_metric(server, "dropout_pool_queue_depth", 0))
            self.assertTrue(wait_for_metric(server, "dropout_inflight_computations", 0))
            self.assertTrue(wait_for_metric(server, "dropout_inflight_bytes", 0))
            self.assertIs(client.is_server_ready(), True)
        finally:
            client.close()
            server.stop()


class Access(unittest.TestCase):
    """API keys and the rate limit, each on a service of its own."""

    def test_api_keys(self):
        server = start_server({"API_KEYS": "k1,k2"})
        client = grpcclient.InferenceServerClient(url=server.grpc)
        try:
            infer = lambda headers: client.infer(MODEL, [small_input()], parameters={"p": 0.5, "seed": 1}, headers=headers)  # noqa: E731
            status, message = status_of(lambda: infer(None))
            self.assertEqual(status, "StatusCode.UNAUTHENTICATED", message)
            self.assertIn("Bearer", message)
            self.assertEqual(status_of(lambda: infer({"authorization": "Bearer nope"}))[0], "StatusCode.UNAUTHENTICATED")
            self.assertEqual(status_of(lambda: infer({"authorization": "Bearer k2"}))[0], "StatusCode.OK")
            self.assertEqual(status_of(lambda: client.get_model_metadata(MODEL))[0], "StatusCode.UNAUTHENTICATED")
            # Probes never need a key.
            self.assertIs(client.is_server_live(), True)
            self.assertIs(client.is_server_ready(), True)
            self.assertEqual(health_call(server.grpc, "Check"), health_pb2.HealthCheckResponse.SERVING)
        finally:
            client.close()
            server.stop()

    def test_rate_limit(self):
        server = start_server({"RATE_LIMIT_PER_MINUTE": "3"})
        client = grpcclient.InferenceServerClient(url=server.grpc)
        try:
            statuses = [status_of(lambda: client.infer(MODEL, [small_input()], parameters={"p": 0.5}))[0] for _ in range(4)]
            self.assertEqual(statuses, ["StatusCode.OK"] * 3 + ["StatusCode.RESOURCE_EXHAUSTED"])
            self.assertIs(client.is_server_live(), True, "probes are never limited")
        finally:
            client.close()
            server.stop()


# --- shutdown --------------------------------------------------------------------------------------------------


class Shutdown(unittest.TestCase):
    def test_sigterm_drains_a_call_and_a_stream_in_flight(self):
        server = start_server({"SHUTDOWN_DRAIN_MS": "1000", "INLINE_MAX_ELEMENTS": "0", "CHUNK_ELEMENTS": "4096"})
        case = Case("sigterm", "FP32", (520, 512), input_seed=7)
        tensor = base.tensor_for(case.key())
        expected = base.EXPECTED[case.key()]
        client = grpcclient.InferenceServerClient(url=server.grpc)
        replies = queue.Queue()
        unary = {}
        try:
            client.start_stream(callback=lambda result, error: replies.put((result, error)))
            client.async_stream_infer(MODEL, [grpc_input("FP32", tensor)], request_id="s1", parameters=case.parameters())
            thread = threading.Thread(
                target=lambda: unary.update(
                    result=status_of(lambda: unary.update(reply=client.infer(MODEL, [grpc_input("FP32", tensor)], parameters=case.parameters())))
                )
            )
            thread.start()
            time.sleep(0.02)
            server.proc.send_signal(signal.SIGTERM)
            # Readiness turns at once: health says NOT_SERVING while calls are still served.
            time.sleep(0.2)
            self.assertEqual(health_call(server.grpc, "Check"), health_pb2.HealthCheckResponse.NOT_SERVING)
            late = status_of(lambda: unary.update(late=client.infer(MODEL, [grpc_input("FP32", tensor)], parameters=case.parameters())))
            self.assertEqual(late[0], "StatusCode.OK", f"a call during the drain window is served: {late}")
            result, error = replies.get(timeout=30)
            self.assertIsNone(error)
            problems, _ = check_response(self, Case("sigterm", "FP32", (520, 512), input_seed=7, request_id="s1", mask=False), result.get_response(), expected)
            self.assertEqual(problems, [])
            thread.join(30)
            self.assertEqual(unary["result"][0], "StatusCode.OK", unary["result"])
            for key in ("reply", "late"):
                got = base.wire_bytes(unary[key].as_numpy("output"), "FP32")
                self.assertEqual(got, expected["output"], f"{key}: " + base.describe_difference(got, expected["output"], "FP32"))
            # The stream is ended by the shutdown (UNAVAILABLE: retry elsewhere) once its message is answered.
            result, error = replies.get(timeout=30)
            self.assertIsNone(result)
            self.assertIn("UNAVAILABLE", str(error.status()))
            code = server.proc.wait(15)
            self.assertEqual(code, 0, server.log_tail())
        finally:
            client.close()
            server.stop()


ALL_KEYS.append(Case("sigterm", "FP32", (520, 512), input_seed=7).key())


if __name__ == "__main__":
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    failing = [test for test, _ in result.failures + result.errors]
    in_tests = {test.id() for test in failing if isinstance(test, unittest.TestCase)}
    failed = len(in_tests) + len(failing) - sum(isinstance(test, unittest.TestCase) for test in failing)
    passed = result.testsRun - len(result.skipped) - len(in_tests)
    if failed and SERVER is not None:
        print("--- the service's log, last lines ---\n" + SERVER.log_tail(20), file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or result.testsRun == 0 else 0)
