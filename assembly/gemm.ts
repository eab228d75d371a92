// C = alpha · op(A) · op(B) + beta · C in WebAssembly SIMD, for the pure-TypeScript backend (cblas_sgemm's
// contract, row-major; see src/kernels/backend.ts). The structure is GotoBLAS's:
//
//   for each block of NC columns of C
//     for each block of KC steps of the sum          pack op(B)[kc × nc] into panels of NR columns
//       for each block of MC rows of C               pack op(A)[mc × kc] into panels of MR rows
//         for each NR-column panel, each MR-row panel: the micro-kernel, an MR×NR tile of C held in
//                                                      registers for the whole kc-long sum
//
// Packing copies each panel into the order the micro-kernel reads it (k-major, MR or NR values per k),
// so the four transpose cases differ only in how the panels are filled, and edges are padded with zeros.
// The micro-kernel's tile is 4 × 8: eight f32x4 accumulators, two vectors of B and four broadcasts of A
// per k, 11 of the 16 vector registers of x86-64. Plain WebAssembly SIMD has no fused multiply-add (a mul
// and an add); the relaxed-SIMD build (ASC_FEATURE_RELAXED_SIMD, --enable relaxed-simd) uses
// f32x4.relaxed_madd, which the engine runs as one FMA where the CPU has it (or as a mul and an add: the
// engine's choice, the same for every call in a process).
//
// The blocking depends only on K, so the order of every sum, and the result, is the same run after run;
// each element of C is one lane's sum over its own row of A and column of B, the same instructions
// wherever the element lies in its tile, so any piece of C computed alone (gemm on a block of its rows or
// columns) has the bits it has in the whole product: two threads can each compute a block.

const MR = 4;
const NR = 8;
const KC = 256; //  a 4×256 panel of A (4 KB) and an 8×256 panel of B (8 KB) stay in L1 during a tile
const MC = 128; //  the packed A block, 128 KB, stays in L2 across the panels of B
const NC = 2048; // the packed B block, at most 2 MB

// The packing buffers and the edge tile live in a workspace the caller passes (gemmWorkBytes bytes, 16-byte
// aligned): each thread calling gemm on a shared memory has its own. Its layout, in bytes from its start:
const PACKED_A: usize = 0;
const PACKED_B: usize = <usize>(MC * KC * 4);
const EDGE_TILE: usize = PACKED_B + <usize>(KC * NC * 4);
const WORK_BYTES: usize = EDGE_TILE + <usize>(MR * NR * 4);

let packedA: usize = 0;
let packedB: usize = 0;
let edgeTile: usize = 0;

/** Bytes of the workspace a gemm call needs. */
export function gemmWorkBytes(): usize {
  return WORK_BYTES;
}

/**
 * Pointers are byte offsets into this module's memory; transA/transB are 0 or 1; lda/ldb/ldc are row
 * strides in floats; work is this thread's workspace (gemmWorkBytes). beta = 0 overwrites C without
 * reading it (NaN there does not propagate).
 */
export function gemm(
  transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32,
  B: usize, ldb: i32, beta: f32, C: usize, ldc: i32, work: usize,
): void {
  if (M <= 0 || N <= 0) return;
  packedA = work + PACKED_A; packedB = work + PACKED_B; edgeTile = work + EDGE_TILE;
  if (alpha == 0 || K <= 0) { // C = beta · C; A and B are not read (reference BLAS does the same)
    scaleC(M, N, beta, C, ldc);
    return;
  }
  if (beta != 0 && beta != 1) scaleC(M, N, beta, C, ldc);
  // K in equal blocks of at most KC (K = 300 becomes 150 + 150, not 256 + 44)
  const kBlocks = (K + KC - 1) / KC;
  const kcEven = (K + kBlocks - 1) / kBlocks;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += kcEven) {
      const kc = min(kcEven, K - pc);
      packB(transB, B, ldb, pc, kc, jc, nc);
      const overwrite = beta == 0 && pc == 0; // the first block of the sum replaces C
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(transA, A, lda, ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const panelB = packedB + <usize>(jr * kc) * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const tile = C + (<usize>(ic + ir) * <usize>ldc + <usize>(jc + jr)) * 4;
            microKernel(kc, packedA + <usize>(ir * kc) * 4, panelB, tile, ldc, alpha, overwrite, mr, nr);
          }
        }
      }
    }
  }
}

function scaleC(M: i32, N: i32, beta: f32, C: usize, ldc: i32): void {
  if (beta == 1) return;
  for (let i = 0; i < M; i++) {
    const row = C + <usize>i * <usize>ldc * 4;
    if (beta == 0) memory.fill(row, 0, <usize>N * 4);
    else for (let j = 0; j < N; j++) store<f32>(row + <usize>j * 4, beta * load<f32>(row + <usize>j * 4));
  }
}

// op(B)[pc..pc+kc) × [jc..jc+nc) → panels of NR columns; panel p holds (k, c) at [p·kc·NR + k·NR + c].
function packB(transB: i32, B: usize, ldb: i32, pc: i32, kc: i32, jc: i32, nc: i32): void {
  const stride = <usize>ldb * 4;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    let dst = packedB + <usize>(jr * kc) * 4;
    if (!transB) { // op(B)(k, j) = B[k·ldb + j]: a panel row is 8 consecutive floats
      let src = B + (<usize>pc * stride) + <usize>(jc + jr) * 4;
      if (nr == NR) {
        for (let k = 0; k < kc; k++, src += stride, dst += NR * 4) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
        }
      } else {
        for (let k = 0; k < kc; k++, src += stride, dst += NR * 4) {
          for (let c = 0; c < NR; c++) store<f32>(dst + <usize>c * 4, c < nr ? load<f32>(src + <usize>c * 4) : 0);
        }
      }
    } else { // op(B)(k, j) = B[j·ldb + k]: column c of the panel is a run of row jc+jr+c
      for (let c = 0; c < NR; c++) {
        const d = dst + <usize>c * 4;
        if (c < nr) {
          const src = B + <usize>(jc + jr + c) * stride + <usize>pc * 4;
          for (let k = 0; k < kc; k++) store<f32>(d + <usize>(k * NR) * 4, load<f32>(src + <usize>k * 4));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(d + <usize>(k * NR) * 4, 0);
        }
      }
    }
  }
}

// op(A)[ic..ic+mc) × [pc..pc+kc) → panels of MR rows; panel q holds (r, k) at [q·kc·MR + k·MR + r].
function packA(transA: i32, A: usize, lda: i32, ic: i32, mc: i32, pc: i32, kc: i32): void {
  const stride = <usize>lda * 4;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const dst = packedA + <usize>(ir * kc) * 4;
    if (transA) { // op(A)(i, k) = A[k·lda + i]: the MR values of one k are consecutive
      let src = A + <usize>pc * stride + <usize>(ic + ir) * 4;
      if (mr == MR) {
        for (let k = 0; k < kc; k++, src += stride) v128.store(dst + <usize>(k * MR) * 4, v128.load(src));
      } else {
        for (let k = 0; k < kc; k++, src += stride) {
          for (let r = 0; r < MR; r++) store<f32>(dst + <usize>(k * MR + r) * 4, r < mr ? load<f32>(src + <usize>r * 4) : 0);
        }
      }
    } else { // op(A)(i, k) = A[i·lda + k]: four rows, read along k, interleaved
      if (mr == MR) {
        const s0 = A + <usize>(ic + ir) * stride + <usize>pc * 4;
        const s1 = s0 + stride, s2 = s1 + stride, s3 = s2 + stride;
        let k = 0;
        for (; k + 4 <= kc; k += 4) { // a 4×4 transpose in registers
          const o = <usize>k * 4;
          const r0 = v128.load(s0 + o), r1 = v128.load(s1 + o), r2 = v128.load(s2 + o), r3 = v128.load(s3 + o);
          const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
          const d = dst + <usize>(k * MR) * 4;
          v128.store(d, v128.shuffle<i64>(t0, t1, 0, 2));
          v128.store(d, v128.shuffle<i64>(t0, t1, 1, 3), 16);
          v128.store(d, v128.shuffle<i64>(t2, t3, 0, 2), 32);
          v128.store(d, v128.shuffle<i64>(t2, t3, 1, 3), 48);
        }
        for (; k < kc; k++) {
          const o = <usize>k * 4, d = dst + <usize>(k * MR) * 4;
          store<f32>(d, load<f32>(s0 + o)); store<f32>(d, load<f32>(s1 + o), 4);
          store<f32>(d, load<f32>(s2 + o), 8); store<f32>(d, load<f32>(s3 + o), 12);
        }
      } else {
        for (let r = 0; r < MR; r++) {
          const src = A + <usize>(ic + ir + r) * stride + <usize>pc * 4;
          for (let k = 0; k < kc; k++) store<f32>(dst + <usize>(k * MR + r) * 4, r < mr ? load<f32>(src + <usize>k * 4) : 0);
        }
      }
    }
  }
}

// The 4×8 tile: C[0..mr) × [0..nr) (+)= alpha · Σ_k a(·, k) b(k, ·) over one packed panel of each.
function microKernel(kc: i32, a: usize, b: usize, C: usize, ldc: i32, alpha: f32, overwrite: bool, mr: i32, nr: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    a += MR * 4; b += NR * 4;
  }
  const al = f32x4.splat(alpha);
  c00 = f32x4.mul(c00, al); c01 = f32x4.mul(c01, al); c10 = f32x4.mul(c10, al); c11 = f32x4.mul(c11, al);
  c20 = f32x4.mul(c20, al); c21 = f32x4.mul(c21, al); c30 = f32x4.mul(c30, al); c31 = f32x4.mul(c31, al);
  const rowBytes = <usize>ldc * 4;
  if (mr == MR && nr == NR) {
    storeRow(C, c00, c01, overwrite);
    storeRow(C + rowBytes, c10, c11, overwrite);
    storeRow(C + 2 * rowBytes, c20, c21, overwrite);
    storeRow(C + 3 * rowBytes, c30, c31, overwrite);
    return;
  }
  // an edge tile: through a scratch tile, only the mr × nr part that exists (same arithmetic as above)
  v128.store(edgeTile, c00); v128.store(edgeTile, c01, 16); v128.store(edgeTile, c10, 32); v128.store(edgeTile, c11, 48);
  v128.store(edgeTile, c20, 64); v128.store(edgeTile, c21, 80); v128.store(edgeTile, c30, 96); v128.store(edgeTile, c31, 112);
  for (let r = 0; r < mr; r++) {
    const row = C + <usize>r * rowBytes;
    for (let c = 0; c < nr; c++) {
      const p = row + <usize>c * 4;
      const v = load<f32>(edgeTile + <usize>(r * NR + c) * 4);
      store<f32>(p, overwrite ? v : load<f32>(p) + v);
    }
  }
}

// @ts-ignore: decorator
@inline function storeRow(p: usize, lo: v128, hi: v128, overwrite: bool): void {
  if (overwrite) {
    v128.store(p, lo);
    v128.store(p, hi, 16);
  } else {
    v128.store(p, f32x4.add(v128.load(p), lo));
    v128.store(p, f32x4.add(v128.load(p, 16), hi), 16);
  }
}

// c + a·b: one relaxed (fused where the CPU can) multiply-add in the relaxed-SIMD build, else a mul and an add.
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * The peak of this build's multiply-add on one thread, for the bench to divide the GEMM's speed by: twelve
 * independent f32x4 chains acc = acc·m + c (madd, as the micro-kernel runs it), enough to keep two
 * multiply-add units busy through their latency, nothing loaded or stored. 96 FLOPs an iteration; returns a
 * sum of the lanes so that the work cannot be dropped.
 */
export function peakMultiplyAdd(iterations: i32): f32 {
  const m = f32x4.splat(0.9999999), c = f32x4.splat(1e-7);
  let a0 = f32x4.splat(1.0), a1 = f32x4.splat(1.01), a2 = f32x4.splat(1.02), a3 = f32x4.splat(1.03);
  let a4 = f32x4.splat(1.04), a5 = f32x4.splat(1.05), a6 = f32x4.splat(1.06), a7 = f32x4.splat(1.07);
  let a8 = f32x4.splat(1.08), a9 = f32x4.splat(1.09), a10 = f32x4.splat(1.1), a11 = f32x4.splat(1.11);
  for (let i = 0; i < iterations; i++) {
    a0 = madd(a0, m, c); a1 = madd(a1, m, c); a2 = madd(a2, m, c); a3 = madd(a3, m, c);
    a4 = madd(a4, m, c); a5 = madd(a5, m, c); a6 = madd(a6, m, c); a7 = madd(a7, m, c);
    a8 = madd(a8, m, c); a9 = madd(a9, m, c); a10 = madd(a10, m, c); a11 = madd(a11, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const t = f32x4.add(f32x4.add(s, f32x4.add(a8, a9)), f32x4.add(a10, a11));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) + f32x4.extract_lane(t, 3);
}
