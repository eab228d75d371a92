import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from './helpers.js';

/**
 * The folder tree is the architecture (docs/contributing.md): an import points down, never
 * up or sideways into a higher layer, not even for a type. These tests read the sources (src/**.ts) and
 * check every relative module specifier: `from '…'`, `import('…')` (type positions included) and bare `import '…'`.
 */

const SRC = join(PROJECT_ROOT, 'src');

/** Each folder's layer: a file may import from its own folder or a lower layer. */
const LAYER: Record<string, number> = {
  'errors.ts': 0, util: 0,
  kernels: 1, data: 1,
  nn: 2,
  model: 3,
  train: 4,
  experiments: 5, bench: 5,
  viz: 6,
  cli: 7, 'api.ts': 7, // the library's entry (train, loadModel) stands beside the command line
  'index.ts': 8, 'internals.ts': 8,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The relative module specifiers of a source file, with the line each is on. */
export function relativeImports(source: string): { spec: string; line: number }[] {
  const found: { spec: string; line: number }[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']*)'/g;
  for (const m of source.matchAll(pattern)) {
    found.push({ spec: m[1], line: source.slice(0, m.index).split('\n').length });
  }
  return found;
}

/** The top folder (or top-level file) of src that a path inside src lies in. */
function topOf(path: string): string {
  return relative(SRC, path).split(/[\\/]/)[0].replace(/\.js$/, '.ts');
}

function upwardImports(files: string[]): string[] {
  const wrong: string[] = [];
  for (const file of files) {
    const from = topOf(file);
    for (const { spec, line } of relativeImports(readFileSync(file, 'utf8'))) {
      const to = topOf(join(dirname(file), spec));
      if (to === from) continue;
      if (!(to in LAYER) || LAYER[to] >= LAYER[from]) wrong.push(`${relative(PROJECT_ROOT, file)}:${line} imports '${spec}' (${from} → ${to})`);
    }
  }
  return wrong;
}

test('the specifier scan finds static, dynamic and type-position imports', () => {
  const found = relativeImports([
    "import { a } from '../nn/lstm.js';",
    "import type { B } from './backend.js';",
    "export { c } from '../model/lm.js';",
    "f: typeof import('../train/sgd.js').step;",
    "import './side-effect.js';",
    "import os from 'node:os';",
  ].join('\n'));
  assert.deepEqual(found.map((f) => f.spec), ['../nn/lstm.js', './backend.js', '../model/lm.js', '../train/sgd.js', './side-effect.js']);
  assert.deepEqual(found.map((f) => f.line), [1, 2, 3, 4, 5]);
});

test('src/kernels imports nothing from src/nn, src/model, src/train, src/cli or any layer above it', () => {
  const files = sourceFiles(join(SRC, 'kernels'));
  assert.ok(files.length >= 8, `found only ${files.length} files under src/kernels`);
  const wrong = upwardImports(files);
  assert.deepEqual(wrong, [], `the kernels layer imports from above it:\n${wrong.join('\n')}`);
  for (const file of files) { // the named layers, whatever the table says
    for (const { spec } of relativeImports(readFileSync(file, 'utf8'))) {
      assert.doesNotMatch(spec, /^\.\.\/(nn|model|train|cli)\//, `${relative(PROJECT_ROOT, file)} imports ${spec}`);
    }
  }
});

test('every folder of src imports only from its own layer\'s folder or below', () => {
  const files = sourceFiles(SRC);
  for (const file of files) assert.ok(topOf(file) in LAYER, `${relative(PROJECT_ROOT, file)}: a folder the layer table (test/layering.test.ts) does not place`);
  const wrong = upwardImports(files);
  assert.deepEqual(wrong, [], `imports that point up:\n${wrong.join('\n')}`);
});
