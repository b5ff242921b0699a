/**
 * Bundles each program with esbuild into its own directory, with the addon and any assets beside it,
 * in the program's layout (lib/programs.ts):
 *
 *   esm-split        <outDir>/<program>/main.mjs   <outDir>/<program>/chunk-<hash>.mjs...
 *                    (code splitting: what a program imports lazily, e.g. commander or the `report`
 *                    sub-command, stays out of what its start-up path compiles)
 *   cjs-code-cache   <outDir>/<program>/main.cjs (loader)   program.cjs (the whole program, one file,
 *                    as one CommonJS function expression)
 *                    program.cache (V8 code cache from a training run of the start-up path)
 *
 *   <outDir>/<program>/contrast_native.node   <outDir>/<program>/<asset>...
 *
 * A program's directory is emptied first, so it holds exactly one build's files (the image builder
 * copies all of them).
 *
 * Programs whose entry point is not in the tree yet are reported as missing, not skipped silently;
 * naming a missing program explicitly is an error.
 */
import { build, type BuildOptions } from 'esbuild';
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ADDON_BUILD_PATH, ADDON_FILE, PROGRAMS, bundleEntry, type Program } from '../lib/programs.js';
import { AddonMissingError, BundleFailedError, ProgramMissingError } from './errors.js';
import { CODE_CACHE_BUNDLE, CODE_CACHE_FILE } from './code-cache/files.js';
import { trainCodeCache } from './code-cache/train.js';
import { BUNDLE_LICENCES_FILE, bundleLicenceText, npmPackagesOf } from './licences.js';

/**
 * Bundled CommonJS dependencies call `require`, `__filename` and `__dirname`, which an ES module does
 * not have; this banner defines them in every output file (entry and chunks alike).
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

/**
 * A CommonJS bundle has no `import.meta`: modules that locate files beside themselves (the addon,
 * package.json) read this URL of the bundle file instead.
 */
const CJS_BANNER = "var __contrastImportMetaUrl = require('node:url').pathToFileURL(__filename).href;";

/** The loader of a code-cached bundle (its entry, main.cjs), and the files it reads beside itself. */
const CODE_CACHE_LOADER = 'images/code-cache/loader.cts';
export { CODE_CACHE_BUNDLE, CODE_CACHE_FILE } from './code-cache/files.js';

/**
 * Never bundled: grpc-js requires it only to load the channelz admin service and ORCA load reports
 * (from .proto files next to grpc-js, which a bundle has not got either); no program enables them.
 */
export const BUNDLE_EXTERNAL: readonly string[] = ['@grpc/proto-loader'];

export type BundleOutcome =
  | {
      readonly program: string;
      readonly status: 'built';
      /** The program's directory and its entry module. */
      readonly dir: string;
      readonly outfile: string;
      /** Bytes of all JavaScript files (entry + chunks), the entry alone, and the number of chunks. */
      readonly bytes: number;
      readonly entryBytes: number;
      readonly chunks: number;
      readonly inputs: number;
      /** cjs-code-cache: bytes of the trained V8 code cache. */
      readonly codeCacheBytes?: number;
    }
  | { readonly program: string; readonly status: 'missing'; readonly entry: string };

export interface BundleReport {
  readonly outcomes: readonly BundleOutcome[];
  /** The addon copied into every program directory. */
  readonly addon: string;
}

/** The esbuild options for one program, writing into its own directory `outdir`. */
export function esbuildOptions(root: string, program: Program, outdir: string): BuildOptions {
  if (program.layout === 'cjs-code-cache') {
    return {
      ...commonOptions(root),
      entryPoints: [{ in: join(root, program.entry), out: CODE_CACHE_BUNDLE.replace(/\.cjs$/, '') }],
      outdir,
      outExtension: { '.js': '.cjs' },
      format: 'cjs',
      // ASCII only, so that the loader can read it as latin1 into a one-byte string.
      charset: 'ascii',
      define: { 'import.meta.url': '__contrastImportMetaUrl' },
      banner: { js: CJS_BANNER },
      metafile: true,
    };
  }
  return {
    absWorkingDir: root,
    entryPoints: [{ in: join(root, program.entry), out: 'main' }],
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: [...BUNDLE_EXTERNAL],
    // Error classes set `name = new.target.name`; esbuild's renaming of clashing identifiers must not change it.
    keepNames: true,
    banner: { js: BUNDLE_BANNER },
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
    write: true,
  };
}

function commonOptions(root: string): BuildOptions {
  return {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: [...BUNDLE_EXTERNAL],
    keepNames: true,
    legalComments: 'none',
    logLevel: 'silent',
    write: true,
  };
}

/**
 * The CommonJS function wrapper that the loader compiles program.cjs as. Written into the file by the
 * bundler, so that the loader compiles the file's text as it is (no 2 MB string concatenation). The
 * entry's `#!` line, a syntax error inside the wrapper, becomes a comment; lines stay the same.
 */
const CJS_WRAPPER = ['(function (exports, require, module, __filename, __dirname) {', '\n})'] as const;

async function wrapForLoader(file: string): Promise<void> {
  const source = await readFile(file, 'latin1');
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  await writeFile(file, `${CJS_WRAPPER[0]}${body}${CJS_WRAPPER[1]}`, 'latin1');
}

/** The loader (main.cjs) of a code-cached bundle: built-in modules only. */
function loaderOptions(root: string, outdir: string): BuildOptions {
  return {
    ...commonOptions(root),
    entryPoints: [{ in: join(root, CODE_CACHE_LOADER), out: 'main' }],
    outdir,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    charset: 'ascii',
  };
}

/** Writes the loader `main.cjs` of a code-cached bundle into `outdir` (also for tests' stand-in programs). */
export async function buildCodeCacheLoader(root: string, outdir: string): Promise<void> {
  await build(loaderOptions(root, outdir));
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
    const outcome = await bundleOne(options.root, options.outDir, program, addonSource);
    outcomes.push(outcome);
  }
  return { outcomes, addon: addonSource };
}

async function bundleOne(
  root: string,
  outDir: string,
  program: Program,
  addonSource: string,
): Promise<Extract<BundleOutcome, { status: 'built' }>> {
  const dir = join(outDir, program.name);
  const outfile = join(dir, bundleEntry(program));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let inputs = 0;
  let inputNames: string[] = [];
  try {
    const result = await build(esbuildOptions(root, program, dir));
    inputNames = Object.keys(result.metafile?.inputs ?? {});
    inputs = inputNames.length;
    if (program.layout === 'cjs-code-cache') {
      await wrapForLoader(join(dir, CODE_CACHE_BUNDLE));
      await buildCodeCacheLoader(root, dir);
    }
  } catch (err) {
    const errors =
      (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
    throw new BundleFailedError(
      `bundling ${program.name} (${program.entry}) failed${lines.length > 0 ? `:\n  ${lines.join('\n  ')}` : ''}`,
      { cause: err },
    );
  }
  // The licence texts of the npm packages inside, for the image to carry (images/licences.ts).
  await writeFile(join(dir, BUNDLE_LICENCES_FILE), bundleLicenceText(root, npmPackagesOf(inputNames)));
  // The addon and assets sit beside the code before a training run loads them.
  await copyFile(addonSource, join(dir, ADDON_FILE));
  for (const asset of program.assets) {
    await copyFile(join(root, asset), join(dir, basename(asset)));
  }
  const files = await readdir(dir);
  const scripts = files.filter((f) => f.endsWith('.mjs') || f.endsWith('.cjs'));
  let bytes = 0;
  for (const f of scripts) bytes += (await stat(join(dir, f))).size;
  const entryBytes = (await stat(outfile)).size;
  const chunks = files.filter((f) => f.startsWith('chunk-')).length;
  const built = { program: program.name, status: 'built', dir, outfile, bytes, entryBytes, chunks, inputs } as const;
  if (program.layout !== 'cjs-code-cache') return built;
  return {
    ...built,
    codeCacheBytes: await trainCodeCache(program.name, { dir, cacheFile: join(dir, CODE_CACHE_FILE) }),
  };
}
