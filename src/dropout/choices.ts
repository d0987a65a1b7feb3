/**
 * The values of the settings `mode` and `rng`, declared once (the variants, which carry more than a name, are in
 * ./variants.ts). No imports, so that the client can take its types from here without bundling anything of the
 * server.
 */
export const MODES = ['train', 'eval'] as const;
export const RNGS = ['philox', 'torch'] as const;

export type Mode = (typeof MODES)[number];
export type Rng = (typeof RNGS)[number];

export const DEFAULT_MODE: Mode = 'train';
export const DEFAULT_RNG: Rng = 'philox';
