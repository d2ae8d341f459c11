import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { repoRoot } from '../support/cli.ts';

test('a command whose output fills the pipe exits only once a slow reader has it all, with its own code (before: cut at the pipe buffer)', async () => {
  // 1 MiB on stdout and a line on stderr, then exit 3, as bin/brigade.js ends.
  const script = `
    const { exitWhenFlushed } = await import('./src/cli/exitWhenFlushed.ts');
    process.stdout.write('x'.repeat(1 << 20) + '\\n');
    process.stderr.write('done\\n');
    await exitWhenFlushed(3);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot });
  // 'close': the process has exited and its stdout and stderr have ended (listened for from the start).
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // Read nothing for a while: the pipe (64 KiB) is full and the rest waits in the child.
  child.stdout.pause();
  await sleep(1500);
  let bytes = 0;
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdout.resume();
  assert.equal(await closed, 3);
  assert.equal(bytes, (1 << 20) + 1);
  assert.equal(err, 'done\n');
});
