/**
 * The gRPC adapter with @grpc/grpc-js's own client on Triton's proto (../shared/clients/protos): what needs no Python
 * (test/interop/test_tritonclient_grpc.py drives NVIDIA's client). Same bytes as /v1 and /v2, typed contents, the
 * stream, every status code the adapter renders (INTERNAL with nothing leaked, a deadline aborting the work), health,
 * metrics, and close() draining a call and a stream.
 */
import {
  type Client,
  type ClientDuplexStream,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { resolveSettings } from '../../src/dropout/settings.js';
import { GrpcServer } from '../../src/grpc/server.js';
import { dropoutRange } from '../../src/kernel/dropout.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { Admission } from '../../src/service/admission.js';
import { BufferCache } from '../../src/service/buffer-cache.js';
import { lazySignal } from '../../src/service/deadline.js';
import type { CallContext, DecodedCall, DropoutOutcome, DropoutService } from '../../src/service/dropout-service.js';
import { SHARED_DIR, startApp } from '../helpers.js';
import { genInput } from '../reference.js';

const PROTOS = `${SHARED_DIR}clients/protos/`;
const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTOS] };
const inference = loadPackageDefinition(loadSync(`${PROTOS}grpc_service.proto`, options)) as unknown as {
  inference: {
    GRPCInferenceService: new (
      address: string,
      creds: ReturnType<typeof credentials.createInsecure>,
      options?: object,
    ) => Client;
  };
};
const health = loadPackageDefinition(loadSync(`${PROTOS}health.proto`, options)) as unknown as {
  grpc: {
    health: { v1: { Health: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client } };
  };
};

type Unary = (
  request: object,
  metadata: Metadata,
  options: { deadline?: number },
  callback: (error: ServiceError | null, response: Record<string, unknown>) => void,
) => void;

/** Calls `method` on `client`, resolving to the response or the ServiceError. */
function call(client: Client, method: string, request: object, metadata = new Metadata(), deadline?: number) {
  return new Promise<{ error: ServiceError | null; response: Record<string, unknown> }>((resolve) => {
    const rpc = (client as unknown as Record<string, Unary>)[method].bind(client);
    rpc(request, metadata, deadline === undefined ? {} : { deadline }, (error, response) =>
      resolve({ error, response }),
    );
  });
}

function connect(t: Test, port: number): Client {
  const client = new inference.inference.GRPCInferenceService(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
  });
  t.teardown(() => client.close());
  return client;
}

/** n deterministic values, shifted by `shift` so different calls carry different tensors. */
function f32(n: number, shift = 0): Float32Array {
  return new Float32Array(genInput(n).map((v) => v + shift));
}

function expectedDropout(x: Float32Array, p: number, seed: bigint): Float32Array {
  const out = x.slice();
  const [key0, key1] = philoxKey(seed);
  dropoutRange(out, 0, out.length, { dtype: 'float32', p, key0, key1, offset: 0 });
  return out;
}

function inferRequest(x: Float32Array, parameters: object, extra: object = {}) {
  return {
    model_name: 'dropout',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [String(x.length)] }],
    outputs: [{ name: 'output' }, { name: 'mask' }],
    raw_input_contents: [Buffer.from(x.buffer, x.byteOffset, x.byteLength)],
    parameters,
    ...extra,
  };
}

t.test('the app’s gRPC port: same bytes as /v1 and /v2, typed contents, detail texts as /v2', async (t) => {
  const app = await startApp(t, { GRPC_PORT: '0' });
  const port = await app.grpc?.listen('127.0.0.1', 0);
  if (port === undefined) throw new Error('no gRPC server');
  const client = connect(t, port);

  for (const n of [37, 300_000]) {
    const x = f32(n);
    const { error, response } = await call(
      client,
      'ModelInfer',
      inferRequest(x, { p: { double_param: 0.3 }, seed: { uint64_param: '18446744073709551615' } }, { id: `n${n}` }),
    );
    t.equal(error, null, `${n} elements`);
    const [output, mask] = response.raw_output_contents as Buffer[];
    const v1 = await app.inject({
      method: 'POST',
      url: `/v1/dropout?p=0.3&seed=18446744073709551615`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(x.buffer),
    });
    t.ok(output.equals(v1.rawPayload), `${n}: the /v1 bytes`);
    const expected = expectedDropout(x, 0.3, 2n ** 64n - 1n);
    t.ok(output.equals(Buffer.from(expected.buffer)), `${n}: the kernel's bytes`);
    t.equal(mask.length, n);
    t.match(response, {
      id: `n${n}`,
      model_name: 'dropout',
      parameters: { seed: { string_param: '18446744073709551615' }, kept: { int64_param: v1.headers['dropout-kept'] } },
      outputs: [
        { name: 'output', datatype: 'FP32', shape: [String(n)] },
        { name: 'mask', datatype: 'BOOL', shape: [String(n)] },
      ],
    });
  }

  const x = f32(10, 3);
  const typed = await call(client, 'ModelInfer', {
    model_name: 'dropout',
    inputs: [{ name: 'input', datatype: 'FP32', shape: ['2', '5'], contents: { fp32_contents: [...x] } }],
    parameters: { p: { double_param: 0.5 }, seed: { int64_param: '9' } },
  });
  t.equal(typed.error, null);
  t.ok(
    (typed.response.raw_output_contents as Buffer[])[0].equals(Buffer.from(expectedDropout(x, 0.5, 9n).buffer)),
    'fp32_contents in, raw bytes out',
  );

  // The same bad request over /v2 and gRPC: INVALID_ARGUMENT with /v2's very words.
  for (const [parameters, v2] of [
    [{ p: { double_param: 1.5 } }, { p: 1.5 }],
    [{ seed: { string_param: 'abc' } }, { seed: 'abc' }],
    [{ mode: { string_param: 'bogus' } }, { mode: 'bogus' }],
  ] as const) {
    const bad = await call(client, 'ModelInfer', inferRequest(f32(4), parameters));
    const http = await app.inject({
      method: 'POST',
      url: '/v2/models/dropout/infer',
      headers: { 'content-type': 'application/json' },
      payload: { inputs: [{ name: 'input', shape: [4], datatype: 'FP32', data: [...f32(4)] }], parameters: v2 },
    });
    t.equal(bad.error?.code, Status.INVALID_ARGUMENT);
    t.equal(bad.error?.details, http.json().error, `the /v2 detail: ${bad.error?.details}`);
  }
  const int32 = await call(client, 'ModelInfer', {
    model_name: 'dropout',
    inputs: [{ name: 'input', datatype: 'INT32', shape: ['2'], contents: { int_contents: [1, 2] } }],
  });
  t.equal(int32.error?.code, Status.INVALID_ARGUMENT);
  t.match(int32.error?.details, /INT32 is not supported/);
  const unknown = await call(client, 'ModelInfer', { ...inferRequest(f32(4), {}), model_name: 'other' });
  t.equal(unknown.error?.code, Status.NOT_FOUND);
  t.match(unknown.error?.details, /unknown model: 'other' is not found/);
  const config = await call(client, 'ModelConfig', { name: 'dropout' });
  t.match(config.response, {
    config: { name: 'dropout', max_batch_size: 0, input: [{ name: 'input', data_type: 'TYPE_FP32' }] },
  });
  const index = await call(client, 'RepositoryIndex', {});
  t.equal(index.error?.code, Status.UNIMPLEMENTED);

  const healthClient = new health.grpc.health.v1.Health(`127.0.0.1:${port}`, credentials.createInsecure());
  t.teardown(() => healthClient.close());
  t.match((await call(healthClient, 'Check', { service: '' })).response, { status: 'SERVING' });
  app.drain();
  t.match(
    (await call(healthClient, 'Check', { service: '' })).response,
    { status: 'NOT_SERVING' },
    'follows readiness',
  );
  t.match((await call(client, 'ServerReady', {})).response, { ready: false });

  const metrics = await app.inject({ url: '/metrics' });
  t.match(
    metrics.payload,
    /grpc_server_handled_total\{grpc_service="inference.GRPCInferenceService",grpc_method="ModelInfer",grpc_code="INVALID_ARGUMENT"\} 4/,
  );
  t.match(metrics.payload, /grpc_server_handling_seconds_bucket\{[^}]*grpc_method="ModelInfer"/);
  // 300,047 elements over gRPC and 300,037 over /v1: one counter for every protocol.
  t.match(metrics.payload, /dropout_elements_total\{dtype="float32",variant="standard"\} 600084/);
});

t.test('API keys: UNAUTHENTICATED without a valid bearer key; probes stay open', async (t) => {
  const app = await startApp(t, { GRPC_PORT: '0', API_KEYS: 'k1' });
  const port = await app.grpc?.listen('127.0.0.1', 0);
  const client = connect(t, port as number);
  const none = await call(client, 'ModelInfer', inferRequest(f32(4), {}));
  t.equal(none.error?.code, Status.UNAUTHENTICATED);
  const metadata = new Metadata();
  metadata.set('authorization', 'Bearer k1');
  t.equal((await call(client, 'ModelInfer', inferRequest(f32(4), {}), metadata)).error, null);
  t.equal((await call(client, 'ServerLive', {})).error, null);
});

const limits = { maxElements: 1 << 20, maxRank: 8, inlineMaxElements: 1 << 16 };

/** The pipeline's outline (service/dropout-service.ts) around a computation the test supplies. */
function fakeService(compute: (decoded: DecodedCall, signal: () => AbortSignal) => Promise<DropoutOutcome>) {
  const service: Pick<DropoutService, 'run'> = {
    run: (call) =>
      call.lease.during(async () => {
        const context = { limits, codec: undefined, signal: lazySignal(call.deadline) } as unknown as CallContext;
        const decoded = await call.decode(context);
        return call.encode(decoded, await compute(decoded, context.signal), context);
      }),
  };
  return service;
}

/** A GrpcServer over a pipeline the test controls. */
async function standalone(t: Test, dropout: Pick<DropoutService, 'run'>, requestTimeoutMs = 30_000) {
  const admission = new Admission({ maxQueue: 4, maxInflightBytes: 1 << 24 }, new BufferCache({ maxCachedBytes: 0 }));
  const logged: Array<Record<string, unknown>> = [];
  const server = new GrpcServer({
    requestTimeoutMs,
    maxMessageBytes: 1 << 20,
    apiKeys: [],
    rateLimitPerMinute: 0,
    dropout,
    admission,
    readiness: { notReadyReason: () => null },
    liveness: { stuckReason: () => null },
    log: {
      info: (fields) => logged.push(fields as Record<string, unknown>),
      error: (fields) => logged.push(fields as Record<string, unknown>),
    },
    registry: new Registry(),
    countElements: () => {},
  });
  const port = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close(100));
  return { server, client: connect(t, port), admission, logged };
}

t.test('INTERNAL names the call and nothing else; the log has the error', async (t) => {
  const { client, logged } = await standalone(
    t,
    fakeService(async () => {
      throw new Error('secret: /etc/passwd at 0xdeadbeef');
    }),
  );
  const { error } = await call(client, 'ModelInfer', inferRequest(f32(4), {}));
  t.equal(error?.code, Status.INTERNAL);
  t.match(error?.details, /^internal error \(request ModelInfer-[0-9a-z]+\)$/);
  t.notMatch(error?.details, /secret/);
  t.ok(
    logged.some((line) => String((line.err as Error | undefined)?.message).includes('secret')),
    'logged',
  );
});

t.test('the client’s deadline: DEADLINE_EXCEEDED and the work’s signal aborted; the lease comes back', async (t) => {
  let aborted: unknown;
  const { client, admission } = await standalone(
    t,
    fakeService(
      (_decoded, signal) =>
        new Promise((_resolve, reject) => {
          const s = signal();
          s.addEventListener('abort', () => {
            aborted = s.reason;
            reject(s.reason);
          });
        }),
    ),
  );
  const { error } = await call(client, 'ModelInfer', inferRequest(f32(4), {}), new Metadata(), Date.now() + 200);
  t.equal(error?.code, Status.DEADLINE_EXCEEDED);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(aborted, 'the work was aborted');
  t.equal(admission.slots, 0, 'the slot came back');
  t.equal(admission.bytes, 0, 'the bytes came back');
});

t.test('REQUEST_TIMEOUT_MS: DEADLINE_EXCEEDED naming it', async (t) => {
  const { client } = await standalone(
    t,
    fakeService(
      (_decoded, signal) =>
        new Promise((_resolve, reject) => {
          const s = signal();
          s.addEventListener('abort', () => reject(s.reason));
        }),
    ),
    150,
  );
  const { error } = await call(client, 'ModelInfer', inferRequest(f32(4), {}));
  t.equal(error?.code, Status.DEADLINE_EXCEEDED);
  t.match(error?.details, /REQUEST_TIMEOUT_MS/);
});

t.test(
  'the stream: each reply carries its id, an error is that message’s error_message; close() drains it',
  async (t) => {
    const releases: Array<() => void> = [];
    const { server, client } = await standalone(
      t,
      // The first message waits for the test; the others answer at once.
      fakeService(async (c) => {
        if (c.raw.seed === 1) await new Promise<void>((resolve) => releases.push(resolve));
        const settings = resolveSettings(c.raw, c.tensor.shape, c.tensor.dtype);
        return { settings, kept: c.tensor.data.length };
      }),
    );
    const stream = (
      client as unknown as { ModelStreamInfer(): ClientDuplexStream<object, Record<string, unknown>> }
    ).ModelStreamInfer();
    const replies: Array<Record<string, unknown>> = [];
    const ended = new Promise<ServiceError | null>((resolve) => {
      stream.on('data', (reply) => replies.push(reply));
      stream.on('error', (error: ServiceError) => resolve(error));
      stream.on('end', () => resolve(null));
    });
    stream.write(inferRequest(f32(4), { seed: { int64_param: '1' } }, { id: 'slow' }));
    stream.write(inferRequest(f32(4), { seed: { int64_param: '2' } }, { id: 'fast' }));
    stream.write(inferRequest(f32(4), { p: { double_param: 2 } }, { id: 'bad' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.same(
      replies.map((r) => [(r.infer_response as { id: string }).id, r.error_message]),
      [
        ['fast', ''],
        ['bad', 'parameters/p must be <= 1'],
      ],
      'answered as they complete, each with its id',
    );
    // Shutting down: the message in flight is answered, then the stream ends UNAVAILABLE.
    const closed = server.close(5000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(replies.length, 2, 'nothing ends before the message in flight is answered');
    for (const release of releases) release();
    const error = await ended;
    await closed;
    t.equal(replies.length, 3);
    t.equal((replies[2].infer_response as { id: string }).id, 'slow');
    t.equal(error?.code, Status.UNAVAILABLE);
    t.match(error?.details, /shutting down/);
  },
);
