// ONNX Runtime sessions over graphs built in memory; external weights are memory-mapped from the
// checkpoint folder (see ort-facts.md: the folder is given by a session config key).
// First: switches ONNX Runtime's telemetry off before its native library loads.
import './ort-env.js';
import * as ort from 'onnxruntime-node';
import { Graph } from './builder.js';
import { currentProgress, tracked } from '../generate/progress.js';
import { guardRuns } from './weights-guard.js';
import type { Device } from '../api.js';

export { ort };

export interface SessionOptions {
  device?: Device;
  /** Output names to keep on the GPU (webgpu only), e.g. present key/values. */
  gpuOutputs?: string[];
  /** Debug: write the model protobuf to this path. */
  dumpPath?: string;
  /** Disable weight pre-packing (keeps fp32 weights mmapped; see ort-facts.md). */
  disablePrepacking?: boolean;
  intraOpThreads?: number;
  /** Write an ORT profile (JSON, per-node times) to `<profile>_<date>.json` once `endProfiling()` is called. */
  profile?: string;
}

export async function createSession(graph: Graph, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  await graph.prepare();
  const bytes = graph.toBytes();
  if (opts.dumpPath) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(opts.dumpPath, bytes);
  }
  const device = opts.device ?? 'cpu';
  // 'extra.session.X' becomes the session config key 'session.X'.
  const session: Record<string, string> = {};
  if (graph.externalFolder) session['model_external_initializers_file_folder_path'] = graph.externalFolder;
  if (opts.disablePrepacking) session['disable_prepacking'] = '1';
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: device === 'webgpu' ? ['webgpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    extra: { session },
  };
  if (opts.intraOpThreads) so.intraOpNumThreads = opts.intraOpThreads;
  if (opts.profile) Object.assign(so, { enableProfiling: true, profileFilePrefix: opts.profile });
  if (device === 'webgpu' && opts.gpuOutputs?.length) {
    so.preferredOutputLocation = Object.fromEntries(opts.gpuOutputs.map((n) => [n, 'gpu-buffer'] as const));
  }
  try {
    const mb = graph.externalBytes ? ` (${(graph.externalBytes / 2 ** 20).toFixed(graph.externalBytes < 10 * 2 ** 20 ? 1 : 0)} MiB of weights)` : '';
    const session = await tracked(currentProgress(), { stage: 'session', total: 1, message: `creating ${graph.name}${mb}` }, () => ort.InferenceSession.create(bytes, so));
    return guardRuns(session, graph.externalFiles);
  } catch (e) {
    const msg = (e as Error).message;
    if (device === 'webgpu' && NO_ADAPTER.test(msg)) throw new Error(NO_ADAPTER_TEXT);
    throw new Error(`ONNX Runtime could not create the ${graph.name} session on ${device}: ${msg}`);
  }
}

const NO_ADAPTER = /Failed to get a WebGPU adapter|No supported adapters/i;
const NO_ADAPTER_TEXT = 'WebGPU has no adapter on this machine (no GPU driver Dawn can use: Vulkan, Metal or D3D12); run with --device cpu, or --device auto to fall back to it';

/** Whether a WebGPU session can be created here (a one-node graph), so `auto` picks a device up front. */
export async function webgpuAvailable(): Promise<boolean> {
  const g = new Graph('webgpu_probe');
  g.output(g.op('Identity', [g.input('x', 'float32', [1])]), 'y');
  try {
    await (await createSession(g, { device: 'webgpu' })).release();
    return true;
  } catch {
    return false;
  }
}

/** 'auto' → WebGPU when it has an adapter, else CPU. */
export async function resolveDevice(d: Device | 'auto'): Promise<Device> {
  return d === 'auto' ? ((await webgpuAvailable()) ? 'webgpu' : 'cpu') : d;
}

export function f32Tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function i64Tensor(data: ArrayLike<number> | BigInt64Array, dims: number[]): ort.Tensor {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (x) => BigInt(x)));
  return new ort.Tensor('int64', arr, dims);
}
