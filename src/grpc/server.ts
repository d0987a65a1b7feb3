/**
 * The Open Inference Protocol over gRPC (inference.GRPCInferenceService, as Triton serves it) and gRPC's health
 * service, over the same pipeline, admission, limits and keys as the HTTP routes: a third protocol adapter.
 *
 * Every inference, unary or a stream's message, is admitted as an HTTP request is: its message's bytes against
 * MAX_INFLIGHT_BYTES and a compute slot of MAX_QUEUE, under a Lease held until its reply is written, so HTTP and
 * gRPC share one budget. Its work is aborted at REQUEST_TIMEOUT_MS or the client's deadline, whichever is first, and
 * when the client cancels. Errors are rendered by ./status.ts.
 */
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import {
  type Deadline,
  type handleUnaryCall,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  status as Status,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Counter, Histogram, type Registry } from 'prom-client';
import { ProblemError } from '../errors.js';
import type { Admission } from '../service/admission.js';
import { Lease } from '../service/admission.js';
import { ApiKeys } from '../service/api-keys.js';
import { ClientGoneError } from '../service/deadline.js';
import type { DropoutService } from '../service/dropout-service.js';
import { MODEL, MODEL_VERSION, SERVICE_NAME, SERVICE_VERSION } from '../service/model.js';
import { GrpcAccess } from './access.js';
import { type GrpcError, renderError } from './status.js';
import { inferResponse, readGrpcCall } from './tensors.js';
import {
  decodeInferRequest,
  encodeInferResponse,
  encodeStreamError,
  encodeStreamResponse,
  type MalformedRequest,
  type WireRequest,
  type WireResponse,
} from './wire.js';

export interface GrpcLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface GrpcOptions {
  requestTimeoutMs: number;
  /** The largest message accepted (MAX_BODY_BYTES); a larger one is RESOURCE_EXHAUSTED before it is read whole. */
  maxMessageBytes: number;
  apiKeys: readonly string[];
  rateLimitPerMinute: number;
  /** The one dropout pipeline, which /v1 and /v2 call too. */
  dropout: Pick<DropoutService, 'run'>;
  admission: Admission;
  readiness: { notReadyReason(): string | null };
  liveness: { stuckReason(): string | null };
  log: GrpcLogger;
  /** Where the gRPC call metrics go: the registry /metrics serves. */
  registry: Registry;
  /** Counts a computed tensor in dropout_elements_total, as HTTP's do. */
  countElements(dtype: string, variant: string, elements: number): void;
}

const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));
const SERVICE = 'inference.GRPCInferenceService';
const HEALTH = 'grpc.health.v1.Health';
/**
 * The HTTP/2 receive windows, per stream and per connection. grpc-js leaves a server's at HTTP/2's 64 KiB, so a
 * 4 MB message would cross in 64 KiB steps, each waiting for this event loop to send a WINDOW_UPDATE (at 1M
 * elements that halved gRPC's throughput against HTTP's). A window does not raise what a call may hold: grpc-js
 * buffers a whole message before its handler runs, whatever the window, and MAX_BODY_BYTES bounds the message.
 */
const FLOW_WINDOW = 16 * 1024 * 1024;

/** How often a health Watch looks at readiness (nothing signals a change of it). */
const WATCH_POLL_MS = 1000;

type Infer = WireRequest | MalformedRequest;
/** What this file uses of every server call. */
interface ServerSurfaceCall {
  readonly metadata: Metadata;
  getPeer(): string;
  getDeadline(): Deadline;
}

/**
 * The service definitions from proto/, with ModelInfer and ModelStreamInfer read and written by ./wire.ts: their
 * handlers receive the decoded request and hand back the encoded reply.
 */
function definitions(): { inference: ServiceDefinition; health: ServiceDefinition } {
  const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
  const inference = loadSync(`${PROTO_DIR}inference.proto`, options)[SERVICE] as ServiceDefinition;
  const health = loadSync(`${PROTO_DIR}health.proto`, options)[HEALTH] as ServiceDefinition;
  const raw = {
    requestDeserialize: (bytes: Buffer): Infer => decodeInferRequest(bytes),
    responseSerialize: (bytes: Buffer): Buffer => bytes,
  };
  return {
    inference: {
      ...inference,
      ModelInfer: { ...inference.ModelInfer, ...raw },
      ModelStreamInfer: { ...inference.ModelStreamInfer, ...raw },
    },
    health,
  };
}

/** Milliseconds to a grpc-js deadline (Infinity when the client set none). */
function msUntil(deadline: Deadline): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return at - Date.now();
}

/** One call's bookkeeping: its metric labels, its log line, its end. */
interface CallRecord {
  method: string;
  startedAt: number;
  peer: string;
  fields: Record<string, unknown>;
}

interface ActiveStream {
  pending: number;
  closing: boolean;
  finish(error?: GrpcError): void;
}

export class GrpcServer {
  readonly #options: GrpcOptions;
  readonly #server: Server;
  readonly #access: GrpcAccess;
  readonly #handled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly #latency: Histogram<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly #streams = new Set<ActiveStream>();
  readonly #watches = new Set<() => void>();
  #calls = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #port: number | undefined;

  constructor(options: GrpcOptions) {
    this.#options = options;
    this.#access = new GrpcAccess(new ApiKeys(options.apiKeys), options.rateLimitPerMinute);
    this.#server = new Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': -1,
      // Read by the grpc-js clients today, and by its server once it takes the option too; see #widenWindows.
      'grpc-node.flow_control_window': FLOW_WINDOW,
    });
    const labelNames = ['grpc_service', 'grpc_method', 'grpc_code'] as const;
    this.#handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed, by method and status code (a stream counts once, at its end)',
      labelNames,
      registers: [options.registry],
    });
    this.#latency = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from a gRPC call to its status, by method and status code',
      labelNames,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [options.registry],
    });
    const { inference, health } = definitions();
    this.#server.addService(inference, this.#inferenceHandlers());
    this.#server.addService(health, this.#healthHandlers());
  }

  /** The port bound by listen(). */
  get port(): number | undefined {
    return this.#port;
  }

  /** Binds host:port (0: a free port) and starts serving; resolves to the port bound. */
  listen(host: string, port: number): Promise<number> {
    // An IPv6 literal needs brackets in a gRPC target.
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) => {
        if (error) return reject(error);
        this.#port = bound;
        this.#widenWindows();
        resolve(bound);
      });
    });
  }

  /**
   * FLOW_WINDOW on every session the server accepts. grpc-js has no server option for it, so its HTTP/2 servers are
   * reached through a field it does not publish; if a later grpc-js has no such field, the windows stay its own.
   */
  #widenWindows(): void {
    const servers = (this.#server as unknown as { http2Servers?: unknown }).http2Servers;
    if (!(servers instanceof Map)) return;
    for (const http2 of servers.keys() as IterableIterator<Http2Server>) {
      http2.on('session', (session: ServerHttp2Session) => {
        session.settings({ initialWindowSize: FLOW_WINDOW });
        session.setLocalWindowSize(FLOW_WINDOW);
      });
    }
  }

  /**
   * Stops taking calls and lets the ones in flight finish: unary calls complete, each stream answers the messages
   * it has received and then ends with UNAVAILABLE (retry elsewhere), health watches end. Calls still running after
   * `boundMs` are cut off.
   */
  close(boundMs: number): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#closing = true;
      for (const stop of this.#watches) stop();
      for (const stream of this.#streams) {
        stream.closing = true;
        if (stream.pending === 0)
          stream.finish({ code: Status.UNAVAILABLE, details: 'the service is shutting down', internal: false });
      }
      const force = setTimeout(() => this.#server.forceShutdown(), boundMs);
      force.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    return this.#closed;
  }

  /** Calls in progress (unary calls, and streams with a message in progress), for tests and drains. */
  get inflight(): number {
    return this.#calls;
  }

  // ---- bookkeeping --------------------------------------------------------------------------------------------------

  #begin(method: string, call: ServerSurfaceCall): CallRecord {
    return { method, startedAt: performance.now(), peer: call.getPeer(), fields: {} };
  }

  #end(record: CallRecord, code: Status, service = SERVICE): void {
    const seconds = (performance.now() - record.startedAt) / 1000;
    const labels = { grpc_service: service, grpc_method: record.method, grpc_code: Status[code] };
    this.#handled.inc(labels);
    this.#latency.observe(labels, seconds);
    this.#options.log.info(
      {
        protocol: 'grpc',
        method: record.method,
        peer: record.peer,
        ...record.fields,
        code: Status[code],
        durationMs: Math.round(seconds * 1e6) / 1000,
      },
      'grpc call completed',
    );
  }

  /** The status of a failure, logged when it is the service's own. */
  #fail(error: unknown, record: CallRecord): GrpcError {
    const id = `${record.method}-${Math.round(record.startedAt * 1000).toString(36)}`;
    const rendered = renderError(error, id);
    if (rendered.internal) this.#options.log.error({ err: error, call: id, method: record.method }, 'grpc call failed');
    return rendered;
  }

  /** A unary handler around `work`, which throws its failures; `open` calls need no key. */
  #unary<Req, Res>(
    method: string,
    work: (call: ServerUnaryCall<Req, Res>, record: CallRecord) => Res | Promise<Res>,
    open = false,
  ): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const record = this.#begin(method, call);
      this.#calls++;
      const done = (error: GrpcError | null, value?: Res) => {
        this.#calls--;
        if (error) callback({ code: error.code, details: error.details });
        else callback(null, value);
        this.#end(record, error ? error.code : Status.OK);
      };
      (async () => {
        if (!open) this.#checkAccess(call);
        const value = await work(call, record);
        done(null, value);
      })().catch((error: unknown) => done(this.#fail(error, record)));
    };
  }

  #checkAccess(call: ServerSurfaceCall): void {
    const [authorization] = call.metadata.get('authorization');
    this.#access.check(typeof authorization === 'string' ? authorization : undefined, call.getPeer());
  }

  // ---- inference ----------------------------------------------------------------------------------------------------

  #checkModel(name: string, version: string): void {
    if (name !== MODEL)
      throw new ProblemError('NOT_FOUND', `Request for unknown model: '${name.slice(0, 64)}' is not found`);
    if (version !== '' && version !== MODEL_VERSION) {
      throw new ProblemError(
        'NOT_FOUND',
        `model ${MODEL} has no version ${version.slice(0, 64)}; its version is ${MODEL_VERSION}`,
      );
    }
  }

  /**
   * One inference: admitted, then decoded, computed and encoded by the pipeline under its lease. `cancelled` aborts
   * it when the client goes; `deadlineMs` is the client's own deadline, from now.
   */
  async #infer(
    request: Infer,
    record: CallRecord,
    cancelled: AbortSignal,
    deadlineMs: number,
    encode: (response: WireResponse) => Buffer,
  ): Promise<Buffer> {
    if ('malformed' in request) throw new ProblemError('INVALID_REQUEST', request.malformed);
    this.#checkModel(request.modelName, request.modelVersion);
    const { admission, dropout, requestTimeoutMs, countElements } = this.#options;
    const gone = new AbortController();
    const onCancel = () => gone.abort(cancelled.reason);
    cancelled.addEventListener('abort', onCancel, { once: true });
    let overdue = false;
    const lease = admission.admit(request.byteLength, () => {
      overdue = true;
      gone.abort(new ClientGoneError('the call held its resources past twice REQUEST_TIMEOUT_MS'));
    });
    if (!(lease instanceof Lease))
      throw new ProblemError('OVERLOADED', `the service is overloaded: ${lease}; retry shortly`);
    try {
      const slot = lease.takeSlot();
      if (slot !== null) throw new ProblemError('OVERLOADED', `the service is overloaded: ${slot}; retry shortly`);
      const elapsedMs = () => performance.now() - record.startedAt;
      return await dropout.run({
        lease,
        deadline: {
          timeoutMs: Math.min(requestTimeoutMs, elapsedMs() + deadlineMs),
          elapsedMs,
          onGone: (abort) => {
            if (gone.signal.aborted) abort(gone.signal.reason as ClientGoneError);
            else
              gone.signal.addEventListener('abort', () => abort(gone.signal.reason as ClientGoneError), { once: true });
          },
        },
        decode: ({ limits }) => {
          const call = readGrpcCall(request, limits, (bytes) => lease.acquire(bytes));
          return { call, tensor: call.tensor, raw: call.raw, wantMask: call.outputs.some((o) => o.name === 'mask') };
        },
        observe: ({ tensor }, settings) => {
          record.fields = { dtype: tensor.dtype, elements: tensor.data.length, variant: settings.variant };
        },
        // Encoded while the lease holds the tensor's memory: the reply is a copy, so the lease can end after it.
        encode: ({ call, tensor }, outcome) => {
          countElements(tensor.dtype, outcome.settings.variant, tensor.data.length);
          return encode(inferResponse(call, tensor, outcome));
        },
      });
    } catch (error) {
      // Abandoned by the admission's sweep: the call's deadline passed long ago, whatever the aborted work threw.
      if (overdue) throw new DOMException('the call held its resources past twice REQUEST_TIMEOUT_MS', 'TimeoutError');
      throw error;
    } finally {
      cancelled.removeEventListener('abort', onCancel);
      lease.end();
    }
  }

  #inferenceHandlers(): UntypedServiceImplementation {
    const { readiness, liveness } = this.#options;
    const tensor = (name: string, datatype: string) => ({ name, datatype, shape: ['-1'] });
    const modelReady = (name: string, version: string) =>
      name === MODEL && (version === '' || version === MODEL_VERSION) && readiness.notReadyReason() === null;
    return {
      ServerLive: this.#unary('ServerLive', () => ({ live: liveness.stuckReason() === null }), true),
      ServerReady: this.#unary('ServerReady', () => ({ ready: readiness.notReadyReason() === null }), true),
      ModelReady: this.#unary<{ name: string; version: string }, { ready: boolean }>('ModelReady', (call) => ({
        ready: modelReady(call.request.name, call.request.version),
      })),
      ServerMetadata: this.#unary('ServerMetadata', () => ({
        name: SERVICE_NAME,
        version: SERVICE_VERSION,
        extensions: ['binary_tensor_data'],
      })),
      ModelMetadata: this.#unary<{ name: string; version: string }, object>('ModelMetadata', (call) => {
        this.#checkModel(call.request.name, call.request.version);
        return {
          name: MODEL,
          versions: [MODEL_VERSION],
          platform: 'dropout-service',
          inputs: [tensor('input', 'FP32')],
          outputs: [tensor('output', 'FP32'), tensor('mask', 'BOOL')],
        };
      }),
      ModelConfig: this.#unary<{ name: string; version: string }, object>('ModelConfig', (call) => {
        this.#checkModel(call.request.name, call.request.version);
        const dims = ['-1'];
        return {
          config: {
            name: MODEL,
            platform: 'dropout-service',
            backend: 'dropout-service',
            // No batching dimension: the first dim is the tensor's own, any shape is accepted as it is.
            max_batch_size: 0,
            input: [{ name: 'input', data_type: 'TYPE_FP32', dims }],
            output: [
              { name: 'output', data_type: 'TYPE_FP32', dims },
              { name: 'mask', data_type: 'TYPE_BOOL', dims },
            ],
          },
        };
      }),
      ModelInfer: this.#unary<Infer, Buffer>('ModelInfer', (call, record) => {
        const cancelled = new AbortController();
        call.once('cancelled', () => cancelled.abort(new ClientGoneError('the client cancelled the call')));
        return this.#infer(call.request, record, cancelled.signal, msUntil(call.getDeadline()), encodeInferResponse);
      }),
      ModelStreamInfer: (call: ServerDuplexStream<Infer, Buffer>) => this.#stream(call),
    };
  }

  /**
   * A bidirectional stream: each message is an inference of its own, answered in the order it completes with its
   * request's id, a failure as that message's error_message. The stream's status is OK when the client ends it.
   */
  #stream(call: ServerDuplexStream<Infer, Buffer>): void {
    const record = this.#begin('ModelStreamInfer', call);
    const cancelled = new AbortController();
    let messages = 0;
    let errors = 0;
    let ended = false;
    let finished = false;
    const stream: ActiveStream = {
      pending: 0,
      closing: this.#closing,
      finish: (error) => {
        if (finished) return;
        finished = true;
        this.#streams.delete(stream);
        record.fields = { messages, errors };
        if (error) call.emit('error', { code: error.code, details: error.details });
        else call.end();
        this.#end(record, error ? error.code : Status.OK);
      },
    };
    this.#streams.add(stream);
    const settle = () => {
      if (stream.pending > 0) return;
      if (ended) stream.finish();
      else if (stream.closing)
        stream.finish({ code: Status.UNAVAILABLE, details: 'the service is shutting down', internal: false });
    };
    call.on('cancelled', () => {
      cancelled.abort(new ClientGoneError('the client cancelled the stream'));
      ended = true;
      if (!finished) {
        finished = true;
        this.#streams.delete(stream);
        record.fields = { messages, errors };
        this.#end(record, Status.CANCELLED);
      }
    });
    call.on('data', (request: Infer) => {
      if (stream.closing || finished) return;
      messages++;
      stream.pending++;
      this.#calls++;
      const message = this.#begin('ModelStreamInfer', call);
      const id = 'malformed' in request ? '' : request.id;
      (async () => {
        this.#checkAccess(call);
        return this.#infer(request, message, cancelled.signal, msUntil(call.getDeadline()), encodeStreamResponse);
      })()
        .catch((error: unknown) => {
          errors++;
          const rendered = this.#fail(error, message);
          const name = 'malformed' in request ? '' : request.modelName;
          const version = 'malformed' in request ? '' : request.modelVersion;
          return encodeStreamError(rendered.details, id, name, version);
        })
        .then((bytes) => {
          this.#calls--;
          stream.pending--;
          if (!finished) call.write(bytes);
          settle();
        });
    });
    call.on('end', () => {
      ended = true;
      settle();
    });
    call.on('error', () => {
      // A write after the client went; 'cancelled' has ended the stream's bookkeeping.
    });
  }

  // ---- health -------------------------------------------------------------------------------------------------------

  #healthStatus(service: string): 'SERVING' | 'NOT_SERVING' | undefined {
    if (service !== '' && service !== SERVICE && service !== HEALTH) return undefined;
    return this.#options.readiness.notReadyReason() === null && !this.#closing ? 'SERVING' : 'NOT_SERVING';
  }

  #healthHandlers(): UntypedServiceImplementation {
    return {
      Check: (call: ServerUnaryCall<{ service: string }, object>, callback: sendUnaryData<object>) => {
        const record = this.#begin('Check', call);
        const status = this.#healthStatus(call.request.service);
        if (status === undefined) {
          callback({ code: Status.NOT_FOUND, details: `unknown service ${call.request.service.slice(0, 64)}` });
          this.#end(record, Status.NOT_FOUND, HEALTH);
          return;
        }
        callback(null, { status });
        this.#end(record, Status.OK, HEALTH);
      },
      Watch: (call: ServerWritableStream<{ service: string }, object>) => {
        const record = this.#begin('Watch', call);
        let last: string | undefined;
        const send = () => {
          const status = this.#healthStatus(call.request.service) ?? 'SERVICE_UNKNOWN';
          if (status !== last) call.write({ status });
          last = status;
        };
        send();
        const timer = setInterval(send, WATCH_POLL_MS);
        timer.unref();
        const stop = (byClient: boolean) => {
          clearInterval(timer);
          this.#watches.delete(finish);
          if (!byClient) {
            send();
            call.end();
          }
          this.#end(record, byClient ? Status.CANCELLED : Status.OK, HEALTH);
        };
        // At shutdown a watch says NOT_SERVING and ends, so it does not hold the drain open.
        const finish = () => stop(false);
        this.#watches.add(finish);
        call.on('cancelled', () => {
          if (this.#watches.has(finish)) stop(true);
        });
        if (this.#closing) finish();
      },
    };
  }
}
