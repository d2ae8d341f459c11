/**
 * Start to ready: spawns `brigade start` on an existing embedded data directory and times the moment
 * `/health/ready` first answers 200 (the bound: at most 5 s), then stops it with SIGTERM and
 * times the shutdown. The first run initialises the directory and is reported separately.
 *
 *   node bench/startup/run.mjs [runs=5]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const runs = Number(process.argv[2] ?? 5);
const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-startup-'));
await fs.chmod(home, 0o755);

async function once() {
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'bin/brigade.js'), 'start'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BRIGADE_HOME: home, PORT: '0', LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let base;
  while (base === undefined) {
    base = /API\s+(http:\/\/\S+)\/v1/.exec(out)?.[1];
    if (base === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  for (;;) {
    const ok = await fetch(`${base}/health/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const ready = performance.now() - started;
  const stopping = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  return { ready, stop: performance.now() - stopping, code };
}

const first = await once();
console.log(`first start (initdb + migrations): ready in ${first.ready.toFixed(0)} ms, stopped in ${first.stop.toFixed(0)} ms (exit ${first.code})`);
const results = [];
for (let i = 0; i < runs; i++) {
  const r = await once();
  results.push(r);
  console.log(`run ${i + 1}/${runs}: ready in ${r.ready.toFixed(0)} ms, stopped in ${r.stop.toFixed(0)} ms (exit ${r.code})`);
}
const sorted = results.map((r) => r.ready).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`existing data directory: median start-to-ready ${median.toFixed(0)} ms, worst ${sorted.at(-1).toFixed(0)} ms (bound 5000 ms: ${sorted.at(-1) <= 5000 ? 'met' : 'NOT met'})`);
await fs.rm(home, { recursive: true, force: true });
