/**
 * The CPU features that decide which kernels onnxruntime (MLAS) picks on x86: figures and fp32 results from
 * machines with different ones are not comparable in their last bits or their speed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** The flags that matter to onnxruntime's kernel choice, in the order they are printed. */
export const KERNEL_FLAGS = [
  'avx2',
  'fma',
  'avx512f',
  'avx512_vnni',
  'avx512_bf16',
  'amx_tile',
  'amx_bf16',
  'amx_int8',
] as const;

/** Which of KERNEL_FLAGS this machine's CPU has (from /proc/cpuinfo; empty where that cannot be read). */
export function cpuKernelFlags(cpuinfo = readCpuinfo()): string[] {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  if (!line) return [];
  const have = new Set(
    line
      .slice(line.indexOf(':') + 1)
      .trim()
      .split(/\s+/),
  );
  return KERNEL_FLAGS.filter((f) => have.has(f));
}

function readCpuinfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/** The machine a figure was measured on, for a benchmark's JSON and its last line. */
export function machineInfo(): { cpus: number; cpu_model: string; cpu_flags: string[] } {
  return { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', cpu_flags: cpuKernelFlags() };
}
