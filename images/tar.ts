/**
 * A reproducible tar writer for image layers: POSIX ustar headers (PAX records only for paths that
 * do not fit), entries sorted by path, every parent directory present, uid/gid 0, no user or group
 * names, one fixed mtime. The same entries always give the same bytes.
 */
import { posix } from 'node:path';
import { LayerEntryError } from './errors.js';

export type LayerEntry =
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly data: Buffer }
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

const BLOCK = 512;

/** Normalises an in-image path to the tar form: relative, no `.`/`..`, no trailing slash. */
export function tarPath(path: string): string {
  const norm = posix
    .normalize('/' + path)
    .slice(1)
    .replace(/\/+$/, '');
  if (norm === '' || norm.split('/').includes('..'))
    throw new LayerEntryError(`path ${JSON.stringify(path)}: expected a path inside the image`);
  return norm;
}

/**
 * A set of entries keyed by path. Adding the same path twice is fine when both describe the same
 * thing (e.g. a library two binaries need); a conflicting description is an error.
 */
export class LayerContents {
  private readonly entries = new Map<string, LayerEntry>();

  /** @param below a lower layer: entries it already holds identically are not repeated here. */
  constructor(private readonly below?: LayerContents) {}

  add(entry: LayerEntry): void {
    const path = tarPath(entry.path);
    const normalised = { ...entry, path } as LayerEntry;
    const lower = this.below?.get(path);
    if (lower !== undefined) {
      if (!sameEntry(lower, normalised))
        throw new LayerEntryError(`${path}: differs from the lower layer's ${describeDifference(lower, normalised)}`);
      return;
    }
    const existing = this.entries.get(path);
    if (existing !== undefined) {
      if (!sameEntry(existing, normalised))
        throw new LayerEntryError(`${path}: added twice with different ${describeDifference(existing, normalised)}`);
      return;
    }
    this.entries.set(path, normalised);
  }

  has(path: string): boolean {
    return this.get(path) !== undefined;
  }

  /** The entry at `path` here or in a lower layer. */
  get(path: string): LayerEntry | undefined {
    const p = tarPath(path);
    return this.entries.get(p) ?? this.below?.get(p);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries with their parent directories (0755) filled in, sorted by path bytes. */
  sorted(): LayerEntry[] {
    const all = new Map(this.entries);
    for (const path of this.entries.keys()) {
      for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) {
        const e = all.get(dir);
        if (e === undefined) all.set(dir, { type: 'dir', path: dir, mode: 0o755 });
        else if (e.type !== 'dir')
          throw new LayerEntryError(`${dir}: is a ${e.type} but ${path} needs it to be a directory`);
      }
    }
    return [...all.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  }
}

function sameEntry(a: LayerEntry, b: LayerEntry): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'symlink' && b.type === 'symlink') return a.target === b.target;
  if (a.type === 'dir' && b.type === 'dir') return a.mode === b.mode;
  if (a.type === 'file' && b.type === 'file') return a.mode === b.mode && a.data.equals(b.data);
  return false;
}

function describeDifference(a: LayerEntry, b: LayerEntry): string {
  return a.type !== b.type ? `types (${a.type}, ${b.type})` : 'contents';
}

/** Serialises entries into one tar archive. */
export function writeTar(entries: readonly LayerEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const size = e.type === 'file' ? e.data.length : 0;
    const linkname = e.type === 'symlink' ? e.target : '';
    const mode = e.type === 'symlink' ? 0o777 : e.mode;
    const typeflag = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
    const split = splitName(name);
    const pax: [string, string][] = [];
    if (split === undefined) pax.push(['path', name]);
    if (Buffer.byteLength(linkname) > 100) pax.push(['linkpath', linkname]);
    if (pax.length > 0) {
      const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''));
      parts.push(
        header({ name: 'PaxHeader', prefix: '', mode: 0o644, size: body.length, mtime, typeflag: 'x', linkname: '' }),
        pad(body),
      );
    }
    parts.push(
      header({
        name: split?.name ?? name.slice(-99),
        prefix: split?.prefix ?? '',
        mode,
        size,
        mtime,
        typeflag,
        linkname: Buffer.byteLength(linkname) > 100 ? '' : linkname,
      }),
    );
    if (e.type === 'file') parts.push(pad(e.data));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** ustar splits long names into prefix (155) + name (100) at a slash. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest !== '') return { name: rest, prefix };
  }
  return undefined;
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(f.name, 0, 100, 'utf8');
  octal(h, 100, 8, f.mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, f.size);
  octal(h, 136, 12, f.mtime);
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder
  h.write(f.typeflag, 156, 1, 'ascii');
  h.write(f.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  octal(h, 329, 8, 0); // devmajor
  octal(h, 337, 8, 0); // devminor
  h.write(f.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function octal(h: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new LayerEntryError(`value ${value} does not fit a ${width}-byte tar field`);
  h.write(digits.padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}
