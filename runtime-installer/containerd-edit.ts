/**
 * Lossless edits of a containerd configuration: our runtime table (and its sub-tables) is spliced into
 * the text; every other byte stays as it was. The result is re-parsed and must differ from the original
 * only by our entry (and `debug.level` when asked), otherwise the edit is refused.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse, type TomlTable } from 'smol-toml';
import { ContainerdConfigError } from './errors.js';
import { formatKey, hasPrefix, scanHeaders, sectionContentEnd, TomlScanError, type TableHeader } from './toml-scan.js';
import { errorMessage } from '../lib/errors.js';

export const CRI_V2 = 'io.containerd.grpc.v1.cri';
export const CRI_V3 = 'io.containerd.cri.v1.runtime';

/** Our runtime entry under `plugins.<cri>.containerd.runtimes.<handler>`. */
export interface RuntimeEntry {
  readonly handler: string;
  readonly runtimeType: string;
  readonly runtimePath: string;
  readonly podAnnotations: readonly string[];
  readonly privilegedWithoutHostDevices: boolean;
  readonly configPath: string;
  /** Seed generation: the proxy snapshotter this runtime uses (`tardev-<handler>`, `nydus-<handler>`). */
  readonly snapshotter?: string | undefined;
}

export interface EditOptions {
  /** Also set `debug.level = "debug"`. */
  readonly debugLevel?: boolean;
  /** The CRI plugin ID to use instead of the one the text's own `version` implies. */
  readonly criId?: string;
}

/** Parses TOML text, naming the source on failure. */
export function parseConfig(text: string, source: string): TomlTable {
  try {
    return parse(text);
  } catch (err) {
    throw new ContainerdConfigError(
      `${source}: expected a valid TOML containerd config: ${errorMessage(err).split('\n')[0] ?? ''}`,
      { cause: err },
    );
  }
}

/** The CRI runtime plugin ID for the config's `version`: 1, 2 or missing → v2 ID; 3, 4 → v3 ID. */
export function criPluginId(config: TomlTable, source: string): string {
  const v = config['version'];
  if (v === undefined || v === 1 || v === 2) return CRI_V2;
  if (v === 3 || v === 4) return CRI_V3;
  throw new ContainerdConfigError(
    `${source}: version = ${JSON.stringify(v)}: expected containerd config version 1, 2, 3 or 4`,
  );
}

function runtimePath(criId: string, handler: string): string[] {
  return ['plugins', criId, 'containerd', 'runtimes', handler];
}

/** Indentation of our table headers and keys, copied from a sibling runtime table when there is one. */
export interface Indent {
  readonly header: string;
  readonly key: string;
  readonly optionsHeader: string;
  readonly optionsKey: string;
}

export const DEFAULT_INDENT: Indent = { header: '', key: '  ', optionsHeader: '', optionsKey: '  ' };

/** The TOML text of our entry: the runtime table and its `options` sub-table. */
export function renderEntry(criId: string, entry: RuntimeEntry, indent: Indent = DEFAULT_INDENT): string {
  const header = runtimePath(criId, entry.handler).map(formatKey).join('.');
  const k = indent.key;
  return [
    `${indent.header}[${header}]`,
    `${k}runtime_type = ${JSON.stringify(entry.runtimeType)}`,
    `${k}runtime_path = ${JSON.stringify(entry.runtimePath)}`,
    `${k}pod_annotations = [${entry.podAnnotations.map((a) => JSON.stringify(a)).join(', ')}]`,
    `${k}privileged_without_host_devices = ${entry.privilegedWithoutHostDevices}`,
    ...(entry.snapshotter === undefined ? [] : [`${k}snapshotter = ${JSON.stringify(entry.snapshotter)}`]),
    '',
    `${indent.optionsHeader}[${header}.options]`,
    `${indent.optionsKey}ConfigPath = ${JSON.stringify(entry.configPath)}`,
    '',
  ].join('\n');
}

/** The indentation style of the first other runtime table (and its options table), if any. */
function siblingIndent(
  text: string,
  headers: readonly TableHeader[],
  runtimes: readonly string[],
  handler: string,
): Indent {
  const k = headers.findIndex(
    (h) => h.path.length === runtimes.length + 1 && hasPrefix(h.path, runtimes) && h.path.at(-1) !== handler,
  );
  const h = headers[k];
  if (h === undefined) return DEFAULT_INDENT;
  const lead = (at: number) => /^[ \t]*/.exec(text.slice(at))?.[0] ?? '';
  const keyIndent = (hdr: TableHeader, fallback: string) => {
    const body = text.slice(hdr.lineEnd, headers[headers.indexOf(hdr) + 1]?.start ?? text.length);
    const m = /^([ \t]*)[A-Za-z0-9_"'-]/m.exec(body);
    return m?.[1] ?? fallback;
  };
  const header = lead(h.start);
  const key = keyIndent(h, `${header}  `);
  const opt = headers.find(
    (o) => o.path.length === h.path.length + 1 && hasPrefix(o.path, h.path) && o.path.at(-1) === 'options',
  );
  const optionsHeader = opt === undefined ? header : lead(opt.start);
  return { header, key, optionsHeader, optionsKey: opt === undefined ? key : keyIndent(opt, `${optionsHeader}  `) };
}

function entryValue(entry: RuntimeEntry): TomlTable {
  return {
    runtime_type: entry.runtimeType,
    runtime_path: entry.runtimePath,
    pod_annotations: [...entry.podAnnotations],
    privileged_without_host_devices: entry.privilegedWithoutHostDevices,
    ...(entry.snapshotter === undefined ? {} : { snapshotter: entry.snapshotter }),
    options: { ConfigPath: entry.configPath },
  };
}

/** Adds or replaces our entry. Returns the new text (identical to `text` when nothing changes). */
export function addRuntime(text: string, entry: RuntimeEntry, source: string, options: EditOptions = {}): string {
  const before = parseConfig(text, source);
  const criId = options.criId ?? criPluginId(before, source);
  const path = runtimePath(criId, entry.handler);
  const expected = canonical(before) as Record<string, unknown>;
  setPath(expected, path, canonical(entryValue(entry)));
  const wantDebug = options.debugLevel === true && getPath(before, ['debug', 'level']) !== 'debug';
  if (wantDebug) setPath(expected, ['debug', 'level'], 'debug');
  if (isDeepStrictEqual(canonical(before), expected)) return text;

  const indent = siblingIndent(text, scan(text, source), path.slice(0, 4), entry.handler);
  let out = spliceEntry(text, path, renderEntry(criId, entry, indent), source);
  if (wantDebug) out = setDebugLevel(out, source);
  verify(out, expected, source, `adding runtime ${entry.handler}`);
  return out;
}

/** Removes our entry; returns `text` unchanged when it is not there. */
export function removeRuntime(text: string, handler: string, source: string, criIdOverride?: string): string {
  const before = parseConfig(text, source);
  const criId = criIdOverride ?? criPluginId(before, source);
  const path = runtimePath(criId, handler);
  if (getPath(before, path) === undefined) return text;
  const out = spliceEntry(text, path, '', source);
  const expected = withoutPath(canonical(before), path);
  let after: unknown;
  try {
    after = canonical(parse(out));
  } catch (err) {
    throw new ContainerdConfigError(
      `${source}: removing runtime ${handler} would leave invalid TOML; the entry is not in a form that can be edited losslessly`,
      { cause: err },
    );
  }
  if (!isDeepStrictEqual(withoutPath(after, path), expected) || getPath(after, path) !== undefined) {
    throw new ContainerdConfigError(
      `${source}: runtime ${handler} is not defined as its own table; refusing to edit it`,
    );
  }
  return out;
}

function verify(out: string, expected: unknown, source: string, what: string): void {
  let after: unknown;
  try {
    after = canonical(parse(out));
  } catch (err) {
    throw new ContainerdConfigError(
      `${source}: ${what} would produce invalid TOML (the existing tables are written in a form this installer cannot extend losslessly): ${errorMessage(err).split('\n')[0] ?? ''}`,
      { cause: err },
    );
  }
  if (!isDeepStrictEqual(after, expected)) {
    throw new ContainerdConfigError(
      `${source}: ${what} would change more than our entry (the existing entry is not defined as its own table); refusing to edit`,
    );
  }
}

interface Span {
  start: number;
  end: number;
}

function scan(text: string, source: string): TableHeader[] {
  try {
    return scanHeaders(text);
  } catch (err) {
    if (err instanceof TomlScanError) throw new ContainerdConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

/** Replaces (or removes, with block '') every table under `path`, or inserts the block at a fitting place. */
function spliceEntry(
  text: string,
  path: readonly string[],
  block: string,
  source: string,
  anchors?: readonly (readonly string[])[],
): string {
  const headers = scan(text, source);
  const spans: Span[] = [];
  headers.forEach((h, k) => {
    if (!hasPrefix(h.path, path)) return;
    const next = headers[k + 1]?.start ?? text.length;
    const last = spans.at(-1);
    const end = sectionContentEnd(text, h, next);
    if (last !== undefined && last.end === h.start) last.end = end;
    else spans.push({ start: h.start, end });
  });
  if (spans.length > 0) {
    let out = text;
    for (let k = spans.length - 1; k >= 0; k--) {
      const s = spans[k];
      if (s === undefined) continue;
      let start = s.start;
      let insert = k === 0 ? block : '';
      if (insert === '' && start >= 2 && out.slice(start - 2, start) === '\n\n') start -= 1;
      if (insert !== '' && s.end === out.length && !out.endsWith('\n')) insert = insert.replace(/\n$/, '');
      out = out.slice(0, start) + insert + out.slice(s.end);
    }
    return out;
  }
  if (block === '') return text;
  const at = insertionPoint(text, headers, anchors ?? [path.slice(0, 4), path.slice(0, 2)]);
  const head = text.slice(0, at);
  const sep = head === '' ? '' : head.endsWith('\n') ? '\n' : '\n\n';
  return head + sep + block + text.slice(at);
}

/** After the last table of the runtimes map, else of the CRI plugin, else the end of the text. */
function insertionPoint(
  text: string,
  headers: readonly TableHeader[],
  anchors: readonly (readonly string[])[],
): number {
  for (const prefix of anchors) {
    for (let k = headers.length - 1; k >= 0; k--) {
      const h = headers[k];
      if (h !== undefined && hasPrefix(h.path, prefix))
        return sectionContentEnd(text, h, headers[k + 1]?.start ?? text.length);
    }
  }
  return text.length;
}

/** A plain table of scalar keys, e.g. `[proxy_plugins."tardev-<handler>"]`. */
export type ScalarTable = Readonly<Record<string, string | boolean>>;

function renderScalar(v: string | boolean): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Adds or replaces the table at `path` (with its keys only) losslessly; it goes after the last table
 * starting with `anchor`, else at the end. Verified like addRuntime: nothing else may change.
 */
export function putTable(
  text: string,
  path: readonly string[],
  values: ScalarTable,
  source: string,
  anchor: readonly string[] = path.slice(0, 1),
): string {
  const before = parseConfig(text, source);
  const expected = canonical(before) as Record<string, unknown>;
  setPath(expected, path, { ...values });
  if (isDeepStrictEqual(canonical(before), expected)) return text;
  const block = [
    `[${path.map(formatKey).join('.')}]`,
    ...Object.entries(values).map(([k, v]) => `  ${formatKey(k)} = ${renderScalar(v)}`),
    '',
  ].join('\n');
  const out = spliceEntry(text, path, block, source, [anchor]);
  verify(out, expected, source, `adding table ${path.join('.')}`);
  return out;
}

/** Removes the table at `path` (and parents it leaves empty, semantically); unchanged when absent. */
export function dropTable(text: string, path: readonly string[], source: string): string {
  const before = parseConfig(text, source);
  if (getPath(before, path) === undefined) return text;
  const out = spliceEntry(text, path, '', source);
  let after: unknown;
  try {
    after = canonical(parse(out));
  } catch (err) {
    throw new ContainerdConfigError(
      `${source}: removing ${path.join('.')} would leave invalid TOML; it is not in a form that can be edited losslessly`,
      { cause: err },
    );
  }
  if (
    !isDeepStrictEqual(withoutPath(after, path), withoutPath(canonical(before), path)) ||
    getPath(after, path) !== undefined
  ) {
    throw new ContainerdConfigError(
      `${source}: ${path.join('.')} is not defined as its own table; refusing to edit it`,
    );
  }
  return out;
}

/**
 * Sets scalar keys in the table at `path` (created after the last table under `anchor` when missing),
 * keeping every other byte; keys that already have the value are left alone. Verified.
 */
export function setTableKeys(
  text: string,
  path: readonly string[],
  values: ScalarTable,
  source: string,
  anchor: readonly string[],
): string {
  const before = parseConfig(text, source);
  const expected = canonical(before) as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) setPath(expected, [...path, k], v);
  if (isDeepStrictEqual(canonical(before), expected)) return text;
  const headers = scan(text, source);
  const k = headers.findIndex((h) => !h.arrayTable && h.path.length === path.length && hasPrefix(h.path, path));
  let out: string;
  if (k === -1) {
    const block = [
      `[${path.map(formatKey).join('.')}]`,
      ...Object.entries(values).map(([key, v]) => `  ${formatKey(key)} = ${renderScalar(v)}`),
      '',
    ].join('\n');
    out = spliceEntry(text, path, block, source, [anchor]);
  } else {
    const h = headers[k];
    if (h === undefined) return text;
    out = text;
    for (const [key, v] of Object.entries(values)) {
      if (getPath(before, [...path, key]) === v) continue;
      const end = scan(out, source)[k + 1]?.start ?? out.length;
      const body = out.slice(h.lineEnd, end);
      const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const m = new RegExp(`^([ \\t]*)(?:${esc}|"${esc}"|'${esc}')[ \\t]*=.*$`, 'm').exec(body);
      if (m !== null) {
        const at = h.lineEnd + m.index;
        out = `${out.slice(0, at)}${m[1] ?? ''}${formatKey(key)} = ${renderScalar(v)}${out.slice(at + m[0].length)}`;
      } else {
        const indent = /^([ \t]*)[A-Za-z0-9_"'-]/m.exec(body)?.[1] ?? '  ';
        const nl = h.lineEnd === out.length && !out.endsWith('\n') ? '\n' : '';
        out = `${out.slice(0, h.lineEnd)}${nl}${indent}${formatKey(key)} = ${renderScalar(v)}\n${out.slice(h.lineEnd)}`;
      }
    }
  }
  verify(out, expected, source, `setting ${Object.keys(values).join(', ')} in ${path.join('.')}`);
  return out;
}

/** Sets `level = "debug"` in the `[debug]` table, creating the line or table when missing. */
function setDebugLevel(text: string, source: string): string {
  const headers = scan(text, source);
  const k = headers.findIndex((h) => !h.arrayTable && h.path.length === 1 && h.path[0] === 'debug');
  if (k === -1) {
    const sep = text === '' ? '' : text.endsWith('\n') ? '\n' : '\n\n';
    return `${text}${sep}[debug]\n  level = "debug"\n`;
  }
  const h = headers[k];
  if (h === undefined) return text;
  const end = headers[k + 1]?.start ?? text.length;
  const body = text.slice(h.lineEnd, end);
  const re = /^([ \t]*)(?:level|"level"|'level')[ \t]*=.*$/m;
  const m = re.exec(body);
  if (m === null)
    return `${text.slice(0, h.lineEnd)}${h.lineEnd === text.length && !text.endsWith('\n') ? '\n' : ''}  level = "debug"\n${text.slice(h.lineEnd)}`;
  const lineStart = h.lineEnd + m.index;
  return `${text.slice(0, lineStart)}${m[1] ?? ''}level = "debug"${text.slice(lineStart + m[0].length)}`;
}

/** A comparable form of parsed TOML: plain objects, dates and special floats as tagged strings. */
export function canonical(v: unknown): unknown {
  if (v instanceof Date) return `date:${String(v)}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'number' && !Number.isFinite(v)) return `float:${String(v)}`;
  if (typeof v === 'bigint') return `int:${v.toString()}`;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) out[key] = canonical((v as Record<string, unknown>)[key]);
    return out;
  }
  return v;
}

export function getPath(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = root;
  path.slice(0, -1).forEach((seg) => {
    const next = cur[seg];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  });
  cur[path.at(-1) ?? ''] = value;
}

/** Deletes `path` and then every ancestor that became an empty table. */
function withoutPath(v: unknown, path: readonly string[]): unknown {
  const copy = canonical(v) as Record<string, unknown>;
  const chain: Record<string, unknown>[] = [copy];
  for (const seg of path.slice(0, -1)) {
    const next = chain.at(-1)?.[seg];
    if (next === null || typeof next !== 'object') return copy;
    chain.push(next as Record<string, unknown>);
  }
  for (let k = path.length - 1; k >= 0; k--) {
    const parent = chain[k];
    const seg = path[k];
    if (parent === undefined || seg === undefined) break;
    if (k < path.length - 1 && Object.keys(parent[seg] as object).length > 0) break;
    Reflect.deleteProperty(parent, seg);
  }
  return copy;
}

/** A line that holds only a Go template directive, e.g. `{{ template "base" . }}`. */
const DIRECTIVE_LINE = /^([ \t]*)(\{\{.*\}\}[ \t]*)$/gm;
const MASK = '#contrast-go-template:';
const MASKED_LINE = /^([ \t]*)#contrast-go-template:/gm;

/**
 * Edits a k3s/RKE2 template that contains Go directives. Directive lines are masked as TOML comments,
 * the usual verified edit runs on the masked text (comments do not change semantics, and every other
 * byte is kept), and the directives are unmasked again. The CRI plugin ID comes from the rendered
 * config's version, since the template's `version` usually lives in the base it includes.
 */
export function editTemplate(
  template: string,
  rendered: string,
  source: string,
  renderedSource: string,
  edit: (text: string, source: string, criId: string) => string,
): string {
  const criId = criPluginId(parseConfig(rendered, renderedSource), renderedSource);
  const masked = template.replace(
    DIRECTIVE_LINE,
    (_line, indent: string, directive: string) => `${indent}${MASK}${directive}`,
  );
  if (masked.split('\n').some((l) => !l.trimStart().startsWith(MASK) && l.includes('{{'))) {
    throw new ContainerdConfigError(
      `${source}: Go template directives are supported only on lines of their own (like {{ template "base" . }})`,
    );
  }
  const out = edit(masked, source, criId);
  return out === masked ? template : out.replace(MASKED_LINE, '$1');
}
