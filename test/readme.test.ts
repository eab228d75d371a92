import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { PROJECT_ROOT, RLSTM, rlstm, tempDir } from './helpers.js';

/**
 * The README is a user's document (docs/contributing.md): short, each section one screen, its links and
 * commands true. These tests hold it there: its length, its sections' lengths, its first command lines,
 * every relative link in it and in docs/ (files and #anchors), and every rlstm command and flag its code
 * blocks show.
 */

const MAX_README_LINES = 300;
const MAX_SECTION_LINES = 60; // one screen

const read = (path: string): string => readFileSync(join(PROJECT_ROOT, path), 'utf8');

/** Lines outside ``` fences, with their 1-based line numbers (code may hold '#' and '[x](y)' that are no Markdown). */
function proseLines(text: string): { line: string; number: number }[] {
  const out: { line: string; number: number }[] = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced) out.push({ line, number: i + 1 });
  });
  return out;
}

/** The lines of every ```sh block. */
function shellLines(text: string): string[] {
  const out: string[] = [];
  let inShell = false, fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced;
      inShell = fenced && line.trim() === '```sh';
    } else if (inShell) out.push(line);
  }
  return out;
}

/** '## The code' → 'the-code', as GitHub makes a heading's anchor. */
export function headingAnchor(heading: string): string {
  return heading.replace(/^#+\s*/, '').trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(text: string): Set<string> {
  return new Set(proseLines(text).filter((l) => /^#{1,6} /.test(l.line)).map((l) => headingAnchor(l.line)));
}

/** `path` split into sections at its level-2 headings: [heading (or '(before the first heading)'), line count]. */
function sections(text: string): [string, number][] {
  const out: [string, number][] = [['(before the first heading)', 0]];
  let fenced = false;
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (!fenced && line.startsWith('## ')) out.push([line, 0]);
    out[out.length - 1][1]++;
  }
  return out;
}

/** The Markdown documents whose links are checked: README.md, docs/*.md, models/ and exercises/ READMEs. */
function documents(): string[] {
  const docs = readdirSync(join(PROJECT_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  const exercises = readdirSync(join(PROJECT_ROOT, 'exercises'))
    .filter((d) => existsSync(join(PROJECT_ROOT, 'exercises', d, 'README.md'))).map((d) => `exercises/${d}/README.md`);
  return ['README.md', ...docs, 'models/README.md', 'exercises/README.md', ...exercises];
}

/** Every broken relative link of a document: a missing file, or an #anchor its target has no heading for. */
export function brokenLinks(path: string, text: string, exists: (p: string) => boolean, readTarget: (p: string) => string): string[] {
  const broken: string[] = [];
  for (const { line: raw, number } of proseLines(text)) {
    // a code span shows no link, unless it is a link's whole text: [`src/nn/lstm.ts`](src/nn/lstm.ts)
    const line = raw.replace(/`[^`]*`/g, (span, at: number) => (raw[at - 1] === '[' && raw[at + span.length] === ']' ? span : ''));
    for (const m of line.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto: ...
      const [file, anchor] = target.split('#');
      const resolved = file === '' ? path : join(dirname(path), file);
      const where = `${path}:${number}: (${target})`;
      if (!exists(resolved)) {
        broken.push(`${where} no such file ${resolved}`);
      } else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readTarget(resolved)).has(anchor)) {
        broken.push(`${where} ${resolved} has no heading #${anchor}`);
      }
    }
  }
  return broken;
}

test('the README is at most 300 lines, and each of its sections fits on a screen', () => {
  const text = read('README.md');
  const lines = text.replace(/\n$/, '').split('\n').length;
  assert.ok(lines <= MAX_README_LINES, `README.md has ${lines} lines; at most ${MAX_README_LINES} (move detail to docs/)`);
  for (const [heading, count] of sections(text)) {
    assert.ok(count <= MAX_SECTION_LINES, `README.md section "${heading}" has ${count} lines; at most ${MAX_SECTION_LINES}`);
  }
});

test('the README begins with the two set-up commands', () => {
  const [first, second] = shellLines(read('README.md'));
  assert.match(first, /^npm install && npm start\b/);
  assert.match(second, /^npm install && npm test\b/);
});

test('every relative link in the README and docs/ points to an existing file and heading', () => {
  const exists = (p: string): boolean => existsSync(join(PROJECT_ROOT, p));
  const broken = documents().flatMap((doc) => brokenLinks(doc, read(doc), exists, read));
  assert.deepEqual(broken, []);
});

test('the link check finds a missing file and a missing heading', () => {
  const files: Record<string, string> = { 'docs/a.md': '# A\n\n## Any corpus\n' };
  const exists = (p: string): boolean => p in files || p === 'docs';
  const text = '[ok](a.md#any-corpus) [`gone`](b.md) [no heading](a.md#nothing) `[x](y)`\n```\n[in code](nowhere.md)\n```\n';
  assert.deepEqual(brokenLinks('docs/c.md', text, exists, (p) => files[p]), [
    'docs/c.md:1: (b.md) no such file docs/b.md',
    'docs/c.md:1: (a.md#nothing) docs/a.md has no heading #nothing',
  ]);
  assert.equal(headingAnchor('## Stopping, resuming, crashing'), 'stopping-resuming-crashing');
  assert.equal(headingAnchor("## The paper's one-line idea, and where it lives"), 'the-papers-one-line-idea-and-where-it-lives');
});

test('every rlstm command and flag in the README\'s and docs\' shell blocks exists', () => {
  const cwd = tempDir();
  const helpOf = new Map<string, string>();
  const help = (command: string): string => {
    if (!helpOf.has(command)) {
      const r = rlstm([command, '--help'], cwd);
      assert.equal(r.status, 0, `rlstm ${command} --help: ${r.stderr}`);
      helpOf.set(command, r.stdout);
    }
    return helpOf.get(command)!;
  };
  const top = rlstm(['--help'], cwd);
  assert.equal(top.status, 0, top.stderr);
  const commands = [...top.stdout.matchAll(/^\s{2}([a-z]+) /gm)].map((m) => m[1]);
  let checked = 0;
  for (const doc of ['README.md', ...documents().filter((d) => d.startsWith('docs/'))]) {
    for (const line of shellLines(read(doc))) {
      const m = /^(?:npx )?rlstm ([a-z]+)(.*)$/.exec(line.replace(/\s+#.*$/, ''));
      if (m === null) continue;
      const [, command, rest] = m;
      assert.ok(commands.includes(command), `${doc}: \`${line}\`: rlstm has no command ${command}`);
      for (const [flag] of rest.matchAll(/--[a-z][a-z0-9-]*/g)) {
        assert.ok(new RegExp(`^\\s+(-\\w, )?${flag}\\b`, 'm').test(help(command)), `${doc}: \`${line}\`: rlstm ${command} has no ${flag}`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} rlstm command lines found`);
  assert.ok(relative(PROJECT_ROOT, RLSTM) === 'bin/rlstm.js' && statSync(RLSTM).isFile());
});

test('the README\'s TypeScript examples run against the built library', () => {
  const blocks = [...read('README.md').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  assert.ok(blocks.length >= 1, 'README.md has no ```ts example');
  const library = pathToFileURL(join(PROJECT_ROOT, 'dist/src/index.js')).href;
  const dir = tempDir();
  blocks.forEach((block, i) => {
    assert.match(block, /from 'regularized-lstm'/, `example ${i + 1} does not import the package by its name`);
    const js = ts.transpileModule(block.replaceAll("from 'regularized-lstm'", `from '${library}'`), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, js);
    const run = spawnSync(process.execPath, [file], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, RLSTM_HELPER: '0' } });
    assert.equal(run.status, 0, `README example ${i + 1} failed:\n${run.stderr}`);
    assert.ok(run.stdout.trim().split(/\s+/).length >= 10, `README example ${i + 1} printed too little: ${run.stdout}`);
  });
});
