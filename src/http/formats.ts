/** The native body formats of docs/semantics.md §2 and Accept negotiation between them. */
import Negotiator from 'negotiator';

export const MEDIA_TYPES = {
  json: 'application/json',
  binary: 'application/octet-stream',
  npy: 'application/x-npy',
} as const;

export type Format = keyof typeof MEDIA_TYPES;

/**
 * The reply format for an Accept header: no header, or a wildcard, means the request's own format; otherwise the
 * client's preference among the formats offered; undefined when none is acceptable (406).
 */
export function negotiateFormat(accept: string | undefined, requestFormat: Format): Format | undefined {
  if (accept === undefined || accept.trim() === '') return requestFormat;
  const offered = [requestFormat, ...(Object.keys(MEDIA_TYPES) as Format[]).filter((f) => f !== requestFormat)];
  const [best] = new Negotiator({ headers: { accept } }).mediaTypes(offered.map((f) => MEDIA_TYPES[f]));
  return offered.find((f) => MEDIA_TYPES[f] === best);
}
