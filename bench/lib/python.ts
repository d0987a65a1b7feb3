/** The Python side: Debian's python3 with PyTorch (the kernel baseline) and FastAPI under uvicorn (the HTTP one). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BENCH_DIR, PYTHON } from './paths.js';
import { runCommand, spawnChild } from './processes.js';
import { log, note } from './report.js';
import { freePort, type Server, waitReady } from './servers.js';

async function pythonImports(modules: string): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  const { code } = await runCommand(PYTHON, ['-c', `import ${modules}`], { timeoutMs: 60_000 });
  return code === 0;
}

/** Which baselines Python can run, after bench/setup.sh has tried to install what is missing. */
export async function ensurePython(): Promise<{ torch: boolean; fastapi: boolean }> {
  if (!(await pythonImports('torch, fastapi, uvicorn'))) {
    log('python3-torch/fastapi/uvicorn missing: running bench/setup.sh');
    const setup = await runCommand('bash', [resolve(BENCH_DIR, 'setup.sh')], { timeoutMs: 900_000 });
    if (setup.code !== 0) note(`bench/setup.sh failed: ${setup.stderr.trim().split('\n').slice(-2).join(' ')}`);
  }
  const torch = await pythonImports('torch');
  const fastapi = torch && (await pythonImports('torch, fastapi, uvicorn'));
  if (!torch) note(`${PYTHON} cannot import torch: PyTorch rows skipped`);
  if (!fastapi) note(`${PYTHON} cannot import fastapi/uvicorn: FastAPI rows skipped`);
  return { torch, fastapi };
}

/** bench/fastapi_app.py under uvicorn, 1 worker; its versions go to the notes. */
export async function startFastapi(): Promise<Server> {
  const port = await freePort();
  const args = ['--host', '127.0.0.1', '--port', String(port), '--workers', '1', '--log-level', 'warning'];
  const child = spawnChild('fastapi', PYTHON, ['-m', 'uvicorn', 'fastapi_app:app', ...args, '--no-access-log'], {
    cwd: BENCH_DIR,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, child, 60_000);
  const info = (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
  note(
    `FastAPI baseline: uvicorn ${info.uvicorn} (1 worker, ${info.loop} loop), fastapi ${info.fastapi}, torch ${info.torch} (${info.torch_threads} intra-op threads)`,
  );
  return { child, url, port };
}
