/**
 * The single list of programs this repository ships (below dev/ and images/, which both read it). The
 * bundler, the image builder, the Dockerfile
 * check and the tests all read it; nothing else names entry points.
 */

export type ProgramName = 'initializer' | 'meshproxy' | 'runtime-installer' | 'contrast-dev' | 'port-forwarder';

/**
 * How a program is bundled (images/bundler.ts):
 * - `esm-split`: an ES module entry `main.mjs` and chunks; lazily imported code stays out of start-up.
 * - `cjs-code-cache`: one CommonJS file `program.cjs`, started by the loader `main.cjs` with a V8 code
 *   cache trained on the program's start-up path (images/code-cache/): for the program whose start-up
 *   is on every pod's critical path.
 */
export type BundleLayout = 'esm-split' | 'cjs-code-cache';

export interface Program {
  /** Bundle directory: `dist/bundle/<name>/`, and `/usr/lib/contrast/<name>/` in an image. */
  readonly name: ProgramName;
  /** TypeScript entry point, relative to the repository root. */
  readonly entry: string;
  /** The package.json `bin` name. */
  readonly bin: string;
  /**
   * Files a program reads at run time relative to its own module (e.g. a `.proto` next to a loader),
   * repository-relative; copied into the program's bundle directory under their base name.
   */
  readonly assets: readonly string[];
  readonly layout: BundleLayout;
}

export const PROGRAMS: readonly Program[] = Object.freeze([
  {
    name: 'initializer',
    entry: 'initializer/main.ts',
    bin: 'contrast-initializer',
    assets: [],
    layout: 'cjs-code-cache',
  },
  { name: 'meshproxy', entry: 'meshproxy/main.ts', bin: 'contrast-meshproxy', assets: [], layout: 'esm-split' },
  {
    name: 'runtime-installer',
    entry: 'runtime-installer/main.ts',
    bin: 'contrast-runtime-installer',
    assets: [],
    layout: 'esm-split',
  },
  { name: 'contrast-dev', entry: 'dev/main.ts', bin: 'contrast-dev', assets: [], layout: 'esm-split' },
  {
    name: 'port-forwarder',
    entry: 'port-forwarder/main.ts',
    bin: 'contrast-port-forwarder',
    assets: [],
    layout: 'esm-split',
  },
]);

/** The name of the compiled addon, copied into every program's bundle directory (lib/native/addon.ts looks there first). */
export const ADDON_FILE = 'contrast_native.node';

/** Where `npm run build:native` leaves the addon, repository-relative. */
export const ADDON_BUILD_PATH = 'native/build/Release/contrast_native.node';

/** The file that starts a program's bundle (what `node <file>` and the image launchers run). */
export function bundleEntry(program: Pick<Program, 'layout'>): string {
  return program.layout === 'cjs-code-cache' ? 'main.cjs' : 'main.mjs';
}

export function programByName(name: string): Program | undefined {
  return PROGRAMS.find((p) => p.name === name);
}
