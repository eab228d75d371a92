#!/usr/bin/env node
// Compiles assembly/kernels.ts (AssemblyScript) into the four builds src/kernels/wasm.ts chooses from, then
// embeds them (scripts/embed-wasm.mjs). Run by `npm run build:wasm`.
//
//   kernels.wasm                 WebAssembly SIMD, the module's own memory (one thread; every engine with SIMD)
//   kernels-relaxed.wasm         the same with relaxed SIMD (f32x4.relaxed_madd in the GEMM), where the engine has it
//   kernels-shared.wasm          WebAssembly SIMD on an imported shared memory (two threads, one instance each)
//   kernels-shared-relaxed.wasm  both
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const asc = `${root}node_modules/.bin/asc`;
/** Pages (64 KiB) a shared memory may grow to: it must declare a maximum; 2 GiB, far above the large model's need. */
export const SHARED_MAXIMUM_PAGES = 32768;
const common = ['assembly/kernels.ts', '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd'];
const shared = ['--importMemory', '--sharedMemory', '--initialMemory', '16', '--maximumMemory', String(SHARED_MAXIMUM_PAGES), '--enable', 'threads'];
const builds = [
  ['kernels.wasm', []],
  ['kernels-relaxed.wasm', ['--enable', 'relaxed-simd']],
  ['kernels-shared.wasm', shared],
  ['kernels-shared-relaxed.wasm', [...shared, '--enable', 'relaxed-simd']],
];
for (const [file, flags] of builds) {
  execFileSync(asc, [...common, ...flags, '--outFile', `dist/wasm/${file}`], { cwd: root, stdio: 'inherit' });
}
execFileSync(process.execPath, [`${root}scripts/embed-wasm.mjs`], { cwd: root, stdio: 'inherit' });
