import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { scriptRun } from './scriptRun.ts';

/** A fixture script running as a child process of the test. */
export interface FixtureProcess {
  readonly child: ChildProcess;
  /** Resolves with the first match of `re` in everything the child printed so far or prints later; rejects if it exits first. */
  line(re: RegExp): Promise<string>;
  /** Resolves when the child has exited, however. */
  readonly exited: Promise<void>;
}

/**
 * The child processes of one test file, each running a fixture script (compiled, or under tsx: `scriptRun`) with one JSON
 * argument (stdout read by `line`, stderr passed through). Call `killAll` in `after`: a test that
 * failed half-way must not leave a relay or worker running.
 */
export function fixtureProcesses(): { start(script: string, config: Record<string, unknown>): FixtureProcess; killAll(): void } {
  const children: ChildProcess[] = [];
  return {
    start(script, config) {
      const { execArgv, file } = scriptRun(script);
      const child = spawn(process.execPath, [...execArgv, file, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      let out = '';
      const waiters: Array<() => void> = [];
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        waiters.splice(0).forEach((w) => w());
      });
      const exited = new Promise<void>((resolve) =>
        child.once('exit', () => {
          resolve();
          waiters.splice(0).forEach((w) => w());
        }),
      );
      const line = async (re: RegExp): Promise<string> => {
        for (;;) {
          const m = re.exec(out);
          if (m) return m[0];
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${path.basename(script)} exited (${child.exitCode ?? child.signalCode}) before printing ${re}`);
          await new Promise<void>((r) => waiters.push(r));
        }
      };
      return { child, line, exited };
    },
    killAll() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
