import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WriteError } from '../src/errors.js';
import { failureLine } from '../src/cli/failure.js';
import { readCheckpoint, writeFileAtomic } from '../src/train/checkpoint.js';
import { RLSTM, rlstm, tempDir, tinyCorpus } from './helpers.js';

// A file that cannot be written (full disk, quota, failing or read-only disk) gives one line naming the
// file and the error, removes the temporary file and leaves the previous version; during training it
// stops the run naming the last good checkpoint. Real errors where the kernel gives them (a temporary
// file that leads to /dev/full, a folder in the way, a small tmpfs when running as root), injected ones
// (RLSTM_FAIL_WRITES, see writeFileAtomic) otherwise.

const TINY = ['--layers', '2', '--hidden', '16', '--batch-size', '4', '--bptt', '8', '--test-batch-size', '4',
  '--test-bptt', '8', '--backend', 'js', '--seed', '9'];

function thrown(fn: () => void): WriteError {
  try { fn(); } catch (err) { assert.ok(err instanceof WriteError, String(err)); return err; }
  assert.fail('no error');
}

const temporaryFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** rlstm ARGS in cwd with extra environment variables. */
function rlstmWith(env: Record<string, string>, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RLSTM, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('writeFileAtomic: a full disk (ENOSPC from the kernel) is one line, leaves the previous file and no temporary file', { skip: !existsSync('/dev/full') && 'no /dev/full' }, () => {
  const dir = tempDir();
  const path = join(dir, 'model.safetensors');
  writeFileSync(path, 'the previous checkpoint');
  symlinkSync('/dev/full', `${path}.tmp`); // the temporary file is opened through it: every write gets ENOSPC
  const err = thrown(() => writeFileAtomic(path, [new Uint8Array(100), new Uint8Array(100)]));
  assert.equal(err.message, `${path}: cannot write (ENOSPC: no space left on the device); free some space, or write it elsewhere`);
  assert.equal(err.reason, 'ENOSPC: no space left on the device');
  assert.equal(readFileSync(path, 'utf8'), 'the previous checkpoint');
  assert.deepEqual(temporaryFiles(dir), []);
  assert.ok(existsSync('/dev/full'), 'the temporary file was removed, not what it led to');
  assert.deepEqual(failureLine(err), { line: `rlstm: ${err.message}`, status: 1 });
});

test('writeFileAtomic: a failed rename, a missing folder and an injected EIO each name the file; a stale temporary file is replaced', () => {
  const dir = tempDir();
  const inTheWay = join(dir, 'log.json');
  mkdirSync(inTheWay);
  writeFileSync(join(inTheWay, 'keep'), 'x'); // rename(2) of a file over a non-empty folder fails
  const renamed = thrown(() => writeFileAtomic(inTheWay, '{}'));
  assert.match(renamed.message, /log.json: cannot write \((EISDIR|ENOTEMPTY|EEXIST): .*\); /);
  assert.ok(statSync(inTheWay).isDirectory());
  assert.deepEqual(temporaryFiles(dir), [], 'the temporary file written before the rename is removed');

  const missing = join(dir, 'no-such-folder', 'plot.svg');
  assert.equal(thrown(() => writeFileAtomic(missing, '<svg/>')).message,
    `${missing}: cannot write (ENOENT: the folder does not exist); create it, or write elsewhere`);

  const path = join(dir, 'report.html');
  writeFileSync(path, 'before');
  writeFileSync(`${path}.tmp`, 'left by a process killed while writing');
  process.env.RLSTM_FAIL_WRITES = 'EIO:report.html';
  try {
    assert.equal(thrown(() => writeFileAtomic(path, ['<html>', '</html>'].map((s) => Buffer.from(s)))).message,
      `${path}: cannot write (EIO: input/output error: the disk may be failing); write it elsewhere`);
  } finally {
    delete process.env.RLSTM_FAIL_WRITES;
  }
  assert.equal(readFileSync(path, 'utf8'), 'before');
  assert.deepEqual(temporaryFiles(dir), []);
  writeFileSync(`${path}.tmp`, 'stale');
  writeFileAtomic(path, 'after'); // a stale temporary file does not get in the way of the next write
  assert.equal(readFileSync(path, 'utf8'), 'after');
  assert.deepEqual(temporaryFiles(dir), []);
});

test('training stops when its checkpoint or log cannot be written, naming the last good checkpoint, which stays intact', () => {
  const data = tinyCorpus();
  const work = tempDir();
  // the third checkpoint write fails (a checkpoint every step: steps 1 and 2 are saved)
  const r = rlstmWith({ RLSTM_FAIL_WRITES: 'ENOSPC:ck.safetensors:2' }, ['train', '--data', data, ...TINY,
    '--checkpoint-every', '0.000001', '--save', 'ck.safetensors', '--log', 'ck.json'], work);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^rlstm: could not write the checkpoint ck.safetensors \(ENOSPC: no space left on the device\); training stopped at step (\d+); the last good checkpoint is ck.safetensors \(step (\d+)\); free some space, then resume from it\n$/);
  const [, stopped, good] = /step (\d+); the last good checkpoint is ck.safetensors \(step (\d+)\)/.exec(r.stderr)!.map(Number);
  assert.ok(good >= 1 && stopped > good, r.stderr);
  assert.equal(JSON.parse(readCheckpoint(join(work, 'ck.safetensors')).metadata.trainingState).step, good);
  assert.deepEqual(temporaryFiles(work), []);
  const resumed = rlstm(['train', '--resume', 'ck.safetensors', '--backend', 'js', '--max-steps', String(good + 2)], work);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming at step ${good}`));

  // the first checkpoint cannot be written: nothing to resume from
  const first = rlstmWith({ RLSTM_FAIL_WRITES: 'EDQUOT:first.safetensors' }, ['train', '--data', data, ...TINY,
    '--max-steps', '3', '--save', 'first.safetensors', '--log', 'first.json'], work);
  assert.equal(first.status, 1);
  assert.equal(first.stderr, 'rlstm: could not write the checkpoint first.safetensors (EDQUOT: disk quota exceeded); '
    + 'training stopped at step 3; no checkpoint was written yet; free some space, then train again\n');
  assert.ok(!existsSync(join(work, 'first.safetensors')));

  // the log (written after the checkpoint) fails: the checkpoint of that step is the last good one
  const log = rlstmWith({ RLSTM_FAIL_WRITES: 'EIO:lg.json' }, ['train', '--data', data, ...TINY,
    '--max-steps', '4', '--save', 'lg.safetensors', '--log', 'lg.json'], work);
  assert.equal(log.status, 1);
  assert.equal(log.stderr, 'rlstm: could not write the log lg.json (EIO: input/output error: the disk may be failing); '
    + 'training stopped at step 4; the last good checkpoint is lg.safetensors (step 4); write it elsewhere, then resume from it\n');
  assert.deepEqual(temporaryFiles(work), []);
});

test('plot and report that cannot write their file: one line naming it, status 1, no temporary file', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...TINY, '--epochs', '1', '--save', 'm.safetensors', '--log', 'm.json'], work);
  assert.equal(r.status, 0, r.stderr);
  const plot = rlstmWith({ RLSTM_FAIL_WRITES: 'EROFS:p.svg' }, ['plot', 'm.json', '--out', 'p.svg'], work);
  assert.equal(plot.status, 1);
  assert.equal(plot.stderr, 'rlstm: p.svg: cannot write (EROFS: the file system is read-only); write it elsewhere\n');
  const report = rlstmWith({ RLSTM_FAIL_WRITES: 'ENOSPC:r.html' }, ['report', 'm.json', '--out', 'r.html', '--backend', 'js'], work);
  assert.equal(report.status, 1, report.stderr);
  assert.equal(report.stderr, 'rlstm: r.html: cannot write (ENOSPC: no space left on the device); free some space, or write it elsewhere\n');
  assert.deepEqual(temporaryFiles(work), []);
  assert.ok(!existsSync(join(work, 'p.svg')) && !existsSync(join(work, 'r.html')));
});

/** A tmpfs of `bytes` mounted on a new folder, or why there cannot be one (not root, no mount permission). */
function smallTmpfs(bytes: number): { dir: string; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'not running as root';
  const dir = tempDir('rlstm-tmpfs-');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mount.status !== 0) return `mount -t tmpfs failed: ${(mount.stderr || mount.error?.message || '').trim()}`;
  return { dir, unmount: () => { spawnSync('umount', [dir]); } };
}

test('a real full disk (a small tmpfs) during training: stopped, the last good checkpoint named and intact', (t) => {
  const data = tinyCorpus();
  const work = tempDir();
  const probe = rlstm(['train', '--data', data, ...TINY, '--max-steps', '0', '--save', 'size.safetensors', '--log', 'size.json'], work);
  assert.equal(probe.status, 0, probe.stderr);
  const checkpointBytes = statSync(join(work, 'size.safetensors')).size;
  const fs = smallTmpfs(8 * checkpointBytes);
  if (typeof fs === 'string') { t.skip(fs); return; }
  try {
    // leave room for one checkpoint and a half: the first fits, the second (its temporary file beside the first) does not
    const { bavail, bsize } = statfsSync(fs.dir);
    writeFileSync(join(fs.dir, 'filler'), new Uint8Array(bavail * bsize - Math.floor(1.5 * checkpointBytes)));
    const save = join(fs.dir, 'ck.safetensors');
    const r = rlstm(['train', '--data', data, ...TINY, '--checkpoint-every', '0.000001', '--save', save, '--log', 'ck.json'], work);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^rlstm: could not write the checkpoint ${save} \\(ENOSPC: no space left on the device\\); `
      + `training stopped at step \\d+; the last good checkpoint is ${save} \\(step (\\d+)\\); free some space, then resume from it\\n$`));
    const good = Number(/\(step (\d+)\)/.exec(r.stderr)![1]);
    assert.equal(JSON.parse(readCheckpoint(save).metadata.trainingState).step, good);
    assert.deepEqual(temporaryFiles(fs.dir), []);
  } finally {
    fs.unmount();
  }
});
