/**
 * WebGPU adapters, described without touching files or Dawn: shared by the feature kernels'
 * runtime (runtime.ts) and the refiner's tfjs webgpu backend (src/refine/backend.ts).
 */
import type {} from 'webgpu';

/** The reason given when Dawn offers no adapter. */
export const NO_ADAPTER = 'no WebGPU adapter (is a Vulkan driver installed?)';

/** Names of software (CPU) WebGPU implementations as adapters report them. */
export const SOFTWARE_ADAPTER_NAMES = /llvmpipe|lavapipe|swiftshader/i;

/**
 * What an adapter is, from its info: vendor / architecture / device / driver text, and whether it
 * is a software (CPU) implementation. Shared by the feature kernels and the refiner's tfjs webgpu
 * backend (src/refine/backend.ts), which both skip a software adapter when choosing automatically.
 */
export function describeAdapter(adapter: GPUAdapter): { description: string; software: boolean } {
  const info = adapter.info;
  // Dawn marks CPU implementations as fallback adapters; older builds only say so in the type.
  const flagged = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software = flagged || info.architecture === 'software' || SOFTWARE_ADAPTER_NAMES.test(`${info.device} ${info.description}`);
  const description = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0).join(' / ');
  return { description: description || 'unknown adapter', software };
}

/** Why a Linux machine without GPU device nodes is not asked: its only adapters are software ones. */
export const NO_GPU_DEVICE = 'no GPU device (/dev/nvidia*, /dev/dri/renderD*, /dev/dxg): WebGPU would only have a software adapter';
