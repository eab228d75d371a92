import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { after, test } from 'node:test';
import { PROJECT_ROOT, tempDir } from './helpers.js';

/**
 * The npm package (issue 19): `npm pack` of the built tree ships what the installed command line needs, and
 * the tarball, installed into an empty folder, runs there: `npx rlstm --help`, a few training steps on the
 * PTB inside the package, and every compiled example (dist/examples/*.js) copied into that folder, where
 * `import ... from 'regularized-lstm'` finds the installed package. The install is offline: the folder gets
 * a lockfile with the tarball and the project's own locked production dependencies, which `npm ci` takes
 * from npm's cache (filled by the project's `npm ci` or `npm install`). Where the cache lacks them it falls
 * back to the registry (`npm install TARBALL --prefer-offline`). With RLSTM_NATIVE=0 the same runs take
 * the TypeScript backend.
 */

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function run(command: string, args: string[], cwd: string, timeout = 180_000): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; license: string; bin: Record<string, string>; engines: Record<string, string>;
  main: string; types: string; dependencies: Record<string, string>;
};

// the tarball of the tree as built (`npm test` builds first): --ignore-scripts, or `prepare` would build it again
const packDir = tempDir('rlstm-pack-');
const packed = JSON.parse(ok(run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], PROJECT_ROOT), 'npm pack'))[0] as {
  filename: string; files: { path: string; size: number }[]; size: number; unpackedSize: number;
};
const tarball = join(packDir, packed.filename);
const shipped = new Set(packed.files.map((f) => f.path));

test('the tarball holds the command, the compiled library with its types, and the bundled PTB, and nothing of the tests', (t) => {
  t.diagnostic(`${packed.filename}: ${packed.files.length} files, ${(packed.size / 1e6).toFixed(1)} MB packed, ${(packed.unpackedSize / 1e6).toFixed(1)} MB unpacked`);
  for (const path of ['package.json', manifest.bin.rlstm.replace(/^\.\//, ''), manifest.main, manifest.types, 'dist/src/cli/main.js',
    'dist/src/kernels/kernels-wasm.generated.js', 'dist/src/kernels/helper-worker.js',
    'data/ptb/ptb.train.txt', 'data/ptb/ptb.valid.txt', 'data/ptb/ptb.test.txt']) {
    assert.ok(shipped.has(path), `${path} is not in the package`);
  }
  for (const path of shipped) {
    assert.ok(!/^(dist\/test|test|src|node_modules|runs|models|web|bench)\//.test(path), `${path} does not belong in the package`);
  }
  assert.ok(packed.unpackedSize < 20e6, `the package unpacks to ${packed.unpackedSize} bytes`);
});

/** Module specifiers and file references in compiled code: imports, require(), new URL('./x', import.meta.url). */
function references(code: string): { modules: string[]; files: string[] } {
  const modules = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|createRequire\(import\.meta\.url\)\s*\(\s*)(['"])([^'"\n]+)\1/g)]
    .map((m) => m[2]);
  const files = [...code.matchAll(/new URL\(\s*(['"])(\.[^'"\n]*)\1\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[2]);
  return { modules, files };
}

test('every file the shipped code imports or reads is shipped, and every package it imports is a dependency', () => {
  const dependencies = new Set(Object.keys(manifest.dependencies));
  const builtins = new Set(builtinModules);
  let checked = 0;
  for (const path of shipped) {
    if (!path.endsWith('.js')) continue;
    const { modules, files } = references(readFileSync(join(PROJECT_ROOT, path), 'utf8'));
    for (const spec of modules) {
      checked++;
      if (spec.startsWith('.')) {
        const target = normalize(join(dirname(path), spec));
        assert.ok(shipped.has(target), `${path} imports ${spec}, but ${target} is not in the package`);
      } else if (!spec.startsWith('node:') && !builtins.has(spec)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        assert.ok(dependencies.has(name), `${path} imports ${spec}, but ${name} is not among the package's dependencies`);
      }
    }
    for (const ref of files) {
      checked++;
      const target = normalize(join(dirname(path), ref)).replace(/\/$/, '');
      if (target === '.') continue; // the package's own folder
      assert.ok(shipped.has(target) || [...shipped].some((p) => p.startsWith(`${target}/`)), `${path} reads ${ref}, but ${target} is not in the package`);
    }
  }
  assert.ok(checked > 100, `only ${checked} references found: the pattern no longer matches the compiled code`);
});

/**
 * An empty folder with the tarball installed in it. The lockfile lists the tarball and the project's locked
 * production dependencies (package-lock.json, dev ones left out), so `npm ci --offline` needs only npm's cache.
 */
function installedFolder(): { dir: string; how: string } {
  const dir = tempDir('rlstm-installed-');
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'rlstm-package-test', dependencies: { [manifest.name]: spec } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version, resolved: spec, license: manifest.license, dependencies: manifest.dependencies,
      bin: manifest.bin, engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'rlstm-package-test', private: true, type: 'module', dependencies: { [manifest.name]: spec } }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'rlstm-package-test', lockfileVersion: 3, requires: true, packages }));
  const offline = run(NPM, ['ci', '--offline', '--no-audit', '--no-fund'], dir);
  if (offline.status === 0) return { dir, how: 'npm ci --offline (npm\'s cache)' };
  // not all in the cache: as a user would, from the registry
  const online = run(NPM, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], dir);
  ok(online, `npm ci --offline failed (${offline.stderr.trim().split('\n')[0]}), and then npm install ${tarball}`);
  return { dir, how: 'npm install from the registry (npm\'s cache lacked some dependencies)' };
}

const installed = installedFolder();
const app = installed.dir;
after(() => { // the installed folder holds a copy of every dependency: tens of MB a run
  rmSync(app, { recursive: true, force: true });
  rmSync(packDir, { recursive: true, force: true });
});

test('installed from the tarball: npx rlstm --help lists the commands', (t) => {
  t.diagnostic(`installed with ${installed.how} in ${app}`);
  assert.ok(existsSync(join(app, 'node_modules', manifest.name, 'dist/src/cli/main.js')), 'the compiled code came with the tarball');
  const help = ok(run(NPX, ['--no', '--', 'rlstm', '--help'], app), 'npx rlstm --help');
  for (const command of ['train', 'eval', 'generate', 'reproduce', 'export', 'import']) {
    assert.match(help, new RegExp(`^\\s+${command}\\b`, 'm'), `rlstm --help lists ${command}`);
  }
});

test('installed from the tarball: a few training steps on the PTB that came with it, then sampling from the checkpoint', () => {
  const trained = run(NPX, ['--no', '--', 'rlstm', 'train', '--config', 'quick', '--max-steps', '3', '--time-budget', '0.05',
    '--save', 'q.safetensors', '--log', 'q.json'], app);
  ok(trained, 'rlstm train --config quick --max-steps 3');
  // the corpus is the PTB inside the installed package: its 10,000 words, read from node_modules
  assert.match(trained.stdout, /vocabulary 10000, 929589 training tokens/);
  assert.match(trained.stdout, /stopped after 3 steps \(--max-steps\)/);
  const log = JSON.parse(readFileSync(join(app, 'q.json'), 'utf8'));
  assert.equal(log.config.name, 'quick');
  if (process.env.RLSTM_NATIVE === '0') assert.match(trained.stdout, /backend js/);
  const sample = ok(run(NPX, ['--no', '--', 'rlstm', 'generate', '--checkpoint', 'q.safetensors', '--words', '5', '--seed', '2'], app), 'rlstm generate');
  assert.equal(sample.trim().split(/\s+/).length, 5, sample);
});

test('installed from the tarball: every compiled example runs there, importing the installed package', (t) => {
  const sources = existsSync(join(PROJECT_ROOT, 'examples'))
    ? readdirSync(join(PROJECT_ROOT, 'examples')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')) : [];
  if (sources.length === 0) { t.skip('there are no examples yet (examples/*.ts): nothing to run against the package'); return; }
  const compiled = join(PROJECT_ROOT, 'dist/examples');
  for (const source of sources) {
    const name = source.replace(/\.ts$/, '.js');
    assert.ok(existsSync(join(compiled, name)), `examples/${source} is not compiled to dist/examples/${name}; the build must include examples/`);
    copyFileSync(join(compiled, name), join(app, name));
    const r = run(process.execPath, [name], app, 300_000);
    ok(r, `node ${name} (examples/${source}) in the installed folder`);
    t.diagnostic(`${name}: ${r.stdout.trim().split('\n').length} lines of output`);
  }
});
