import type { Logger } from '../lib/log.js';
import type { MeshConfig } from './config.js';

export interface MeshproxyDeps {
  readonly log: Logger;
  readonly version: string;
  readonly ignoredArgs: readonly string[];
}

export function runMeshproxy(_config: MeshConfig, _deps: MeshproxyDeps): Promise<number> {
  return Promise.reject(new Error('not implemented'));
}
