/** Paths and fixtures shared by the tests. */
import { fileURLToPath } from 'node:url';

/** The shared/ folder beside the project (API.md, vectors). */
export const SHARED_DIR = fileURLToPath(new URL('../../shared/', import.meta.url));
