// Tensors as JSON for the runtime tests: {dtype, dims, b64}, the raw little-endian bytes in
// base64. Exact for every dtype (NaN, ±Inf, -0.0, int64 beyond 2**53), unlike JSON numbers.
// Shared by run_node.mjs (Node) and runner.html (browser): both have atob/btoa.

const TYPED = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

function bytesToBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(b64) {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

export function decodeTensor(ort, { dtype, dims, b64 }) {
  const Typed = TYPED[dtype];
  if (!Typed) throw new Error(`unsupported input dtype ${dtype}`);
  const bytes = base64ToBytes(b64);
  const data = new Typed(bytes.buffer, 0, bytes.length / Typed.BYTES_PER_ELEMENT);
  return new ort.Tensor(dtype, dtype === 'bool' ? new Uint8Array(data) : data, dims);
}

export function encodeTensor(tensor) {
  const data = tensor.data;
  if (!ArrayBuffer.isView(data)) throw new Error(`output of type ${tensor.type} is not numeric`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { dtype: tensor.type, dims: Array.from(tensor.dims), b64: bytesToBase64(bytes) };
}

// Run each case {id, model, inputs: {name: tensor}} with `loadSession(case)`; a failure
// (model rejected, missing kernel) is recorded as that case's `error`, not thrown.
export async function runCases(ort, cases, loadSession) {
  const results = [];
  for (const c of cases) {
    const started = Date.now();
    try {
      const session = await loadSession(c);
      const feeds = {};
      for (const [name, t] of Object.entries(c.inputs)) feeds[name] = decodeTensor(ort, t);
      const out = await session.run(feeds);
      const outputs = {};
      for (const name of session.outputNames) outputs[name] = encodeTensor(out[name]);
      await session.release?.();
      results.push({ id: c.id, outputs, ms: Date.now() - started });
    } catch (err) {
      results.push({
        id: c.id,
        error: String(err && err.message ? err.message : err),
        ms: Date.now() - started,
      });
    }
  }
  return results;
}
