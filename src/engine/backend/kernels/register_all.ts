/**
 * The wasm backend's added kernels, registered from this one list. Each kernel lives in its own
 * file named after the kernel and exports a `KernelConfig`; the gradients used on wasm live in
 * `<Kernel>_grad.ts` files. Shared helpers: kernel_utils.ts (kernels built from tfjs ops),
 * wasm_heap.ts (loops on the wasm heap), conv_util.ts (convolution index arithmetic).
 */
import { tf } from '../../tf';
import { avgPoolGradConfig } from './AvgPoolGrad';
import { batchMatMulConfig } from './BatchMatMul';
import { castConfig } from './Cast';
import { installClipByValueGrad } from './ClipByValue_grad';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput';
import { conv3DConfig } from './Conv3D';
import { conv3DBackpropFilterV2Config } from './Conv3DBackpropFilterV2';
import { conv3DBackpropInputV2Config } from './Conv3DBackpropInputV2';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput';
import { fusedBatchNormConfig } from './FusedBatchNorm';
import { installFusedBatchNormGrad } from './FusedBatchNorm_grad';
import { identityConfig } from './Identity';
import { maxPoolGradConfig } from './MaxPoolGrad';
import { maxPool3DConfig } from './MaxPool3D';
import { maxPool3DGradConfig } from './MaxPool3DGrad';
import { meanConfig } from './Mean';
import { installRelu6Grad } from './Relu6_grad';
import { sliceConfig } from './Slice';
import { splitVConfig } from './SplitV';
import { sumConfig } from './Sum';
import { tileConfig } from './Tile';
import { unsortedSegmentSumConfig } from './UnsortedSegmentSum';
import { fusedMatMulConfig } from './_FusedMatMul';

const kernels: tf.KernelConfig[] = [
  avgPoolGradConfig,
  batchMatMulConfig,
  castConfig,
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  conv3DConfig,
  conv3DBackpropFilterV2Config,
  conv3DBackpropInputV2Config,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  fusedBatchNormConfig,
  fusedMatMulConfig,
  identityConfig,
  maxPoolGradConfig,
  maxPool3DConfig,
  maxPool3DGradConfig,
  meanConfig,
  sliceConfig,
  splitVConfig,
  sumConfig,
  tileConfig,
  unsortedSegmentSumConfig,
];

let registered = false;

/**
 * Registers every added wasm kernel once (replacing a slow built-in one where there is one),
 * and the gradients used on wasm.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of kernels) {
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel(k);
  }
  installFusedBatchNormGrad();
  installClipByValueGrad();
  installRelu6Grad();
}
