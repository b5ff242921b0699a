/**
 * The node label a runtime installer sets once its handler is in place, and the generated RuntimeClass
 * selects on (`scheduling.nodeSelector`).
 */

/** Prefix of the per-handler node label; the name part is the handler (a DNS label, at most 63). */
export const NODE_LABEL_PREFIX = 'runtime.contrast.edgeless.systems/';
export const NODE_LABEL_VALUE = 'true';

export function nodeLabelKey(handler: string): string {
  return `${NODE_LABEL_PREFIX}${handler}`;
}
