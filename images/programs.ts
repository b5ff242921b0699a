/**
 * The single list of programs this repository ships. The bundler, the image builder, the Dockerfile
 * check and the tests all read it; nothing else names entry points.
 */

export type ProgramName = 'initializer' | 'meshproxy' | 'runtime-installer' | 'contrast-dev' | 'port-forwarder';

export interface Program {
  /** Bundle directory: `dist/bundle/<name>/main.mjs`, and `/usr/lib/contrast/<name>/main.mjs` in an image. */
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
}

export const PROGRAMS: readonly Program[] = Object.freeze([
  { name: 'initializer', entry: 'initializer/main.ts', bin: 'contrast-initializer', assets: [] },
  { name: 'meshproxy', entry: 'meshproxy/main.ts', bin: 'contrast-meshproxy', assets: [] },
  { name: 'runtime-installer', entry: 'runtime-installer/main.ts', bin: 'contrast-runtime-installer', assets: [] },
  { name: 'contrast-dev', entry: 'dev/main.ts', bin: 'contrast-dev', assets: [] },
  { name: 'port-forwarder', entry: 'port-forwarder/main.ts', bin: 'contrast-port-forwarder', assets: [] },
]);

/** package.json `name` of this suite. */
export const PACKAGE_NAME = 'contrast-guest-ts';

/** The name of the compiled addon, copied into every program's bundle directory (native/addon.ts looks there first). */
export const ADDON_FILE = 'contrast_native.node';

/** Where `npm run build:native` leaves the addon, repository-relative. */
export const ADDON_BUILD_PATH = 'native/build/Release/contrast_native.node';

export function programByName(name: string): Program | undefined {
  return PROGRAMS.find((p) => p.name === name);
}
