/**
 * The install receipt: what an install put on the node, kept on the node so that uninstall removes
 * exactly that. One JSON file per handler, `/opt/edgeless/.receipts/<handler>.json` (host path):
 *
 *   { "format": 1, "handler": "...", "platform": "Metal-QEMU-SNP",
 *     "files": ["/opt/edgeless/<handler>/bin/...", ...],        every file placed (artifacts, Kata config, ...)
 *     "directories": ["/opt/edgeless", ...],                    directories install created
 *     "configEdits": [ { "kind": "containerd-runtime", "path": "/etc/containerd/config.toml", ... } ] }
 *
 * Paths are host paths (without HOST_MOUNT). A re-run merges into the existing receipt, so it always
 * lists everything every run of this handler placed. The receipt is written before anything it lists
 * is placed, so after a crash it lists a superset of what is there; uninstall tolerates missing files.
 *
 * `configEdits` is open for more kinds: each entry has a `kind` and the host `path` of the file it
 * edited, plus fields of its own; uninstall undoes each through the handler registered for its kind
 * and refuses a receipt with a kind it does not know, before changing anything.
 */
import type { HostRoot } from './host-root.js';
import { ReceiptError } from './errors.js';
import type { Snapshotter } from '../lib/node-install/manifest.js';
import { errorMessage } from '../lib/errors.js';

export const RECEIPT_FORMAT = 1;
/** Host directory of the receipts. */
export const RECEIPT_DIR = '/opt/edgeless/.receipts';
/** Our top directory on the host; removed by uninstall once empty. */
export const EDGELESS_DIR = '/opt/edgeless';

/** One edit of a config file, undone by the handler registered for `kind`. */
export interface ConfigEdit {
  readonly kind: string;
  /** Host path of the edited file. */
  readonly path: string;
  readonly [field: string]: unknown;
}

/** Our runtime table in containerd's config (or in the k3s/RKE2 template). */
export interface ContainerdRuntimeEdit extends ConfigEdit {
  readonly kind: 'containerd-runtime';
  readonly handler: string;
  /** Install created the file (k3s/RKE2 template mode): uninstall deletes it when it holds nothing else of anyone's. */
  readonly templateCreated: boolean;
  /** sha256 (hex) of the template's bytes when install created it, before our entry went in. */
  readonly templateBaseSha256?: string;
  /** Host path of the backup `<config>.<unix>.bak` install wrote before its first change. */
  readonly backup?: string;
  /** The proxy snapshotter (seed generation) wired in with the runtime: its plugin entry leaves with ours. */
  readonly snapshotter?: Snapshotter;
}

export interface Receipt {
  readonly format: typeof RECEIPT_FORMAT;
  readonly handler: string;
  readonly platform: string;
  readonly files: readonly string[];
  readonly directories: readonly string[];
  readonly configEdits: readonly ConfigEdit[];
}

export function receiptPath(handler: string): string {
  return `${RECEIPT_DIR}/${handler}.json`;
}

/** Union of an earlier receipt and this run's: files, directories, and edits by (kind, path). */
export function mergeReceipts(prev: Receipt | undefined, next: Receipt): Receipt {
  if (prev === undefined) return normalize(next);
  const edits = new Map<string, ConfigEdit>();
  for (const e of prev.configEdits) edits.set(`${e.kind}\0${e.path}`, e);
  for (const e of next.configEdits) {
    const key = `${e.kind}\0${e.path}`;
    const old = edits.get(key);
    // What the first install found (template created, base digest, backup) stays the truth.
    edits.set(
      key,
      old === undefined
        ? e
        : { ...e, ...Object.fromEntries(Object.entries(old).filter(([, v]) => v !== undefined && v !== false)) },
    );
  }
  return normalize({
    ...next,
    files: [...prev.files, ...next.files],
    directories: [...prev.directories, ...next.directories],
    configEdits: [...edits.values()],
  });
}

function normalize(r: Receipt): Receipt {
  return {
    format: RECEIPT_FORMAT,
    handler: r.handler,
    platform: r.platform,
    files: [...new Set(r.files)].sort(),
    directories: [...new Set(r.directories)].sort(),
    configEdits: [...r.configEdits].sort((a, b) => `${a.kind}\0${a.path}`.localeCompare(`${b.kind}\0${b.path}`)),
  };
}

export function serializeReceipt(r: Receipt): string {
  return `${JSON.stringify(normalize(r), null, 2)}\n`;
}

/** Parses and validates a receipt's bytes; `source` names the file in errors. */
export function parseReceipt(text: string, source: string, handler?: string): Receipt {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ReceiptError(`install receipt ${source}: expected JSON (${errorMessage(err)})`, { cause: err });
  }
  const bad = (what: string) => new ReceiptError(`install receipt ${source}: ${what}`);
  if (typeof v !== 'object' || v === null) throw bad('expected an object');
  const o = v as Record<string, unknown>;
  if (o['format'] !== RECEIPT_FORMAT) throw bad(`format=${JSON.stringify(o['format'])}: expected ${RECEIPT_FORMAT}`);
  if (typeof o['handler'] !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o['handler']))
    throw bad(`handler=${JSON.stringify(o['handler'])}: expected a runtime handler name`);
  if (handler !== undefined && o['handler'] !== handler)
    throw bad(`handler=${o['handler']}: expected ${handler} (the file name)`);
  if (typeof o['platform'] !== 'string') throw bad('platform: expected a string');
  const paths = (key: string): string[] => {
    const list = o[key];
    if (!Array.isArray(list)) throw bad(`${key}: expected an array of host paths`);
    for (const p of list) {
      if (typeof p !== 'string' || !p.startsWith('/') || p.split('/').includes('..'))
        throw bad(`${key}: ${JSON.stringify(p)}: expected an absolute host path without '..'`);
    }
    return list as string[];
  };
  const edits = o['configEdits'];
  if (!Array.isArray(edits)) throw bad('configEdits: expected an array');
  for (const e of edits) {
    const ok =
      typeof e === 'object' &&
      e !== null &&
      typeof (e as ConfigEdit).kind === 'string' &&
      typeof (e as ConfigEdit).path === 'string' &&
      (e as ConfigEdit).path.startsWith('/') &&
      !(e as ConfigEdit).path.split('/').includes('..');
    if (!ok) throw bad(`configEdits: ${JSON.stringify(e)}: expected { kind, path (absolute host path), ... }`);
  }
  return {
    format: RECEIPT_FORMAT,
    handler: o['handler'],
    platform: o['platform'],
    files: paths('files'),
    directories: paths('directories'),
    configEdits: edits as ConfigEdit[],
  };
}

/** Reads the receipt of `handler`; undefined when there is none. */
export async function readReceipt(host: HostRoot, handler: string): Promise<Receipt | undefined> {
  const path = host.onHost(receiptPath(handler));
  const bytes = await host.readFile(path, { maxBytes: 4 << 20 });
  return bytes === undefined ? undefined : parseReceipt(bytes.toString('utf8'), path, handler);
}

/** Every receipt on the node. */
export async function listReceipts(host: HostRoot): Promise<Receipt[]> {
  const names = (await host.readdir(host.onHost(RECEIPT_DIR)))
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .sort();
  const out: Receipt[] = [];
  for (const n of names) {
    const r = await readReceipt(host, n.slice(0, -'.json'.length));
    if (r !== undefined) out.push(r);
  }
  return out;
}
