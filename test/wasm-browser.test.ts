import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { test } from 'node:test';
import { CHROMIUM, CHROMIUM_ARGS, ISOLATION_HEADERS } from './browser.js';
import { PROJECT_ROOT } from './helpers.js';

/**
 * The two-thread WebAssembly kernels in Chromium (src/kernels/wasm-threads.ts through createJsBackend): a page
 * served with or without the cross-origin isolation headers starts a module worker, as the lab's training worker
 * is, which asks for a two-thread js backend, runs a GEMM on it and on the one-thread backend, and reports.
 * The compiled modules of dist/src are served as they are (they import nothing from Node on this path).
 * Skipped where Chromium is not installed.
 */


const PAGE = `<!doctype html><meta charset="utf-8"><title>wasm threads</title><script type="module">
  const worker = new Worker('/probe-worker.js', { type: 'module' });
  worker.onmessage = (e) => { window.result = e.data; };
  worker.onerror = (e) => { window.result = { error: String(e.message) }; };
</script>`;

const WORKER = `
  import { createJsBackend, jsBackend } from '/dist/src/kernels/js.js';
  import { startWasmThreads } from '/dist/src/kernels/wasm-threads.js';
  try {
    const backend = await createJsBackend({ threads: 2, startWorker: () => new Worker('/dist/src/kernels/wasm-worker-browser.js', { type: 'module' }) });
    let seed = 9; const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };
    const M = 400, N = 800, K = 200; // x·W_ihᵀ of the small model
    const A = Float32Array.from({ length: M * K }, rnd), B = Float32Array.from({ length: N * K }, rnd);
    const one = new Float32Array(M * N), two = new Float32Array(M * N);
    jsBackend.gemm(false, true, M, N, K, 1, A, K, B, K, 0, one, N);
    backend.gemm(false, true, M, N, K, 1, A, K, B, K, 0, two, N);
    let same = true;
    for (let k = 0; k < one.length; k++) if (!Object.is(one[k], two[k])) { same = false; break; }
    let s = 0; for (let k = 0; k < K; k++) s += A[k] * B[k]; // C[0][0] by the definition
    // the kernels themselves, to count the blocks their worker computes
    let calls = -1;
    const kernels = startWasmThreads(() => new Worker('/dist/src/kernels/wasm-worker-browser.js', { type: 'module' }));
    if (kernels !== null) {
      const start = Date.now();
      while (!kernels.helperReady() && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 5));
      for (let tries = 0; tries < 100 && kernels.helperCalls() === 0; tries++) kernels.gemm(false, true, M, N, K, 1, A, K, B, K, 0, two, N);
      calls = kernels.helperCalls();
    }
    postMessage({ isolated: self.crossOriginIsolated, library: backend.library, oneLibrary: jsBackend.library, same, calls,
      close: Math.abs(one[0] - s) < 1e-4 });
  } catch (err) {
    postMessage({ error: String(err && err.stack || err) });
  }
`;

function serve(isolate: boolean): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const headers: Record<string, string> = isolate ? ISOLATION_HEADERS : {};
    if (path === '/' || path === '/probe-worker.js') {
      res.writeHead(200, { ...headers, 'content-type': path === '/' ? 'text/html; charset=utf-8' : 'text/javascript' });
      res.end(path === '/' ? PAGE : WORKER);
      return;
    }
    const file = normalize(join(PROJECT_ROOT, path));
    if (!path.startsWith('/dist/src/') || !file.startsWith(PROJECT_ROOT) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  }));
}

interface Probe { isolated: boolean; library: string; oneLibrary: string; same: boolean; close: boolean; calls: number; error?: string }

async function probe(isolate: boolean): Promise<Probe> {
  const { chromium } = await import('playwright-core');
  const { server, origin } = await serve(isolate);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 });
    return await page.evaluate(() => (window as unknown as { result: Probe }).result);
  } finally {
    await browser.close();
    server.close();
  }
}

test('Chromium, cross-origin isolated: the js backend\'s GEMM runs on two threads, relaxed SIMD, with the one-thread bits', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) { t.skip(`${CHROMIUM} is not installed`); return; }
  if (!existsSync(join(PROJECT_ROOT, 'dist/src/kernels/wasm-worker-browser.js'))) { t.skip('dist/ not built (npm run build)'); return; }
  const r = await probe(true);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.isolated, true);
  assert.equal(r.library, 'WebAssembly relaxed SIMD, 2 threads'); // Chromium ≥ 114 has relaxed SIMD
  assert.equal(r.oneLibrary, 'WebAssembly relaxed SIMD, 1 thread');
  assert.ok(r.same, 'two threads gave other bits than one');
  assert.ok(r.close, 'the product is off the definition');
  assert.ok(r.calls >= 1, 'the worker computed blocks of the product');
});

test('Chromium, not isolated: no shared memory, so the js backend stays on one thread', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) { t.skip(`${CHROMIUM} is not installed`); return; }
  if (!existsSync(join(PROJECT_ROOT, 'dist/src/kernels/wasm-worker-browser.js'))) { t.skip('dist/ not built (npm run build)'); return; }
  const r = await probe(false);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.isolated, false);
  assert.equal(r.library, 'WebAssembly relaxed SIMD, 1 thread');
  assert.equal(r.calls, -1, 'no shared memory: no two-thread kernels');
  assert.ok(r.same && r.close);
});
