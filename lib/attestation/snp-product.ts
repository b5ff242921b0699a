/** SEV-SNP product (Milan, Genoa, Turin) from the report's CPUID bytes (v3+) or /proc/cpuinfo. */

export type SnpProduct = 'Milan' | 'Genoa' | 'Turin' | 'Unknown';

/** `sevsnp.SevProduct.SevProductName` enum values. */
export const SEV_PRODUCT_ENUM: Readonly<Record<SnpProduct, number>> = Object.freeze({
  Unknown: 0,
  Milan: 1,
  Genoa: 2,
  Turin: 3,
});

/** Family 0x19 models 0x0X Milan, 0x1X/0xAX Genoa; family 0x1A models 0x0X/0x1X Turin. */
export function productFromFamilyModel(family: number, model: number): SnpProduct {
  const hi = model >> 4;
  if (family === 0x19 && hi === 0x0) return 'Milan';
  if (family === 0x19 && (hi === 0x1 || hi === 0xa)) return 'Genoa';
  if (family === 0x1a && (hi === 0x0 || hi === 0x1)) return 'Turin';
  return 'Unknown';
}

/** Reads `cpu family` and `model` (decimal) of the first processor in /proc/cpuinfo text. */
export function productFromCpuinfo(text: string): SnpProduct {
  const family = /^cpu family\s*:\s*(\d+)\s*$/m.exec(text)?.[1];
  const model = /^model\s*:\s*(\d+)\s*$/m.exec(text)?.[1];
  if (family === undefined || model === undefined) return 'Unknown';
  return productFromFamilyModel(Number(family), Number(model));
}

/** Product of a parsed report when it carries CPUID bytes (v3+), else from cpuinfo text. */
export function snpProduct(
  report: { version: number; cpuidFamily: number; cpuidModel: number },
  cpuinfo: () => string,
): SnpProduct {
  if (report.version >= 3 && report.cpuidFamily !== 0)
    return productFromFamilyModel(report.cpuidFamily, report.cpuidModel);
  return productFromCpuinfo(cpuinfo());
}
