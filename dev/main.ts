#!/usr/bin/env node
/** contrast-dev: development tools (see dev/program.ts for the command tree). */
import type { Logger } from '../lib/log.js';
import { runMain } from '../lib/main.js';
import { run } from './program.js';

function main(): void {
  let logger: Logger | undefined;
  runMain(
    () =>
      run(process.argv, (l) => {
        logger = l;
      }),
    () => logger,
  );
}

main();
