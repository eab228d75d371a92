/** bfloat16 conversions (placeholder until the kernels branch lands: TypeScript loops). */
export function roundToBf16(src: Float32Array, dst: Uint16Array, n: number): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const u = bits[i];
    if ((u & 0x7fffffff) > 0x7f800000) dst[i] = (u >>> 16) | 0x40;
    else dst[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
}
export function bf16ToFloat32(src: Uint16Array, dst: Float32Array, n: number): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
  for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
}
export function bf16Value(x: number): number {
  const f = new Float32Array([x]), h = new Uint16Array(1), out = new Float32Array(1);
  roundToBf16(f, h, 1);
  bf16ToFloat32(h, out, 1);
  return out[0];
}
