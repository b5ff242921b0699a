/**
 * `npm run bundle [-- [--require-all] [--out DIR] [program...]]`
 *
 * Bundles the programs of lib/programs.ts into dist/bundle/<program>/ (main.mjs, its chunks, the
 * addon beside them). Prints one line per program; a program whose entry point is not in the tree is reported as
 * `missing`. Naming a program explicitly, or --require-all, turns a missing entry into exit 1.
 */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { bundlePrograms } from './bundler.js';
import { PROGRAMS, programByName, type Program } from '../lib/programs.js';
import { UnknownProgramError } from './errors.js';
import { repoRoot } from './paths.js';
import { describeError } from '../lib/errors.js';
import { tolerateClosedStdout } from './stdout.js';

function selectPrograms(names: readonly string[]): Program[] {
  if (names.length === 0) return [...PROGRAMS];
  return names.map((n) => {
    const p = programByName(n);
    if (p === undefined)
      throw new UnknownProgramError(`unknown program ${n}: expected one of ${PROGRAMS.map((x) => x.name).join(', ')}`);
    return p;
  });
}

async function run(argv: readonly string[]): Promise<number> {
  const cmd = new Command('bundle')
    .description('bundle each program into its own directory (ESM entry + chunks) with the native addon beside it')
    .option('--out <dir>', 'output directory', 'dist/bundle')
    .option('--require-all', 'fail when a program has no entry point in the tree', false)
    .argument('[program...]', `programs to bundle (default: all of ${PROGRAMS.map((p) => p.name).join(', ')})`)
    .parse(argv, { from: 'user' });
  const opts = cmd.opts<{ out: string; requireAll: boolean }>();
  const root = repoRoot();
  const programs = selectPrograms(cmd.args);
  const report = await bundlePrograms({
    root,
    outDir: resolve(root, opts.out),
    programs,
    requireAll: opts.requireAll || cmd.args.length > 0,
  });
  for (const o of report.outcomes) {
    if (o.status === 'built') {
      const cache = o.codeCacheBytes === undefined ? '' : `, code cache ${(o.codeCacheBytes / 1024).toFixed(0)} KiB`;
      process.stdout.write(
        `built    ${o.program.padEnd(18)} ${o.outfile} (${(o.entryBytes / 1024).toFixed(0)} KiB + ${o.chunks} chunks, ${(o.bytes / 1024).toFixed(0)} KiB in all, ${o.inputs} modules${cache})\n`,
      );
    } else process.stdout.write(`missing  ${o.program.padEnd(18)} ${o.entry} is not in the tree yet: not bundled\n`);
  }
  process.stdout.write(`addon    ${report.addon}\n`);
  return 0;
}

tolerateClosedStdout();
run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bundle: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
