/**
 * Bundles each program into one ESM file with esbuild, and puts the addon and any assets beside it:
 *
 *   <outDir>/<program>.mjs   <outDir>/contrast_native.node   <outDir>/<asset>...
 *
 * Programs whose entry point is not in the tree yet are reported as missing, not skipped silently;
 * naming a missing program explicitly is an error.
 */
import { build, type BuildOptions } from 'esbuild';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ADDON_BUILD_PATH, ADDON_FILE, PROGRAMS, type Program } from './programs.js';
import { AddonMissingError, BundleFailedError, ProgramMissingError } from './errors.js';

/**
 * Bundled CommonJS dependencies call `require`, `__filename` and `__dirname`, which an ES module does
 * not have; this banner defines them for the bundle file itself.
 */
export const BUNDLE_BANNER = [
  "import { createRequire as __contrastCreateRequire } from 'node:module';",
  "import { fileURLToPath as __contrastFileURLToPath } from 'node:url';",
  "import { dirname as __contrastDirname } from 'node:path';",
  'const require = __contrastCreateRequire(import.meta.url);',
  'const __filename = __contrastFileURLToPath(import.meta.url);',
  'const __dirname = __contrastDirname(__filename);',
].join('\n');

export interface BundleOptions {
  /** Repository root (absolute). */
  readonly root: string;
  /** Output directory (absolute), e.g. `<root>/dist/bundle`. */
  readonly outDir: string;
  /** Programs to bundle; default: all of PROGRAMS. */
  readonly programs?: readonly Program[];
  /** When true, a program without entry point is an error instead of a report line. */
  readonly requireAll?: boolean;
  /** Path of the compiled addon; default `<root>/native/build/Release/contrast_native.node`. */
  readonly addon?: string;
}

export type BundleOutcome =
  | { readonly program: string; readonly status: 'built'; readonly outfile: string; readonly bytes: number; readonly inputs: number }
  | { readonly program: string; readonly status: 'missing'; readonly entry: string };

export interface BundleReport {
  readonly outcomes: readonly BundleOutcome[];
  /** The addon as copied beside the bundles. */
  readonly addon: string;
}

/** The esbuild options for one program; exported so the Dockerfile check can compare. */
export function esbuildOptions(root: string, program: Program, outfile: string): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: [join(root, program.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Error classes set `name = new.target.name`; esbuild's renaming of clashing identifiers must not change it.
    keepNames: true,
    banner: { js: BUNDLE_BANNER },
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
    write: true,
  };
}

export async function bundlePrograms(options: BundleOptions): Promise<BundleReport> {
  const programs = options.programs ?? PROGRAMS;
  const addonSource = options.addon ?? join(options.root, ADDON_BUILD_PATH);
  if (!existsSync(addonSource)) {
    throw new AddonMissingError(`native addon ${addonSource} not found: expected the output of npm run build:native`);
  }
  const missing = programs.filter((p) => !existsSync(join(options.root, p.entry)));
  if (options.requireAll === true && missing.length > 0) {
    throw new ProgramMissingError(`entry point missing for ${missing.map((p) => `${p.name} (${p.entry})`).join(', ')}`);
  }
  await mkdir(options.outDir, { recursive: true });
  const outcomes: BundleOutcome[] = [];
  for (const program of programs) {
    if (missing.includes(program)) {
      outcomes.push({ program: program.name, status: 'missing', entry: program.entry });
      continue;
    }
    outcomes.push(await bundleOne(options.root, options.outDir, program));
  }
  const addon = join(options.outDir, ADDON_FILE);
  await copyFile(addonSource, addon);
  // For programs that look up their version in a package.json above their module at run time.
  const pkg = JSON.parse(await readFile(join(options.root, 'package.json'), 'utf8')) as { name: string; version: string };
  await writeFile(join(options.outDir, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true }) + '\n');
  return { outcomes, addon };
}

async function bundleOne(root: string, outDir: string, program: Program): Promise<BundleOutcome> {
  const outfile = join(outDir, `${program.name}.mjs`);
  let inputs = 0;
  try {
    const result = await build(esbuildOptions(root, program, outfile));
    inputs = Object.keys(result.metafile?.inputs ?? {}).length;
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
    throw new BundleFailedError(`bundling ${program.name} (${program.entry}) failed${lines.length > 0 ? `:\n  ${lines.join('\n  ')}` : ''}`, { cause: err });
  }
  for (const asset of program.assets) {
    await copyFile(join(root, asset), join(outDir, basename(asset)));
  }
  const { size } = await stat(outfile);
  return { program: program.name, status: 'built', outfile, bytes: size, inputs };
}
