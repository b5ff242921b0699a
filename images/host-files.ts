/**
 * Copies files from this machine into a layer exactly where they live on the host, including every
 * symlink on the way (`/lib64/ld-linux-x86-64.so.2` brings `lib64 -> usr/lib64` and the link to the
 * real loader), and the shared libraries a binary needs according to `ldd`.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { HostFileError } from './errors.js';
import type { LayerContents } from './tar.js';
import { errorMessage } from '../lib/errors.js';

const MAX_LINKS = 40;

/**
 * Adds `hostPath` (absolute) to `layer` at the same path, following symlinks component by component
 * and recording each link as a link. Returns the resolved real path on the host.
 */
export function addHostPath(layer: LayerContents, hostPath: string, opts: { data?: Buffer } = {}): string {
  let path = posix.normalize(hostPath);
  if (!path.startsWith('/')) throw new HostFileError(`${hostPath}: expected an absolute host path`);
  for (let hops = 0; hops < MAX_LINKS; hops++) {
    const parts = path.split('/').filter((p) => p !== '');
    let current = '';
    let redirected = false;
    for (let i = 0; i < parts.length; i++) {
      const next = `${current}/${parts[i] ?? ''}`;
      const st = lstatOrThrow(next, hostPath);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(next);
        layer.add({ type: 'symlink', path: next, target });
        const base = target.startsWith('/') ? target : posix.join(current === '' ? '/' : current, target);
        path = posix.join(base, ...parts.slice(i + 1));
        redirected = true;
        break;
      }
      current = next;
    }
    if (redirected) continue;
    const st = statSync(current);
    if (st.isDirectory()) {
      layer.add({ type: 'dir', path: current, mode: st.mode & 0o7777 });
    } else if (st.isFile()) {
      layer.add({ type: 'file', path: current, mode: st.mode & 0o7777, data: opts.data ?? readFileSync(current) });
    } else {
      throw new HostFileError(`${hostPath}: expected a regular file or directory, found something else at ${current}`);
    }
    return current;
  }
  throw new HostFileError(`${hostPath}: too many levels of symbolic links`);
}

function lstatOrThrow(path: string, asked: string): ReturnType<typeof lstatSync> & object {
  try {
    return lstatSync(path);
  } catch (err) {
    throw new HostFileError(`${asked}: ${path} is missing on this machine`, { cause: err });
  }
}

/**
 * The shared objects `binary` loads, as ldd resolves them on this machine (absolute paths, the
 * dynamic loader included). A statically linked file has none. A library ldd cannot find is an error.
 */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return [];
    throw new HostFileError(`ldd ${binary} failed: ${text.trim() || errorMessage(err)}`, { cause: err });
  }
  return parseLdd(binary, out);
}

/** Parses ldd output; exported for tests. */
export function parseLdd(binary: string, out: string): string[] {
  const libs: string[] = [];
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    if (line === '' || /statically linked/.test(line)) continue;
    const arrow = /^(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (arrow !== null) {
      const target = arrow[2] ?? '';
      if (target === 'not found')
        throw new HostFileError(`${binary}: shared library ${arrow[1] ?? ''} not found on this machine`);
      if (target.startsWith('/')) libs.push(target);
      continue;
    }
    const direct = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (direct !== null) libs.push(direct[1] ?? '');
    // Anything else (linux-vdso.so.1) is provided by the kernel.
  }
  return [...new Set(libs)].sort();
}

/** Adds a binary and its shared libraries (each with its symlinks). */
export function addBinaryWithLibraries(layer: LayerContents, binary: string, opts: { data?: Buffer } = {}): void {
  const real = addHostPath(layer, binary, opts);
  for (const lib of sharedLibraries(real)) addHostPath(layer, lib);
}

/** Adds every regular file in a host directory (not recursive) and the libraries they need (one ldd run). */
export function addPluginDirectory(layer: LayerContents, dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new HostFileError(`${dir}: plugin directory missing on this machine`, { cause: err });
  }
  const files = names.map((n) => posix.join(dir, n)).filter((p) => statSync(p).isFile());
  for (const file of files) addHostPath(layer, file);
  for (const lib of sharedLibrariesOfMany(files)) addHostPath(layer, lib);
}

/** The union of the shared libraries of several files, from one ldd run. */
export function sharedLibrariesOfMany(files: readonly string[]): string[] {
  if (files.length <= 1) return files.length === 1 ? sharedLibraries(files[0] ?? '') : [];
  let out: string;
  try {
    out = execFileSync('ldd', [...files], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
  } catch (err) {
    // ldd exits 1 when any file is not dynamic; its stdout still lists the others.
    out = (err as { stdout?: string }).stdout ?? '';
    if (out === '')
      throw new HostFileError(
        `ldd on ${files.length} files in ${posix.dirname(files[0] ?? '')} failed: ${errorMessage(err)}`,
        { cause: err },
      );
  }
  const libs = new Set<string>();
  for (const section of out.split(/^(?=\S.*:$)/m)) {
    const [head, ...body] = section.split('\n');
    for (const lib of parseLdd(head?.replace(/:$/, '') ?? '', body.join('\n'))) libs.add(lib);
  }
  return [...libs].sort();
}
