/** Where the harness finds the repository and its own files. */
export const ROOT = new URL('../..', import.meta.url).pathname;
export const BENCH_DIR = new URL('..', import.meta.url).pathname;
/** Debian's interpreter, where apt puts python3-torch; not whatever python3 is first on PATH. */
export const PYTHON = '/usr/bin/python3';
