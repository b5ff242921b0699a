/** The production TeeAccess: lib/native/tee.ts (the addon loads on the first ioctl, not on import). */
import { parseSnpCertTable, snpGetExtReport, snpGetReport } from '../native/tee.js';
import type { TeeAccess } from './devices.js';

export function nativeTeeAccess(): TeeAccess {
  return {
    snpGetExtReport: (device, reportData, vmpl) => snpGetExtReport(device, reportData, vmpl),
    snpGetReport: (device, reportData, vmpl) => snpGetReport(device, reportData, vmpl),
    parseSnpCertTable: (buf) => parseSnpCertTable(buf),
  };
}
