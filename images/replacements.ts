/**
 * The image-replacements file `contrast generate --image-replacements <file>` reads (upstream
 * `internal/kuberesource` ImageReplacementsFromFile): one `<image>=<replacement>` per line, `#`
 * comments and empty lines ignored. The keys are the image names upstream's generator writes into
 * pod specs (`ghcr.io/edgelesssys/contrast/<name>:latest`, `internal/kuberesource/parts.go`); the
 * values name our images by digest. A file given to the CLI REPLACES the release's built-in list,
 * so lines for images we do not build (the Coordinator, ...) must come from upstream's release list:
 * pass it as `upstream` and its other lines are kept.
 */
import { ConfigError } from '../lib/errors.js';
import type { TargetName } from './targets.js';

/** Upstream's image name in generated pod specs, per target we replace. */
export const UPSTREAM_IMAGES: Readonly<Partial<Record<TargetName, string>>> = {
  initializer: 'ghcr.io/edgelesssys/contrast/initializer:latest',
  meshproxy: 'ghcr.io/edgelesssys/contrast/service-mesh-proxy:latest',
  'port-forwarder': 'ghcr.io/edgelesssys/contrast/port-forwarder:latest',
};

export const REPLACEMENTS_FILE = 'image-replacements.txt';

/** Upstream's line syntax (the same expression as its parser). */
const LINE = /([^\s=]+)\s*=\s*(\S+)/;

/** A registry and path prefix such as `ghcr.io/acme/contrast-ts` or `127.0.0.1:5000/x`: lower case, no tag, no digest. */
export function validateRegistry(value: string): string {
  const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  const host =
    '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
  const re = new RegExp(`^${host}(?:/${component})*$`);
  if (!re.test(value) || value.length > 200) {
    throw new ConfigError([
      `--registry ${JSON.stringify(value)}: expected an image reference prefix such as ghcr.io/acme/contrast-ts (host[:port]/path, lower-case path, no tag or digest)`,
    ]);
  }
  return value;
}

/** Parses a replacements file as upstream does; a line that does not match is an error naming it. */
export function parseReplacements(text: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null)
      throw new ConfigError([`${source}: invalid image line ${JSON.stringify(line)}: expected <image>=<replacement>`]);
    out.set(m[1] ?? '', m[2] ?? '');
  }
  return out;
}

export interface BuiltReference {
  readonly target: TargetName;
  readonly digest: string;
}

/** The file's text: our images by digest, then upstream's lines for every other image. */
export function replacementsText(
  registry: string,
  version: string,
  built: readonly BuiltReference[],
  upstream?: { text: string; source: string },
): string {
  const ours = new Map<string, string>();
  for (const b of built) {
    const key = UPSTREAM_IMAGES[b.target];
    if (key !== undefined) ours.set(key, `${registry}/${b.target}:${version}@${b.digest}`);
  }
  const lines = [
    '# contrast generate --image-replacements: the TypeScript guest images by digest (npm run images).',
    ...[...ours].map(([k, v]) => `${k}=${v}`),
  ];
  if (upstream !== undefined) {
    lines.push(`# Upstream's images we do not replace, from ${upstream.source}:`);
    for (const [k, v] of parseReplacements(upstream.text, upstream.source)) if (!ours.has(k)) lines.push(`${k}=${v}`);
  } else {
    lines.push(
      "# No upstream list given (--upstream-replacements): add upstream's release lines for the other images (coordinator, ...).",
    );
  }
  return lines.join('\n') + '\n';
}
