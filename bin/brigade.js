#!/usr/bin/env node
// The `brigade` command. The sources are TypeScript run through tsx's loader, so there is no build
// step between `npm ci` and `npx brigade start` (docs/decisions/0004-run-typescript-with-tsx.md).
// Everything else is in src/cli/bin.ts.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/bin.ts');
