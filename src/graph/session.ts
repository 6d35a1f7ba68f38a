// ONNX Runtime sessions over graphs built in memory; external weights are memory-mapped from the
// checkpoint folder (see ort-facts.md: the folder is given by a session config key).
// First: switches ONNX Runtime's telemetry off before its native library loads.
import './ort-env.js';
import * as ort from 'onnxruntime-node';
import type { Graph } from './builder.js';
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
}

export async function createSession(graph: Graph, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
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
  if (device === 'webgpu' && opts.gpuOutputs?.length) {
    so.preferredOutputLocation = Object.fromEntries(opts.gpuOutputs.map((n) => [n, 'gpu-buffer'] as const));
  }
  try {
    return guardRuns(await ort.InferenceSession.create(bytes, so), graph.externalFiles);
  } catch (e) {
    throw new Error(`ONNX Runtime could not create the ${graph.name} session on ${device}: ${(e as Error).message}`);
  }
}

export function f32Tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function i64Tensor(data: ArrayLike<number> | BigInt64Array, dims: number[]): ort.Tensor {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (x) => BigInt(x)));
  return new ort.Tensor('int64', arr, dims);
}
