/**
 * The seed generation's snapshotters (Contrast v1.2: tardev on AKS-CLH-SNP, nydus on bare metal).
 * When the install manifest names one, the runtime uses a proxy snapshotter served by a sidecar of the
 * runtime DaemonSet on a per-handler socket:
 *
 *   runtime entry   snapshotter = "<kind>-<handler>"
 *   [proxy_plugins."<kind>-<handler>"]  type = "snapshot", address = <socket>
 *   nydus only      discard_unpacked_layers = false, disable_snapshot_annotations = false
 *                   (CRI images settings: `plugins."io.containerd.grpc.v1.cri".containerd` for
 *                   config version 2, `plugins."io.containerd.cri.v1.images"` for 3 and 4)
 *
 * The proxy plugin is its own edit step (addSnapshotterConfig / removeSnapshotterConfig), separate
 * from the runtime entry, so that it can be recorded and reversed on its own. The two nydus image
 * settings are shared by every runtime and stay on uninstall (like `debug.level`).
 * The newest generation has no snapshotter: Kata pulls images in the guest.
 */
import type { SnapshotterSetup } from '../lib/node-install/snapshotter.js';
import { CRI_V2, criPluginId, dropTable, parseConfig, putTable, setTableKeys } from './containerd-edit.js';

/** The CRI images table for the config's version. */
function imagesTable(criId: string): string[] {
  return criId === CRI_V2 ? ['plugins', CRI_V2, 'containerd'] : ['plugins', 'io.containerd.cri.v1.images'];
}

/** Adds the proxy plugin (and nydus's image settings); `criId` overrides the text's own version. */
export function addSnapshotterConfig(text: string, setup: SnapshotterSetup, source: string, criId?: string): string {
  let out = putTable(text, ['proxy_plugins', setup.pluginName], { type: 'snapshot', address: setup.address }, source);
  if (setup.kind === 'nydus') {
    const id = criId ?? criPluginId(parseConfig(out, source), source);
    const table = imagesTable(id);
    out = setTableKeys(
      out,
      table,
      { discard_unpacked_layers: false, disable_snapshot_annotations: false },
      source,
      table.slice(0, 2),
    );
  }
  return out;
}

/** Removes the proxy plugin; unchanged when it is not there. */
export function removeSnapshotterConfig(text: string, setup: SnapshotterSetup, source: string): string {
  return dropTable(text, ['proxy_plugins', setup.pluginName], source);
}
