/**
 * POST /v1/dropout's reply: raw bytes or .npy carry the tensor's own memory with the settings in headers; JSON
 * carries the values and the settings' echo, written by a pool worker when large (the service's codec).
 */
import type { FastifyReply } from 'fastify';
import { tensorBytes } from '../../codec/binary-tensor.js';
import type { ReplyEcho } from '../../codec/json/reply.js';
import { encodeNpyParts } from '../../codec/npy.js';
import type { Tensor } from '../../dropout/tensor.js';
import { MEDIA_TYPES } from '../../http/formats.js';
import { sendParts } from '../../http/reply-body.js';
import { type MaybePromise, then } from '../../maybe-promise.js';
import type { CallContext, DropoutOutcome } from '../../service/dropout-service.js';
import type { DecodedRequest } from './decode.js';

/** Raw bytes or .npy: the tensor's own memory is sent, with the settings in headers. */
export function sendBinary(
  reply: FastifyReply,
  format: 'binary' | 'npy',
  tensor: Tensor,
  { settings, kept }: DropoutOutcome,
): FastifyReply {
  reply.type(MEDIA_TYPES[format]).headers({
    'Tensor-Shape': tensor.shape.join(','),
    'Tensor-Dtype': tensor.dtype,
    'Dropout-Kept': String(kept),
    'Dropout-Offset': String(settings.offset),
  });
  if (settings.seed !== null) reply.header('Dropout-Seed', settings.seed.toString());
  if (format === 'binary') return sendParts(reply, [tensorBytes(tensor)]);
  const { header, body } = encodeNpyParts(tensor);
  return sendParts(reply, [header, body]);
}

export function sendJson(
  reply: FastifyReply,
  { tensor, nested }: DecodedRequest,
  { settings, kept, mask }: DropoutOutcome,
  context: CallContext,
): MaybePromise<FastifyReply> {
  const echo: ReplyEcho = {
    p: settings.p,
    mode: settings.mode,
    variant: settings.variant,
    rng: settings.rng,
    seed: settings.seed === null ? null : settings.seed.toString(),
    offset: settings.offset,
    kept,
  };
  const bytes = context.codec.writeJsonReply(tensor, nested, echo, mask, context.signal);
  return then(bytes, (written) => sendParts(reply.type(MEDIA_TYPES.json), [written]));
}
