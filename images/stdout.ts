/**
 * The image tools' report lines go to stdout; the work (bundles, images, manifests) is the point.
 * When the reader goes away (`npm run bundle | head -1`), the rest of the report is dropped instead
 * of crashing the tool with an unhandled EPIPE halfway through its work.
 */
export function tolerateClosedStdout(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    throw err;
  });
}
