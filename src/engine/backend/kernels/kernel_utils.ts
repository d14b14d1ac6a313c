/**
 * Shared helpers for the added wasm kernels.
 *
 * A kernel function receives `TensorInfo`s (backend data ids, not tensors). To build a kernel
 * out of ordinary tfjs ops, the inputs are wrapped as tensors through the engine (their backend
 * reference count raised, so disposing the wrapper leaves the caller's data alone), the ops run
 * inside a tidy, and the result is handed back as a `TensorInfo` that owns one reference.
 * Ops called from inside a kernel are never recorded on the gradient tape.
 */
import { tf } from '../../tf';

type Tensor = tf.Tensor;
type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

/** Wraps a kernel input as a tensor that can be disposed without freeing the input's data. */
export function asTensor(info: TensorInfo, backend: Backend): Tensor {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Turns a tensor into a kernel output: its data survives the tensor's disposal. */
export function toOutput(t: Tensor, backend: Backend): TensorInfo {
  backend.incRef(t.dataId);
  const info: TensorInfo = { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype };
  t.dispose();
  return info;
}

/**
 * Runs `fn` on the inputs wrapped as tensors and returns its result as a kernel output.
 * Every intermediate is released before returning.
 */
export function runOps<T extends Tensor>(backend: Backend, inputs: TensorInfo[], fn: (...ts: Tensor[]) => T): TensorInfo {
  const out = tf.tidy(() => fn(...inputs.map((i) => asTensor(i, backend))));
  return toOutput(out, backend);
}

/** Slices or zero-pads axes 1 and 2 of a 4-D tensor: `before`/`after` < 0 crop, > 0 pad. */
export function padOrCrop4d(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let r = t;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = r.shape;
    const t0 = Math.max(0, -top);
    const l0 = Math.max(0, -left);
    const hh = h - t0 - Math.max(0, -bottom);
    const ww = w - l0 - Math.max(0, -right);
    r = tf.slice(r, [0, t0, l0, 0], [n, hh, ww, c]);
  }
  const pt = Math.max(0, top);
  const pb = Math.max(0, bottom);
  const pl = Math.max(0, left);
  const pr = Math.max(0, right);
  if (pt || pb || pl || pr) {
    r = tf.pad(r, [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ]);
  }
  return r;
}

/** Explicit conv padding for the non-negative parts; returns the tensor with negative parts cropped. */
export function cropNegative(
  t: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): { x: tf.Tensor4D; pad: [[number, number], [number, number], [number, number], [number, number]] } {
  const x = padOrCrop4d(t, Math.min(0, top), Math.min(0, bottom), Math.min(0, left), Math.min(0, right));
  return {
    x,
    pad: [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ],
  };
}

/** `x` is NCHW: returns NHWC. */
export function nchwToNhwc<T extends tf.Tensor4D>(x: T): T {
  return tf.transpose(x, [0, 2, 3, 1]) as T;
}

/** `x` is NHWC: returns NCHW. */
export function nhwcToNchw<T extends tf.Tensor4D>(x: T): T {
  return tf.transpose(x, [0, 3, 1, 2]) as T;
}

/** A required kernel input. */
export function input(inputs: tf.NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`missing kernel input '${name}'`);
  return t;
}

type GradMap = Record<string, () => tf.Tensor>;
type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => GradMap;

/**
 * A gradient used when the active backend is wasm; other backends keep the stock gradient
 * (registered before `install()`). `fast` may return null to defer to the stock one.
 */
export function wasmGradient(
  kernelName: string,
  inputsToSave: string[],
  fast: (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => GradMap | null,
): { config: tf.GradConfig; install: () => void } {
  let stock: tf.GradConfig | undefined;
  const gradFunc: GradFunc = (dy, saved, attrs) => {
    if (tf.getBackend() === 'wasm') {
      const r = fast(Array.isArray(dy) ? dy[0] : dy, saved, attrs);
      if (r != null) return r;
    }
    if (stock == null) throw new Error(`${kernelName}: the stock gradient is not registered`);
    return stock.gradFunc(dy, saved, attrs) as GradMap;
  };
  const config: tf.GradConfig = { kernelName, inputsToSave, gradFunc };
  return {
    config,
    install: () => {
      const current = tf.getGradient(kernelName);
      if (current === config) return;
      stock = current;
      tf.registerGradient(config);
    },
  };
}
