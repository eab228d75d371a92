#!/usr/bin/env node
// The `rlstm` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('rlstm: the compiled code is missing (dist/); run `npm install` or `npm run build` in the project folder first');
  process.exit(1);
}
await import(main.href);
