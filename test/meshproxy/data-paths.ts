/**
 * Tests that move bytes through the proxy run once per data path (CONTRAST_MESHPROXY_DATA_PATH): a
 * loop over DATA_PATHS around the test definitions, each title marked with onPath(). Kept apart from
 * harness.ts, which needs network namespaces: unit tests (resume, tls-groups) loop over the paths too.
 */
import type { DataPath } from '../../meshproxy/config.js';

export { DATA_PATHS } from '../../meshproxy/config.js';

/** A test's title on `dataPath`: as it is for node, ` [native]` appended for native. */
export function onPath(title: string, dataPath: DataPath): string {
  return dataPath === 'node' ? title : `${title} [${dataPath}]`;
}
