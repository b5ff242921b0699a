/**
 * A minimal TOML scanner that finds table headers and their byte ranges without interpreting values.
 * It understands strings (basic, literal, multi-line), comments and multi-line arrays, so that a `[` at
 * the start of a line is taken for a header only when it really is one. Used for text-level splices;
 * the result of every splice is re-parsed with a full TOML parser by the caller.
 */
import { ContrastError } from '../lib/errors.js';

export interface TableHeader {
  /** Decoded key segments, e.g. `['plugins', 'io.containerd.grpc.v1.cri', 'containerd']`. */
  readonly path: readonly string[];
  readonly arrayTable: boolean;
  /** Offset of the `[` line's first character (start of its line). */
  readonly start: number;
  /** Offset just after the header line (after its newline, or end of text). */
  readonly lineEnd: number;
}

/** A containerd config the header scanner cannot read (wrapped into ContainerdConfigError by its caller). */
export class TomlScanError extends ContrastError {
  readonly code = 'ERR_TOML_SCAN';
}

/** Returns every table header in document order. Throws TomlScanError on a malformed header. */
export function scanHeaders(text: string): TableHeader[] {
  const headers: TableHeader[] = [];
  let i = 0;
  let depth = 0;
  let lineStart = true;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      i = skipToEol(text, i);
      continue;
    }
    if (lineStart && depth === 0 && c === '[') {
      const h = parseHeader(text, i);
      headers.push(h);
      i = h.lineEnd;
      lineStart = true;
      continue;
    }
    lineStart = false;
    if (c === '"' || c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (c === '[' || c === '{') depth++;
    else if ((c === ']' || c === '}') && depth > 0) depth--;
    i++;
  }
  return headers;
}

function skipToEol(text: string, i: number): number {
  const nl = text.indexOf('\n', i);
  return nl === -1 ? text.length : nl;
}

/** Skips a string starting at i (quote char); returns the offset after it. */
function skipString(text: string, i: number): number {
  const q = text[i] ?? '';
  const triple = text.startsWith(q.repeat(3), i);
  if (triple) {
    let j = i + 3;
    for (;;) {
      const end = text.indexOf(q.repeat(3), j);
      if (end === -1) throw new TomlScanError(`unterminated multi-line string at offset ${i}`);
      if (q === '"' && isEscaped(text, end)) {
        j = end + 1;
        continue;
      }
      // Up to two extra quotes may close the string (`""""` ends with a quote in the content).
      let k = end + 3;
      while (text[k] === q && k < end + 5) k++;
      return k;
    }
  }
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === '\n') throw new TomlScanError(`unterminated string at offset ${i}`);
    if (q === '"' && c === '\\') {
      j += 2;
      continue;
    }
    if (c === q) return j + 1;
    j++;
  }
  throw new TomlScanError(`unterminated string at offset ${i}`);
}

function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  for (let k = at - 1; k >= 0 && text[k] === '\\'; k--) backslashes++;
  return backslashes % 2 === 1;
}

function parseHeader(text: string, at: number): TableHeader {
  const start = text.lastIndexOf('\n', at - 1) + 1;
  const arrayTable = text[at + 1] === '[';
  let i = at + (arrayTable ? 2 : 1);
  const path: string[] = [];
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    const c = text[i];
    if (c === '"' || c === "'") {
      const end = skipString(text, i);
      const raw = text.slice(i + 1, end - 1);
      path.push(c === "'" ? raw : decodeBasic(raw));
      i = end;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(text.slice(i, i + 256));
      if (m === null) throw new TomlScanError(`malformed table header at offset ${at}`);
      path.push(m[0]);
      i += m[0].length;
    }
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (text[i] === '.') {
      i++;
      continue;
    }
    if (text[i] !== ']' || (arrayTable && text[i + 1] !== ']'))
      throw new TomlScanError(`malformed table header at offset ${at}`);
    i += arrayTable ? 2 : 1;
    break;
  }
  const eol = skipToEol(text, i);
  return { path, arrayTable, start, lineEnd: eol === text.length ? eol : eol + 1 };
}

function decodeBasic(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** True when `path` starts with `prefix`. */
export function hasPrefix(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((seg, k) => path[k] === seg);
}

/**
 * The end of a table's own content: from its header to the next header, minus trailing blank and
 * comment lines (those belong to whatever follows). Returns an offset at a line start.
 */
export function sectionContentEnd(text: string, header: TableHeader, nextStart: number): number {
  let end = nextStart;
  while (end > header.lineEnd) {
    const prevNl = text.lastIndexOf('\n', end - 2);
    const lineStart = Math.max(prevNl + 1, header.lineEnd);
    const line = text.slice(lineStart, end).trim();
    if (line !== '' && !line.startsWith('#')) break;
    end = lineStart;
  }
  return end;
}

/** Quotes a key segment for a header when it is not a bare key. */
export function formatKey(seg: string): string {
  return /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
}
