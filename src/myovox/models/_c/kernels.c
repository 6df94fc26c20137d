/* Fused CPU kernels for SpeechNet's blocks (see myovox/models/fast.py and _c/).
 *
 * C99 with GCC/Clang vector extensions, no dependencies. Loops over rows run in parallel with
 * OpenMP when built with it (_c/__init__.py builds it after torch has loaded its OpenMP runtime, so
 * both share one thread pool). Sums over rows are taken in row order from per-row values, so
 * results do not depend on the thread count. Per-row sums are float in vector lanes, sums over
 * rows double. No -ffast-math: the arithmetic is what is written here, except that multiply-adds
 * may be fused (-ffp-contract=fast).
 *
 * Layouts (row-major, contiguous):
 *   x     (rows, T)            first block's input, one row per (window, electrode)
 *   z     (rows, F, Tz)        a temporal convolution's output (blocks after the first)
 *   zsel  (rows, F, tp)        the convolution output at the arg-max of sign[f] * z over each
 *                              pooling window (the value that batch norm + ReLU then map)
 *   idx   (rows, F, tp) int32  that arg-max's offset inside its pooling window (first on ties)
 * The spatial blocks' kernels (at the end) have their own, time-major layout, described there.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX512F__
#define LANES 16 /* floats per vector: one AVX-512 register */
#else
#define LANES 8 /* one AVX register, or two SSE ones */
#endif
typedef float vf __attribute__((vector_size(4 * LANES)));  /* GCC/Clang vector extensions */
typedef int32_t vi __attribute__((vector_size(4 * LANES)));

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* Make the compiler hold four vectors in registers: GCC otherwise folds each load into every
 * multiply-add that uses it (four loads of the same line instead of one, which made the
 * weight-gradient loop load-bound). Only where one vector fits one register (AVX: 8 lanes in a
 * ymm register, AVX-512: 16 in a zmm one); for SSE-only targets (x86-64, x86-64-v2) the
 * constraint would be impossible and the compiler keeps its own choice. */
#if defined(__x86_64__) && defined(__AVX__) && (defined(__GNUC__) || defined(__clang__))
#define KEEP_IN_REGISTERS(a, b, c, d) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d))
#else
#define KEEP_IN_REGISTERS(a, b, c, d) ((void)0)
#endif

static inline vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }   /* unaligned */

/* 8 floats whatever LANES is (an AVX register, two SSE or NEON ones): the convolutions' vectors (myovox_conv1d
 * says why) */
typedef float vc __attribute__((vector_size(32)));
#define CL 8 /* floats per vc */
#if defined(__x86_64__) && defined(__AVX__) && (defined(__GNUC__) || defined(__clang__))
#define KEEP_VC(a) __asm__("" : "+v"(a)) /* one load per input vector, not one per multiply-add using it */
#else
#define KEEP_VC(a) ((void)0)
#endif
static inline vc load_vc(const float *p) { vc v; memcpy(&v, p, sizeof v); return v; }
/* Whether the forms built on vc (conv1d_time, the lag-vectorised conv_dw) are used: where a vc is one register
 * (AVX). Without (SSE-only x86-64-v2: 16 registers of 4 floats) their accumulators spill: conv1d_time's step
 * took 4x the channel-vectorised one's (C driver), the lag-vectorised weight gradient 18x the other form's (C
 * harness); on NEON (32 registers of 4 floats) not measured on an Arm machine, so the forms measured before
 * stay. */
#if defined(__AVX__)
#define VC_FORMS 1
#else
#define VC_FORMS 0
#endif
static inline vf splat(float a) { return (vf){0} + a; }
static inline float hsum(vf v) { float s = 0.0f; for (int l = 0; l < LANES; ++l) s += v[l]; return s; }

/* Lane-wise comparisons (all ones where true, zeros where false) and selects. Where a vector is two of the
 * target's registers (8 lanes on SSE-only x86 and on NEON), GCC 12 splits arithmetic into the two halves but
 * compares and selects one lane at a time, with scalar compares and branches (-Wvector-operation-performance:
 * "vector condition will be expanded piecewise"); there these run on the halves explicitly. Same results; the
 * SSE-only build's first block forward 11.8 -> 8.2 ms and its whole step 22.0 -> 19.3 ms at 14 x 700 (machine
 * measured; tests/unit/models/test_cross_arch.py checks that no comparison is lowered so again). */
#if LANES == 8 && !defined(__AVX__)
typedef float vhf __attribute__((vector_size(16)));
typedef int32_t vhi __attribute__((vector_size(16)));
#define HALVES(H, v, lo, hi) H lo, hi; memcpy(&lo, &(v), 16); memcpy(&hi, (const char *)&(v) + 16, 16)
#define JOIN(T, r, lo, hi) T r; memcpy(&r, &(lo), 16); memcpy((char *)&r + 16, &(hi), 16)
static inline vi gt_f(vf a, vf b)
{
    HALVES(vhf, a, a0, a1);
    HALVES(vhf, b, b0, b1);
    const vhi r0 = a0 > b0, r1 = a1 > b1;
    JOIN(vi, r, r0, r1);
    return r;
}
static inline vi lt_i(vi a, vi b)
{
    HALVES(vhi, a, a0, a1);
    HALVES(vhi, b, b0, b1);
    const vhi r0 = a0 < b0, r1 = a1 < b1;
    JOIN(vi, r, r0, r1);
    return r;
}
/* lanes of a where m is set, of b elsewhere */
static inline vi select_i(vi m, vi a, vi b)
{
    HALVES(vhi, m, m0, m1);
    HALVES(vhi, a, a0, a1);
    HALVES(vhi, b, b0, b1);
    const vhi r0 = (a0 & m0) | (b0 & ~m0), r1 = (a1 & m1) | (b1 & ~m1);
    JOIN(vi, r, r0, r1);
    return r;
}
#undef HALVES
#undef JOIN
#else
static inline vi gt_f(vf a, vf b) { return a > b; }
static inline vi lt_i(vi a, vi b) { return a < b; }
static inline vi select_i(vi m, vi a, vi b) { return (a & m) | (b & ~m); }
#endif
/* v with its lanes from n on set to zero (all of v when n >= LANES) */
static inline vf first_lanes(vf v, int64_t n)
{
    vi lane;
    for (int l = 0; l < LANES; ++l)
        lane[l] = l;
    return (vf)((vi)v & lt_i(lane, (vi){0} + (int32_t)(n < LANES ? n : LANES)));
}

/* The n < LANES floats at p in the first lanes of a vector, zeros in the others. `more`: the memory
 * after them may be read (the next row of the same array), so one masked load does; else a copy. */
static inline vf load_first(const float *p, int64_t n, int more)
{
    if (more)
        return first_lanes(load(p), n);
    float buf[LANES] = {0.0f};
    for (int64_t l = 0; l < n; ++l)
        buf[l] = p[l];
    return load(buf);
}

/* Sum of column i over the n rows of a row-major table with the given row length, in row order:
 * how every kernel here combines its per-row (or per-chunk) partial sums, so that results do not
 * depend on how rows were split over threads. */
static double sum_rows(const double *part, int64_t n, int64_t row_len, int64_t i)
{
    double s = 0.0;
    for (int64_t r = 0; r < n; ++r)
        s += part[r * row_len + i];
    return s;
}

/* The row zero-padded by `pad` on the left, as `width` samples (zeros past its end too). */
static void pad_row(const float *row, int64_t T, int64_t pad, int64_t width, float *xp)
{
    const int64_t n = T < width - pad ? (T > 0 ? T : 0) : width - pad;
    memset(xp, 0, sizeof(float) * (size_t)(pad < width ? pad : width));
    if (n > 0)
        memcpy(xp + pad, row, sizeof(float) * (size_t)n);
    if (pad + n < width)
        memset(xp + pad + n, 0, sizeof(float) * (size_t)(width - pad - n));
}

/* The first block's max-pooled outputs p0 .. p0 + nb LANES - 1 of one filter (nb <= 4 vectors, a constant
 * where inlined): the maximum over pool positions q of v = sum_j ws[j] X[(q + j) tq + p] (ws = sign * w) and
 * its arg-max, the first on ties as in max-pool; nb independent chains hide the multiply-adds' latency. */
static inline __attribute__((always_inline)) void first_pool(const float *X, int64_t tq, int64_t p0, const float *ws,
                                                             int64_t k, int64_t pool, int nb, vf *best, vi *bi)
{
    for (int64_t q = 0; q < pool; ++q) {
        vf v[4];
        for (int b = 0; b < nb; ++b)
            v[b] = splat(0.0f);
        for (int64_t j = 0; j < k; ++j) {
            const vf wv = splat(ws[j]);
            const float *xr = X + (q + j) * tq + p0;
            for (int b = 0; b < nb; ++b)
                v[b] += wv * load(xr + b * LANES);
        }
        for (int b = 0; b < nb; ++b) {
            /* strictly greater: the first index wins ties */
            const vi gt = q == 0 ? ((vi){0} - 1) : gt_f(v[b], best[b]);
            best[b] = (vf)select_i(gt, (vi)v[b], (vi)best[b]);
            bi[b] = select_i(gt, (vi){0} + (int32_t)q, bi[b]);
        }
    }
}

/* Pooled outputs p0 .. of one filter's row (values, arg-max offsets), the lanes before tp. */
static inline void store_pooled(vf out, vi bi, int64_t p0, int64_t tp, float *zs, int32_t *ix)
{
    const int64_t n = tp - p0;
    if (n >= LANES) {  /* whole vectors: stores of a constant size, which the compiler makes one instruction */
        memcpy(zs + p0, &out, sizeof out);
        memcpy(ix + p0, &bi, sizeof bi);
    } else if (n > 0) {
        float zs_buf[LANES];
        int32_t ix_buf[LANES];
        memcpy(zs_buf, &out, sizeof out);
        memcpy(ix_buf, &bi, sizeof bi);
        memcpy(zs + p0, zs_buf, sizeof(float) * (size_t)n);
        memcpy(ix + p0, ix_buf, sizeof(int32_t) * (size_t)n);
    }
}

/* First block: conv1d (one input row, F filters of length k, zero padding pad) followed by a
 * max-pool of sign[f] * z over windows of `pool` samples, for rows [0, n_rows). Also the
 * moments of the shifted padded input that batch norm's statistics follow from (fast.py):
 * s1[i] = sum_t xp[t + i] and s2[i * k + j] = sum_t xp[t + i] * xp[t + j] over the t_out
 * output positions, summed over rows in row order (the same for any thread count), and from
 * them the mean and (biased) variance of each filter's full convolution output (double).
 *
 * DC offsets: each row is shifted by its mean c (crow[r]) *including its padding*, so that
 * xp = xc + c at every position and z = conv(xc) + c sum(w_f) + b_f, the same constant added to
 * every position of the row: the arg-max is that of conv(xc), computed in float on values of
 * the signal's size, not the offset's. zsel holds the pooled value *minus the batch mean*,
 * zsel - mean = conv(xc) + (c sum(w_f) + b_f - mean_f), the bracket in double: a DC offset of
 * 1e4 times the signal would otherwise leave float32 values only 1e-3 of the signal apart.
 * Returns 0, -1 when out of memory, or -2 for kernels longer than 64. */
int myovox_first_fwd(const float *x, int64_t n_rows, int64_t T, const float *w, const float *bias,
                     const float *sign, int64_t F, int64_t k, int64_t pad, int64_t pool, int64_t tp,
                     float *zsel, int32_t *idx, double *s1, double *s2, double *mean, double *var, float *crow)
{
    const int64_t L = pool + k - 1, tq = round_up(tp, LANES);
    const int64_t t_out = T + 2 * pad - k + 1;
    const int64_t width = round_up((tq * pool > t_out ? tq * pool : t_out) + k - 1, LANES) + LANES;
    const int64_t nm = k + k * k;
    if (k > 64)
        return -2;
    double *mom = (double *)malloc(sizeof(double) * (size_t)(n_rows * nm));
    int failed = 0;
    if (mom == NULL)
        return -1;
#ifdef _OPENMP
#pragma omp parallel reduction(|| : failed)
#endif
    {
        const int64_t nx = L * tq > width ? L * tq : width;
        float *X = (float *)malloc(sizeof(float) * (size_t)(nx + width));
        if (X == NULL)
            failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t r = 0; r < n_rows; ++r) {
            if (X == NULL)
                continue;
            float *xp = X + nx;
            pad_row(x + r * T, T, pad, width, xp);
            /* moments of the row shifted by its mean c (float partial sums in vector lanes;
             * a DC offset far above the signal, as in raw microvolt data, would otherwise cost
             * float precision), then turned back into moments of xp in double:
             * sum u_i = sum u'_i + n c, sum u_i u_j = sum u'_i u'_j + c (sum u'_i + sum u'_j) + n c^2 */
            double *mr = mom + r * nm;
            float *xc = X;  /* scratch: X is rebuilt below */
            vf acc = splat(0.0f);
            int64_t t = 0;
            for (; t + LANES <= T; t += LANES)
                acc += load(xp + pad + t);
            double total = hsum(acc);
            for (; t < T; ++t)
                total += xp[pad + t];
            const float c = (float)(total / (double)T);
            for (t = 0; t < width; t += LANES) {
                const vf d = load(xp + t) - c;
                memcpy(xc + t, &d, sizeof d);
            }
            double sh1[64];
            for (int64_t i = 0; i < k; ++i) {
                acc = splat(0.0f);
                for (t = 0; t + LANES <= t_out; t += LANES)
                    acc += load(xc + t + i);
                if (t < t_out)  /* the last t_out - t samples, in one masked vector */
                    acc += first_lanes(load(xc + t + i), t_out - t);
                sh1[i] = hsum(acc);
                mr[i] = sh1[i] + (double)t_out * c;
            }
            for (int64_t i = 0; i < k; ++i) {
                for (int64_t j = i; j < k; ++j) {
                    vf a0 = splat(0.0f), a1 = a0;
                    for (t = 0; t + 2 * LANES <= t_out; t += 2 * LANES) {
                        a0 += load(xc + t + i) * load(xc + t + j);
                        a1 += load(xc + t + i + LANES) * load(xc + t + j + LANES);
                    }
                    for (; t < t_out; t += LANES)
                        a0 += first_lanes(load(xc + t + i), t_out - t) * load(xc + t + j);
                    const double tail = hsum(a0 + a1);
                    mr[k + i * k + j] = mr[k + j * k + i] =
                        tail + (double)c * (sh1[i] + sh1[j]) + (double)t_out * (double)c * (double)c;
                }
            }
            crow[r] = c;
            for (t = 0; t < width; ++t)  /* the row and its padding shifted by c (see above) */
                xp[t] -= c;
            /* X[m * tq + p] = xc[p * pool + m]: the L samples under pooled output p, transposed
             * so that LANES consecutive pooled outputs are one vector */
            for (int64_t m = 0; m < L; ++m)
                for (int64_t p = 0; p < tq; ++p)
                    X[m * tq + p] = xp[p * pool + m];
            for (int64_t f = 0; f < F; ++f) {
                float ws[64];
                for (int64_t j = 0; j < k; ++j)
                    ws[j] = sign[f] * w[f * k + j];
                float *zs = zsel + (r * F + f) * tp;
                int32_t *ix = idx + (r * F + f) * tp;
                vf best[4];
                vi bi[4];
                int64_t p0 = 0;
                for (; p0 + 4 * LANES <= tq; p0 += 4 * LANES) {
                    first_pool(X, tq, p0, ws, k, pool, 4, best, bi);
                    for (int b = 0; b < 4; ++b)
                        store_pooled(sign[f] * best[b], bi[b], p0 + b * LANES, tp, zs, ix);
                }
                for (; p0 < tq; p0 += LANES) {
                    first_pool(X, tq, p0, ws, k, pool, 1, best, bi);
                    store_pooled(sign[f] * best[0], bi[0], p0, tp, zs, ix);
                }
            }
        }
        free(X);
    }
    if (!failed) {
        for (int64_t i = 0; i < nm; ++i) {
            const double acc = sum_rows(mom, n_rows, nm, i);
            if (i < k)
                s1[i] = acc;
            else
                s2[i - k] = acc;
        }
        /* statistics of z_f = w_f . u + b_f over the n_rows * t_out positions:
         * mean = w . mu + b, var = w' (S2 / m - mu mu') w with mu = s1 / m */
        const double m = (double)(n_rows * t_out);
        for (int64_t f = 0; f < F; ++f) {
            double mf = bias[f], vf_ = 0.0;
            for (int64_t i = 0; i < k; ++i) {
                mf += (double)w[f * k + i] * (s1[i] / m);
                for (int64_t j = 0; j < k; ++j)
                    vf_ += (double)w[f * k + i] * (s2[i * k + j] / m - (s1[i] / m) * (s1[j] / m)) * (double)w[f * k + j];
            }
            mean[f] = mf;
            var[f] = vf_ > 0.0 ? vf_ : 0.0;
        }
        /* zsel - mean = conv(xc) + (c sum(w_f) + b_f - mean_f) */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int64_t r = 0; r < n_rows; ++r)
            for (int64_t f = 0; f < F; ++f) {
                double sw = 0.0;
                for (int64_t i = 0; i < k; ++i)
                    sw += (double)w[f * k + i];
                const float off = (float)((double)crow[r] * sw + (double)bias[f] - mean[f]);
                float *zs = zsel + (r * F + f) * tp;
                for (int64_t p = 0; p < tp; ++p)
                    zs[p] += off;
            }
    }
    free(mom);
    return failed ? -1 : 0;
}

/* First block's weight gradient for rows [0, n_rows), dL/dz = G + c2' + c3 (z - mean) with
 * c2' = -sum(G) / m (batch norm's gradient; m = n_rows * t_out positions):
 * - the arg-max part, sum over rows r and pooled outputs p of g[r, f, p] * xp[p * pool + idx + j]
 *   (xp the padded row; G, the pooled gradient placed at the arg-max positions, is zero elsewhere,
 *   so only those tp positions per filter are visited), taken on the row shifted by its mean c = crow[r] as in
 *   myovox_first_fwd (xp = xc + c everywhere): sum G xc (float, signal-sized) + c sum(G) (double);
 * - the dense part, c2' s1[j] + c3[f] (w_f . s2[:, j] + (b_f - mean_f) s1[j]) in double.
 * c2' comes from the same per-row sums of G as the arg-max part, so that their offset-sized
 * terms (c sum(G) against c2' s1) cancel in double. Rows are summed in order.
 * Returns 0, or -1 when out of memory. */
int myovox_first_dw(const float *x, int64_t n_rows, int64_t T, const float *g, const int32_t *idx,
                    int64_t F, int64_t k, int64_t pad, int64_t pool, int64_t tp, const double *s1, const double *s2,
                    const float *w, const float *bias, const float *crow, const double *mean, const float *c3,
                    float *dw)
{
    const int64_t width = tp * pool + round_up(k, LANES) + LANES;
    const int64_t t_out = T + 2 * pad - k + 1;
    double *part = (double *)malloc(sizeof(double) * (size_t)(n_rows * F * (k + 1)));
    int failed = 0;
    if (part == NULL)
        return -1;
#ifdef _OPENMP
#pragma omp parallel reduction(|| : failed)
#endif
    {
        float *xp = (float *)malloc(sizeof(float) * (size_t)width);
        if (xp == NULL)
            failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t r = 0; r < n_rows; ++r) {
            if (xp == NULL)
                continue;
            pad_row(x + r * T, T, pad, width, xp);
            const float c = crow[r];
            for (int64_t t = 0; t < width; ++t)
                xp[t] -= c;
            for (int64_t f = 0; f < F; ++f) {
                const float *gf = g + (r * F + f) * tp;
                const int32_t *ix = idx + (r * F + f) * tp;
                /* four accumulators over p, in turn, here and below: they hide the additions' latency */
                double gd[4] = {0.0, 0.0, 0.0, 0.0};
                int64_t p = 0;
                for (; p + 4 <= tp; p += 4)
                    for (int q = 0; q < 4; ++q)
                        gd[q] += (double)gf[p + q];
                for (; p < tp; ++p)
                    gd[p & 3] += (double)gf[p];
                const double gs = (gd[0] + gd[1]) + (gd[2] + gd[3]);
                part[n_rows * F * k + r * F + f] = gs;
                /* G is zero but at the arg-max positions: lane j of a vector sums g[p] xc[p pool + idx[p] + j0 + j]
                 * over the pooled outputs p */
                for (int64_t j0 = 0; j0 < k; j0 += LANES) {
                    vf a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
                    const float *u = xp + j0;
                    for (p = 0; p + 4 <= tp; p += 4) {
                        const float *v = u + p * pool;
                        a0 += gf[p] * load(v + ix[p]);
                        a1 += gf[p + 1] * load(v + pool + ix[p + 1]);
                        a2 += gf[p + 2] * load(v + 2 * pool + ix[p + 2]);
                        a3 += gf[p + 3] * load(v + 3 * pool + ix[p + 3]);
                    }
                    for (; p < tp; ++p)
                        a0 += gf[p] * load(u + p * pool + ix[p]);
                    const vf s = (a0 + a1) + (a2 + a3);
                    for (int64_t j = j0; j < k && j < j0 + LANES; ++j)
                        part[(r * F + f) * k + j] = (double)s[j - j0] + (double)c * gs;
                }
            }
        }
        free(xp);
    }
    if (!failed) {
        /* plus the dense part of batch norm's gradient, sum over all positions of
         * (c2' + c3 (z - mean)) u_j = c2' s1[j] + c3 (sum_i w_i s2[i, j] + (b - mean) s1[j]) */
        const double m = (double)(n_rows * t_out);
        for (int64_t f = 0; f < F; ++f) {
            const double c2p = -sum_rows(part + n_rows * F * k, n_rows, F, f) / m;
            for (int64_t j = 0; j < k; ++j) {
                const double acc = sum_rows(part, n_rows, F * k, f * k + j);
                double ws2 = ((double)bias[f] - mean[f]) * s1[j];
                for (int64_t i = 0; i < k; ++i)
                    ws2 += (double)w[f * k + i] * s2[i * k + j];
                dw[f * k + j] = (float)(acc + c2p * s1[j] + (double)c3[f] * ws2);
            }
        }
    }
    free(part);
    return failed ? -1 : 0;
}

/* One row's max-pool of s * z over windows of `pool` samples, times s again: out[p] for the tp windows from the
 * start (the remainder is dropped, as max_pool1d does), with s = -1 the minimum (batch norm with a negative
 * scale, then ReLU, is decreasing); ix[p] (unless NULL) the position of that value in its window, the first
 * on ties (max_pool1d's arg-max), for the pooling gradient. With positions, LANES windows at a time, one per
 * lane (0.11 against 0.19 ms for block 2 at 14 x 700 in a C harness, one thread); without, one window after
 * another (there the lanes were slower: 0.09 against 0.07 ms), which the compiler vectorises itself. */
static inline __attribute__((always_inline)) void pool_row(const float *zr, float s, int64_t pool, int64_t tp,
                                                           float *out, int32_t *ix)
{
    int64_t p0 = 0;
    for (; ix != NULL && p0 + LANES <= tp; p0 += LANES) {
        vf m, v;
        vi at = {0};
        for (int l = 0; l < LANES; ++l)
            m[l] = s * zr[(p0 + l) * pool];
        for (int64_t q = 1; q < pool; ++q) {
            for (int l = 0; l < LANES; ++l)
                v[l] = s * zr[(p0 + l) * pool + q];
            const vi gt = gt_f(v, m);
            at = select_i(gt, (vi){0} + (int32_t)q, at);
            m = (vf)select_i(gt, (vi)v, (vi)m);
        }
        m = s * m;
        memcpy(out + p0, &m, sizeof m);
        memcpy(ix + p0, &at, sizeof at);
    }
    for (int64_t p = p0; p < tp; ++p) {
        const float *w = zr + p * pool;
        float m = s * w[0];
        int32_t at = 0;
        for (int64_t q = 1; q < pool; ++q) {
            const float v = s * w[q];
            at = v > m ? (int32_t)q : at;
            m = v > m ? v : m;
        }
        out[p] = s * m;
        if (ix != NULL)
            ix[p] = at;
    }
}

/* One row's mean and mean squared deviation, float partial sums in vector lanes (a masked last vector, which
 * may read into the next row where `more`), the two sums added in double. */
static inline void row_moments(const float *zr, int64_t n, int more, double *mean, double *msd)
{
    vf part = splat(0.0f);
    int64_t t = 0;
    for (; t + LANES <= n; t += LANES)
        part += load(zr + t);
    if (t < n)
        part += load_first(zr + t, n - t, more);
    const float mu = (float)((double)hsum(part) / (double)n);
    part = splat(0.0f);
    for (t = 0; t + LANES <= n; t += LANES) {
        const vf d = load(zr + t) - mu;
        part += d * d;
    }
    if (t < n) {
        const vf d = first_lanes(load_first(zr + t, n - t, more) - mu, n - t);
        part += d * d;
    }
    *mean = mu;
    *msd = (double)hsum(part) / (double)n;
}

/* Max-pool of sign[f] * z, times sign[f] again (pool_row), for the rows (N, F) of z (N, F, n) into zsel
 * (N, F, tp): the evaluation-mode forward pass of the later temporal blocks. */
void myovox_max_pool(const float *z, int64_t N, int64_t F, int64_t n, const float *sign, int64_t pool, int64_t tp,
                     float *zsel)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t r = 0; r < N * F; ++r)
        pool_row(z + r * n, sign[r % F], pool, tp, zsel + r * tp, NULL);
}

/* Batch-norm statistics from N groups of equally many values per filter: rows[2 (i F + f)] holds group
 * i's mean and rows[2 (i F + f) + 1] its mean squared deviation; combined exactly, in group order:
 * mean = mean of group means, var = mean of (group var + (group mean - mean)^2). */
static void combine_stats(const double *rows, int64_t N, int64_t F, double *mean, double *var)
{
    for (int64_t f = 0; f < F; ++f) {
        double v = 0.0;
        const double mf = sum_rows(rows, N, 2 * F, 2 * f) / (double)N;
        for (int64_t i = 0; i < N; ++i) {
            const double d = rows[2 * (i * F + f)] - mf;
            v += rows[2 * (i * F + f) + 1] + d * d;
        }
        mean[f] = mf;
        var[f] = v / (double)N;
    }
}

/* The training-mode forward pass of the later temporal blocks after the convolution, in one call, for
 * z (N, F, n): the max-pool of myovox_max_pool into zsel (N, F, tp) with the arg-max
 * positions in idx (int32, for myovox_pool_bwd), and batch norm's statistics per filter (double): each row's
 * mean and mean squared deviation (row_moments), combined exactly over the N rows of a filter in row order:
 * mean = mean of row means, var = mean of (row var + (row mean - mean)^2). Returns 0, or -1 when out of
 * memory. */
int myovox_pool_fwd(const float *z, int64_t N, int64_t F, int64_t n, const float *sign, int64_t pool, int64_t tp,
                    float *zsel, int32_t *idx, double *mean, double *var)
{
    double *rows = (double *)malloc(sizeof(double) * (size_t)(2 * N * F));
    if (rows == NULL)
        return -1;
    /* two loops over the rows, each thread the same rows in both (one loop doing both was ~50 % slower) */
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
#ifdef _OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (int64_t r = 0; r < N * F; ++r)
            pool_row(z + r * n, sign[r % F], pool, tp, zsel + r * tp, idx + r * tp);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t r = 0; r < N * F; ++r)
            row_moments(z + r * n, n, r + 1 < N * F, rows + 2 * r, rows + 2 * r + 1);
    }
    combine_stats(rows, N, F, mean, var);
    free(rows);
    return 0;
}

/* Training-mode batch norm bookkeeping from the batch statistics (double) of m values per filter:
 * running_mean/var updated as torch does (float; the variance unbiased), num_batches += 1, and
 * mean (float), invstd = 1 / sqrt(var + eps) and a = gamma * invstd for the normalisation. */
void myovox_bn_train_stats(const double *mean_d, const double *var_d, int64_t F, int64_t m, const float *gamma,
                           double eps, double momentum, float *running_mean, float *running_var,
                           int64_t *num_batches, float *mean, float *invstd, float *a)
{
    const float mom = (float)momentum, keep = (float)(1.0 - momentum);
    const float unbias = (float)((double)m / (double)(m > 1 ? m - 1 : 1));
    for (int64_t f = 0; f < F; ++f) {
        const float mu = (float)mean_d[f], var = (float)var_d[f];
        running_mean[f] = running_mean[f] * keep + mu * mom;
        running_var[f] = running_var[f] * keep + (var * unbias) * mom;
        mean[f] = mu;
        invstd[f] = 1.0f / sqrtf(var + (float)eps);
        a[f] = gamma[f] * invstd[f];
    }
    *num_batches += 1;
}

/* Later temporal blocks, backward of conv -> batch norm -> ReLU -> max-pool, for rows (r, f) of
 * z (N, F, Tz): dz = c3[f] * z + c2[f], plus g[r, f, p] at position idx[r, f, p] of pooling window p
 * (max-pool's arg-max, as myovox_pool_fwd found it).
 * Rows of dz are Tz + 2 margin + extra long, with `margin` zeros before and margin + extra after
 * (the padding of the transposed convolution that gives the input gradient). */
void myovox_pool_bwd(const float *z, int64_t n_rows, int64_t F, int64_t Tz, const int32_t *idx,
                     const float *g, const float *c2, const float *c3, int64_t pool, int64_t tp, float *dz,
                     int64_t margin, int64_t extra)
{
    const int64_t stride = Tz + 2 * margin + extra;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t f = 0; f < F; ++f) {
            const float *zr = z + (r * F + f) * Tz;
            float *dr = dz + (r * F + f) * stride + margin;
            for (int64_t t = 0; t < margin; ++t)
                dr[t - margin] = 0.0f;
            for (int64_t t = 0; t < margin + extra; ++t)
                dr[Tz + t] = 0.0f;
            const float a = c3[f], b = c2[f];
            int64_t t = 0;
            for (; t + LANES <= Tz; t += LANES) {
                const vf d = a * load(zr + t) + b;
                memcpy(dr + t, &d, sizeof d);
            }
            for (; t < Tz; ++t)
                dr[t] = a * zr[t] + b;
            const float *gf = g + (r * F + f) * tp;
            const int32_t *ix = idx + (r * F + f) * tp;
            for (int64_t p = 0; p < tp; ++p)
                dr[p * pool + ix[p]] += gf[p];
        }
    }
}

/* Weight gradient of a stride-1 conv1d with zero padding `pad`:
 *   dw[f, c, j] = sum over n and t < Tz of dz[n, f, t] * hp[n, c, t + j],
 * h (N, C, T), dw (F, C, k), Tz = T + 2 pad - k + 1, hp the padded input; row (n, f) of dz starts
 * at dz + (n * F + f) * dz_stride + dz_offset. Two forms, the same sums in the same order (rows, then
 * samples: the same bits), chosen by the kernel's length:
 * - up to 8 taps, vectorised over the filters f (each row's dz transposed to (t, f) first) and
 *   register-blocked over DW_J = 8 lags, so that each dz vector loaded feeds 8 multiply-adds with a
 *   broadcast input sample each (short kernels such as block 3's 8 taps waste no lanes);
 * - 9 to 16 taps (25 to 32, ...) vectorised over the lags, 16 at a time in two 8-float vectors (vc, as
 *   conv1d_time), DW_F filters per block: each input vector loaded feeds DW_F multiply-adds with a
 *   broadcast dz sample, and dz needs no transposition (which took ~14 % of the other form). Block 2's
 *   16 taps at 14 x 700 (C harness, one thread, AMD Zen 4): 1.76 -> 1.59 ms with AVX-512, 1.91 -> 1.59
 *   with AVX2; at 8 taps this form was slower (0.53 against 0.62 ms). Only with AVX (VC_FORMS).
 * Windows are summed in fixed chunks of NCHUNK rows (float), the chunks in order (double): the result
 * does not depend on the thread count. Returns 0, or -1 when out of memory. */
#define DW_J 8
#define NCHUNK 32 /* rows per chunk: the per-chunk double sums cost more than the float sums saved below 32 */
#define DW_F 4    /* filters per block of the lag-vectorised form: 8 accumulators */

/* acc[q * as][l] += sum over rows r < nr and t < Tz of d[r * dr + t * ds][l] * x[r * xr + t + q], q < 8:
 * 8 vectors of lags held in registers over the rows of a chunk */
static void dw_block(const float *d, int64_t dr, int64_t ds, const float *x, int64_t xr, int64_t nr, int64_t Tz,
                     float *acc, int64_t as)
{
    vf a0 = load(acc), a1 = load(acc + as), a2 = load(acc + 2 * as), a3 = load(acc + 3 * as);
    vf a4 = load(acc + 4 * as), a5 = load(acc + 5 * as), a6 = load(acc + 6 * as), a7 = load(acc + 7 * as);
    for (int64_t r = 0; r < nr; ++r)
        for (int64_t t = 0; t < Tz; ++t) {
            const vf dv = load(d + r * dr + t * ds);
            const float *xt = x + r * xr + t;
            a0 += xt[0] * dv;
            a1 += xt[1] * dv;
            a2 += xt[2] * dv;
            a3 += xt[3] * dv;
            a4 += xt[4] * dv;
            a5 += xt[5] * dv;
            a6 += xt[6] * dv;
            a7 += xt[7] * dv;
        }
    const vf *sums[DW_J] = {&a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7};
    for (int q = 0; q < DW_J; ++q)
        memcpy(acc + q * as, sums[q], sizeof(vf));
}

/* acc[q][v] (q < QF filters, v < 2 vectors of CL lags) = sum over rows r < nr and t < Tz of d[r * dr + q * dq + t]
 * * x[r * xr + t + v CL + lane]: the filters' dz rows times the padded input rows from the block's first lag. */
static inline __attribute__((always_inline)) void dw_block_lags(const float *d, int64_t dr, int64_t dq,
                                                                const float *x, int64_t xr, int64_t nr,
                                                                int64_t Tz, vc acc[DW_F][2], const int QF)
{
    vc a[DW_F][2];
    for (int q = 0; q < QF; ++q)
        a[q][0] = a[q][1] = (vc){0};
    for (int64_t r = 0; r < nr; ++r) {
        const float *xrow = x + r * xr, *drow = d + r * dr;
        for (int64_t t = 0; t < Tz; ++t) {
            vc x0 = load_vc(xrow + t), x1 = load_vc(xrow + t + CL);
            KEEP_VC(x0);
            KEEP_VC(x1);
            for (int q = 0; q < QF; ++q) {
                a[q][0] += x0 * drow[q * dq + t];
                a[q][1] += x1 * drow[q * dq + t];
            }
        }
    }
    for (int q = 0; q < QF; ++q) {
        acc[q][0] = a[q][0];
        acc[q][1] = a[q][1];
    }
}

/* One chunk's sums (nr rows from row n0; their padded inputs in hp, rows `width` apart) into
 * pc[(f C + c) k + j], lag-vectorised. */
static __attribute__((noinline)) void dw_chunk_lags(const float *hp, int64_t width, const float *dz, int64_t dz_stride,
                                                    int64_t dz_offset, int64_t n0, int64_t nr, int64_t C, int64_t F,
                                                    int64_t Tz, int64_t k, int64_t kp, double *pc)
{
    for (int64_t c = 0; c < C; ++c)
        for (int64_t j0 = 0; j0 < kp; j0 += 2 * CL) {
            const float *x = hp + c * width + j0;
            for (int64_t f0 = 0; f0 < F;) {
                /* blocks of 4 filters, the last ones 3 + 2 rather than 4 + 1 (one filter's 2 chains of sums wait
                 * on the multiply-adds' latency) */
                const int64_t left = F - f0, qf = left == 5 ? 3 : left >= DW_F ? DW_F : left;
                const float *d = dz + (n0 * F + f0) * dz_stride + dz_offset;
                vc acc[DW_F][2];
                if (qf == DW_F)
                    dw_block_lags(d, F * dz_stride, dz_stride, x, C * width, nr, Tz, acc, DW_F);
                else if (qf == 3)
                    dw_block_lags(d, F * dz_stride, dz_stride, x, C * width, nr, Tz, acc, 3);
                else if (qf == 2)
                    dw_block_lags(d, F * dz_stride, dz_stride, x, C * width, nr, Tz, acc, 2);
                else
                    dw_block_lags(d, F * dz_stride, dz_stride, x, C * width, nr, Tz, acc, 1);
                for (int64_t q = 0; q < qf; ++q)
                    for (int64_t j = j0; j < k && j < j0 + 2 * CL; ++j)
                        pc[((f0 + q) * C + c) * k + j] = acc[q][(j - j0) / CL][(j - j0) % CL];
                f0 += qf;
            }
        }
}

/* The same, vectorised over the filters: dt (NCHUNK * Tz * Fp floats, zero past F) and acc (C * kp * Fp) the
 * thread's buffers. Not inlined (nor is dw_chunk_lags): inlined into the OpenMP region, which reaches its
 * variables through a shared record, its loops ran ~7 % slower. */
static __attribute__((noinline)) void dw_chunk_filters(const float *hp, int64_t width, const float *dz,
                                                       int64_t dz_stride, int64_t dz_offset, int64_t n0, int64_t nr,
                                                       int64_t C, int64_t F, int64_t Tz, int64_t k, int64_t kp,
                                                       float *dt, float *acc, double *pc)
{
    const int64_t Fp = round_up(F, LANES);
    memset(acc, 0, sizeof(float) * (size_t)(C * kp * Fp));
    for (int64_t r = 0; r < nr; ++r)
        for (int64_t f = 0; f < F; ++f) {
            const float *drow = dz + ((n0 + r) * F + f) * dz_stride + dz_offset;
            for (int64_t t = 0; t < Tz; ++t)
                dt[(r * Tz + t) * Fp + f] = drow[t];
        }
    for (int64_t c = 0; c < C; ++c)
        for (int64_t j0 = 0; j0 < kp; j0 += DW_J)
            for (int64_t f0 = 0; f0 < Fp; f0 += LANES)
                dw_block(dt + f0, Tz * Fp, Fp, hp + c * width + j0, C * width, nr, Tz, acc + (c * kp + j0) * Fp + f0,
                         Fp);
    for (int64_t f = 0; f < F; ++f)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t j = 0; j < k; ++j)
                pc[(f * C + c) * k + j] = acc[(c * kp + j) * Fp + f];
}

int myovox_conv_dw(const float *h, const float *dz, int64_t dz_stride, int64_t dz_offset, int64_t N,
                   int64_t C, int64_t T, int64_t F, int64_t Tz, int64_t k, int64_t pad, float *dw)
{
    /* the form (see above): lags where 16-lag blocks leave no more lanes idle than the other form's 8-lag ones */
    const int lags = VC_FORMS && k > CL && round_up(k, 2 * CL) == round_up(k, DW_J);
    const int64_t Fp = round_up(F, LANES), kp = lags ? round_up(k, 2 * CL) : round_up(k, DW_J);
    const int64_t width = Tz + kp + LANES;
    const int64_t n_chunks = (N + NCHUNK - 1) / NCHUNK, per = F * C * k;
    double *part = (double *)malloc(sizeof(double) * (size_t)(n_chunks * per));
    int failed = 0;
    if (part == NULL)
        return -1;
#ifdef _OPENMP
#pragma omp parallel reduction(|| : failed)
#endif
    {
        /* the chunk's rows: padded input (r, c, width); for the filter-vectorised form dz transposed (r, t, f) */
        float *hp = (float *)malloc(sizeof(float) * (size_t)(NCHUNK * C * width));
        float *dt = lags ? NULL : (float *)calloc((size_t)(NCHUNK * Tz * Fp), sizeof(float));
        float *acc = lags ? NULL : (float *)malloc(sizeof(float) * (size_t)(C * kp * Fp)); /* (c, j, f) */
        const int ok = hp != NULL && (lags || (dt != NULL && acc != NULL));
        if (!ok)
            failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t ch = 0; ch < n_chunks; ++ch) {
            if (!ok)
                continue;
            const int64_t n0 = ch * NCHUNK, nr = (n0 + NCHUNK < N ? n0 + NCHUNK : N) - n0;
            double *pc = part + ch * per;
            for (int64_t r = 0; r < nr; ++r)
                for (int64_t c = 0; c < C; ++c)
                    pad_row(h + ((n0 + r) * C + c) * T, T, pad, width, hp + (r * C + c) * width);
            if (lags)
                dw_chunk_lags(hp, width, dz, dz_stride, dz_offset, n0, nr, C, F, Tz, k, kp, pc);
            else
                dw_chunk_filters(hp, width, dz, dz_stride, dz_offset, n0, nr, C, F, Tz, k, kp, dt, acc, pc);
        }
        free(hp);
        free(dt);
        free(acc);
    }
    if (!failed) {
        for (int64_t i = 0; i < per; ++i)
            dw[i] = (float)sum_rows(part, n_chunks, per, i);
    }
    free(part);
    return failed ? -1 : 0;
}

/* Direct 1-D convolution, stride 1, as the temporal blocks' forward pass and input gradient:
 *   out[n, o, t] = bias[o] + sum over i < C, j < k of xp[n, i, t + j] * w[o, i, j],   t < Tout,
 * xp the row x[n, i, :T] (rows x_stride apart) with `pad` zeros on its left and zeros past its end;
 * out rows out_stride apart. Two forms, chosen by shape (myovox_conv1d, below). conv1d_time is vectorised over
 * output samples, so that each vector of results is a piece of an output row (no transposition; vectorised over
 * channels, moving the results into rows took ~15 % of the kernel, and channels fewer than the lanes needed a
 * phase trick; the second session's attempt at this form, with 16-float vectors and its input loads folded
 * into every multiply-add, had run at half the rate): a block of CONV_OB channels x CONV_TV
 * vectors of samples, 12 accumulators, each input vector loaded once per tap feeding CONV_OB multiply-adds
 * with a broadcast weight (folded into the multiply-add on AVX-512). The vectors are 8 floats (vc) whatever
 * LANES is: with AVX-512 (32 registers of 16 lanes) 8-float vectors ran 10-20 % faster than 16-float ones on
 * the machine measured (AMD Zen 4: 512-bit operations take two 256-bit passes, and a 64-byte unaligned load
 * crosses a cache line at 15 taps of 16), and with AVX2 they are its registers. Each output is
 * bias + the products in the order (i, j), one rounding each (contracted multiply-adds): bitwise the
 * channel-vectorised kernel's results (but for the sign of an output of exactly zero where a bias is -0). Each
 * row is computed by one thread: the result does not depend on the thread count. Returns 0, or -1 when out of
 * memory. */
#define CONV_OB 4 /* output channels per block */
#define CONV_TV 3 /* vectors of output samples per block: 12 accumulators + 3 inputs + 1 weight fit AVX2's 16 */

/* Outputs [t0, t0 + nt) (nt <= NV CL, NV <= CONV_TV a constant where inlined) of channels o0 .. o0 + no - 1
 * (no <= CONV_OB) of one row: xs the padded input rows (width apart) from t0 on, wt the block's weights
 * (i, j, channel) and bias, dst the first channel's output row from t0 on (rows stride apart). */
static inline __attribute__((always_inline)) void conv_block_t(const float *xs, int64_t width, const float *wt,
                                                                int64_t C, int64_t k, const float *bias, float *dst,
                                                                int64_t stride, int64_t no, int64_t nt, const int NV)
{
    vc a[CONV_OB][CONV_TV];
#pragma GCC unroll 4
    for (int q = 0; q < CONV_OB; ++q)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v)
            a[q][v] = (vc){0} + bias[q]; /* 0 + bias: a bias of -0 starts at +0 (element stores ran 3 % slower) */
    for (int64_t i = 0; i < C; ++i) {
        const float *xr = xs + i * width, *wr = wt + i * k * CONV_OB;
        for (int64_t j = 0; j < k; ++j) {
            vc xv[CONV_TV];
#pragma GCC unroll 3
            for (int v = 0; v < NV; ++v) {
                xv[v] = load_vc(xr + j + v * CL);
                KEEP_VC(xv[v]);
            }
#pragma GCC unroll 4
            for (int q = 0; q < CONV_OB; ++q)
#pragma GCC unroll 3
                for (int v = 0; v < NV; ++v)
                    a[q][v] += xv[v] * wr[j * CONV_OB + q];
        }
    }
    for (int64_t q = 0; q < no; ++q)
        for (int v = 0; v < NV; ++v) {
            float *d = dst + q * stride + v * CL;
            const int64_t n = nt - v * CL;
            if (n >= CL) {
                memcpy(d, &a[q][v], sizeof(vc));
            } else if (n > 0) {
                float buf[CL];
                memcpy(buf, &a[q][v], sizeof buf);
                memcpy(d, buf, sizeof(float) * (size_t)n);
            }
        }
}

static int conv1d_time(const float *x, int64_t N, int64_t C, int64_t x_stride, int64_t T, int64_t pad,
                       const float *w, const float *bias, int64_t F, int64_t k, int64_t Tout, float *out,
                       int64_t out_stride)
{
    const int64_t Fo = round_up(F, CONV_OB), TB = CONV_TV * CL, width = round_up(Tout, TB) + k + CL;
    float *wt = (float *)calloc((size_t)(Fo * C * k + Fo), sizeof(float));
    int failed = 0;
    if (wt == NULL)
        return -1;
    float *bp = wt + Fo * C * k; /* zero past F, as the weights */
    for (int64_t o = 0; o < F; ++o) {
        bp[o] = bias[o];
        for (int64_t i = 0; i < C; ++i)
            for (int64_t j = 0; j < k; ++j)
                wt[(((o / CONV_OB) * C + i) * k + j) * CONV_OB + o % CONV_OB] = w[(o * C + i) * k + j];
    }
#ifdef _OPENMP
#pragma omp parallel reduction(|| : failed)
#endif
    {
        float *xs = (float *)malloc(sizeof(float) * (size_t)(C * width));
        if (xs == NULL)
            failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t n = 0; n < N; ++n) {
            if (xs == NULL)
                continue;
            for (int64_t i = 0; i < C; ++i)
                pad_row(x + (n * C + i) * x_stride, T, pad, width, xs + i * width);
            for (int64_t o0 = 0; o0 < F; o0 += CONV_OB) {
                const int64_t no = F - o0 < CONV_OB ? F - o0 : CONV_OB;
                const float *wb = wt + o0 * C * k;
                float *dst = out + (n * F + o0) * out_stride;
                for (int64_t t0 = 0; t0 < Tout; t0 += TB) {
                    const int64_t nt = Tout - t0 < TB ? Tout - t0 : TB;
                    if (nt > 2 * CL)
                        conv_block_t(xs + t0, width, wb, C, k, bp + o0, dst + t0, out_stride, no, nt, 3);
                    else if (nt > CL)
                        conv_block_t(xs + t0, width, wb, C, k, bp + o0, dst + t0, out_stride, no, nt, 2);
                    else
                        conv_block_t(xs + t0, width, wb, C, k, bp + o0, dst + t0, out_stride, no, nt, 1);
                }
            }
        }
        free(xs);
    }
    free(wt);
    return failed ? -1 : 0;
}

/* The channel-vectorised form (LANES channels per vector, 12 output samples register-blocked; the second
 * session's kernel): on rows too short for the blocks of conv1d_time, whose fixed cost per row and whose
 * blocks of one or two vectors (a load per 4 multiply-adds) then dominate. */
#define CONV_TT 12
#define ACC12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ACC8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ACC4(X) X(0) X(1) X(2) X(3)
#define CONV_DECL(t) vf a##t = b;
#define CONV_FMA(t) a##t += x[t * P] * wv;
#define CONV_STORE(t) memcpy(ot + t * LANES, &a##t, sizeof(vf));

/* One block of ACC's count (12, 8 or 4) of output samples (t = u P + p for lane (p, o)) x LANES lanes into
 * ot (t, lane); the shorter blocks end rows whose length is not a multiple of 12 (short rows, such as block
 * 3's 7 outputs at 200 samples, would otherwise compute up to 11 samples for nothing). */
#define CONV_BLOCK(name, ACC)                                                                                   \
    static inline __attribute__((always_inline)) void name(const float *xs, int64_t width, int64_t P,          \
                                                           const float *wt, int64_t Fp, int64_t C, int64_t k,  \
                                                           const float *bias, float *ot)                       \
    {                                                                                                           \
        const vf b = load(bias);                                                                                \
        ACC(CONV_DECL)                                                                                          \
        for (int64_t i = 0; i < C; ++i) {                                                                       \
            const float *xr = xs + i * width, *wr = wt + i * k * Fp;                                            \
            for (int64_t j = 0; j < k; ++j) {                                                                   \
                const vf wv = load(wr + j * Fp);                                                                \
                const float *x = xr + j;                                                                        \
                ACC(CONV_FMA)                                                                                   \
            }                                                                                                   \
        }                                                                                                       \
        ACC(CONV_STORE)                                                                                         \
    }
CONV_BLOCK(conv_block12, ACC12)
CONV_BLOCK(conv_block8, ACC8)
CONV_BLOCK(conv_block4, ACC4)

/* The block for `rest` output samples still to do (12 at most per block), with the common strides as constants
 * (the compiler folds the input offsets). */
static void conv_block_p(const float *xs, int64_t width, int64_t P, const float *wt, int64_t Fp, int64_t C,
                         int64_t k, const float *bias, float *ot, int64_t rest)
{
    if (rest <= 4) {
        switch (P) {
        case 1: conv_block4(xs, width, 1, wt, Fp, C, k, bias, ot); break;
        case 2: conv_block4(xs, width, 2, wt, Fp, C, k, bias, ot); break;
        default: conv_block4(xs, width, P, wt, Fp, C, k, bias, ot); break;
        }
    } else if (rest <= 8) {
        switch (P) {
        case 1: conv_block8(xs, width, 1, wt, Fp, C, k, bias, ot); break;
        case 2: conv_block8(xs, width, 2, wt, Fp, C, k, bias, ot); break;
        default: conv_block8(xs, width, P, wt, Fp, C, k, bias, ot); break;
        }
    } else {
        switch (P) {
        case 1: conv_block12(xs, width, 1, wt, Fp, C, k, bias, ot); break;
        case 2: conv_block12(xs, width, 2, wt, Fp, C, k, bias, ot); break;
        default: conv_block12(xs, width, P, wt, Fp, C, k, bias, ot); break;
        }
    }
}

static int conv1d_channels(const float *x, int64_t N, int64_t C, int64_t x_stride, int64_t T, int64_t pad,
                           const float *w, const float *bias, int64_t F, int64_t k, int64_t Tout, float *out,
                           int64_t out_stride)
{
    const int64_t P = F <= LANES / 2 ? LANES / F : 1, kp = k + P - 1, Fp = round_up(P * F, LANES);
    const int64_t Tu = (Tout + P - 1) / P, nt = round_up(Tu, CONV_TT), width = P * nt + kp + LANES;
    float *wt = (float *)calloc((size_t)(C * kp * Fp + Fp), sizeof(float));
    int failed = 0;
    if (wt == NULL)
        return -1;
    float *bp = wt + C * kp * Fp; /* lane (p, o) of block 0, or o of the blocks; zero-padded to Fp */
    for (int64_t p = 0; p < P; ++p)
        for (int64_t o = 0; o < F; ++o) {
            bp[p * F + o] = bias[o];
            for (int64_t i = 0; i < C; ++i)
                for (int64_t j = 0; j < k; ++j)
                    wt[(i * kp + j + p) * Fp + p * F + o] = w[(o * C + i) * k + j];
        }
#ifdef _OPENMP
#pragma omp parallel reduction(|| : failed)
#endif
    {
        float *xs = (float *)malloc(sizeof(float) * (size_t)(C * width));
        float *ot = (float *)malloc(sizeof(float) * (size_t)(CONV_TT * LANES)); /* (t, lane) of one block */
        if (xs == NULL || ot == NULL)
            failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t n = 0; n < N; ++n) {
            if (xs == NULL || ot == NULL)
                continue;
            for (int64_t i = 0; i < C; ++i)
                pad_row(x + (n * C + i) * x_stride, T, pad, width, xs + i * width);
            for (int64_t o0 = 0; o0 < Fp; o0 += LANES)
                for (int64_t u0 = 0; u0 < Tu; u0 += CONV_TT) {
                    conv_block_p(xs + P * u0, width, P, wt + o0, Fp, C, kp, bp + o0, ot, Tu - u0);
                    /* out[o, P (u0 + u) + p] = ot[u, p F + o], row by row */
                    const int64_t no = P > 1 ? F : (F - o0 < LANES ? F - o0 : LANES);
                    const int64_t nu = Tu - u0 < CONV_TT ? Tu - u0 : CONV_TT;
                    for (int64_t o = 0; o < no; ++o) {
                        float *dst = out + (n * F + o0 + o) * out_stride + P * u0;
                        if (P == 1)
                            for (int64_t u = 0; u < nu; ++u)
                                dst[u] = ot[u * LANES + o];
                        else
                            for (int64_t u = 0; u < nu; ++u)
                                for (int64_t p = 0; p < P && P * (u0 + u) + p < Tout; ++p)
                                    dst[P * u + p] = ot[u * LANES + p * F + o];
                    }
                }
        }
        free(xs);
        free(ot);
    }
    free(wt);
    return failed ? -1 : 0;
}

/* Each form where it was faster (C harness, one thread, AMD Zen 4): with 16-float vectors (AVX-512) the
 * channel-vectorised one up to ~40 output samples per row with more than 8 output channels (its 16 lanes
 * full; 36 samples: 0.39 against 0.43 ms, 25: 0.64 against 0.83), the time-vectorised one beyond (88 samples:
 * 1.49 against 1.68 ms) and wherever channels would leave lanes idle (8 channels: 15-20 % faster at every
 * length); with 8-float vectors (AVX2) the time-vectorised one from 10 samples on (14 x 700's shapes: 1.3-1.5x
 * faster); only with AVX (VC_FORMS). The two give the same bits (the same products summed in the same order),
 * so the choice changes only the time. */
#define CONV_TIME_MIN (LANES > 8 ? 40 : 10)
int myovox_conv1d(const float *x, int64_t N, int64_t C, int64_t x_stride, int64_t T, int64_t pad, const float *w,
                  const float *bias, int64_t F, int64_t k, int64_t Tout, float *out, int64_t out_stride)
{
    if (VC_FORMS && (F <= LANES / 2 || Tout >= CONV_TIME_MIN))
        return conv1d_time(x, N, C, x_stride, T, pad, w, bias, F, k, Tout, out, out_stride);
    return conv1d_channels(x, N, C, x_stride, T, pad, w, bias, F, k, Tout, out, out_stride);
}

/* Batch norm with the batch's statistics, then ReLU, on pooled values (N, F, tp):
 * out = max(0, a[f] * (zsel - mean[f]) + beta[f]), a = gamma / sqrt(var + eps). */
void myovox_bn_relu(const float *zsel, int64_t N, int64_t F, int64_t tp, const float *mean, const float *a,
                    const float *beta, float *out)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t n = 0; n < N; ++n)
        for (int64_t f = 0; f < F; ++f) {
            const float *zs = zsel + (n * F + f) * tp;
            float *o = out + (n * F + f) * tp;
            const float m = mean[f], s = a[f], b = beta[f];
            for (int64_t p = 0; p < tp; ++p) {
                const float u = s * (zs[p] - m) + b;
                o[p] = u > 0.0f ? u : 0.0f;
            }
        }
}

/* Batch norm's backward for one filter from the sums over its m inputs of gu (sb) and of gu times the
 * normalised input (sg): dbeta = sb, dgamma = sg, the coefficients of dL/dz = c1 gu + c2 + c3 z (c1 = gamma
 * invstd), and the gradient of the convolution bias before it, db = sum dL/dz = c1 dbeta + m (c2 + c3 mean).
 * Each output is written once and never read back. */
static void bn_backward(double sb, double sg, float gamma, float invstd, float mean, float m, float *dbeta,
                        float *dgamma, float *c2, float *c3, float *db)
{
    const float c1 = gamma * invstd, b = (float)sb, g = (float)sg;
    const float k3 = -c1 * g * invstd / m, k2 = -c1 * b / m - k3 * mean;
    *dbeta = b;
    *dgamma = g;
    *c3 = k3;
    *c2 = k2;
    *db = c1 * b + k2 * m + k3 * m * mean;
}

/* Backward of myovox_bn_relu up to the pooled values: with gu = go * (out > 0),
 * dbeta[f] = sum gu, dgamma[f] = sum gu * (zsel - mean[f]) * invstd[f] (over N and tp, per-row
 * sums in float, rows added in order in double) and g = gu * c1[f], c1 = gamma * invstd. Also
 * the coefficients of batch norm's gradient with respect to its m inputs per filter,
 * dL/dz = c1 * scatter(gu) + c2 + c3 * z, and the bias gradient of the convolution before it,
 * db = sum of dL/dz = c1 dbeta + m (c2 + c3 mean). Returns 0, or -1 when out of memory. */
int myovox_bn_relu_bwd(const float *go, const float *out, const float *zsel, int64_t N, int64_t F, int64_t tp,
                       const float *mean, const float *invstd, const float *gamma, int64_t m, float *g,
                       float *dbeta, float *dgamma, float *c2, float *c3, float *db)
{
    double *part = (double *)malloc(sizeof(double) * (size_t)(2 * N * F));
    if (part == NULL)
        return -1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t n = 0; n < N; ++n)
        for (int64_t f = 0; f < F; ++f) {
            const int64_t row = (n * F + f) * tp;
            const float mu = mean[f], is = invstd[f], c = gamma[f] * invstd[f];
            const int more = n + 1 < N || f + 1 < F;  /* see load_first */
            vf vb = splat(0.0f), vg = vb;
            for (int64_t p = 0; p < tp; p += LANES) {
                const int64_t rest = tp - p;
                const vf o = rest >= LANES ? load(out + row + p) : load_first(out + row + p, rest, more);
                const vf gv = rest >= LANES ? load(go + row + p) : load_first(go + row + p, rest, more);
                const vf zv = rest >= LANES ? load(zsel + row + p) : load_first(zsel + row + p, rest, more);
                /* zero in the lanes past the row: o is zero there */
                const vf gu = (vf)((vi)gv & gt_f(o, splat(0.0f)));
                vb += gu;
                vg += gu * ((zv - mu) * is);
                const vf gc = gu * c;
                if (rest >= LANES)
                    memcpy(g + row + p, &gc, sizeof gc);
                else
                    for (int64_t l = 0; l < rest; ++l)
                        g[row + p + l] = gc[l];
            }
            const float sb = hsum(vb), sg = hsum(vg);
            part[2 * (n * F + f)] = sb;
            part[2 * (n * F + f) + 1] = sg;
        }
    for (int64_t f = 0; f < F; ++f)
        bn_backward(sum_rows(part, N, 2 * F, 2 * f), sum_rows(part, N, 2 * F, 2 * f + 1), gamma[f], invstd[f],
                    mean[f], (float)m, dbeta + f, dgamma + f, c2 + f, c3 + f, db + f);
    free(part);
    return 0;
}

/* ---------------------------------------------------------------- spatial blocks
 * A spatial block is a Conv2d with a (k, 1) kernel across electrodes, per time step, then batch norm
 * and ReLU. Its input x is indexed (window b, time t, electrode r, filter c) with element strides
 * (sb, st, sr, sc): the temporal blocks' output (b, r, c, t) or the previous spatial block's output,
 * which is time-major (b, t, r, o) like every z and dz here (o contiguous). Vectorised over output
 * filters o and register-blocked over SP_P consecutive time steps; every window is one task, and
 * sums over windows are taken in window order (results do not depend on the thread count). */
#define SP_P 4

/* wt[(j C + c) Op + o] = w[(o C + c) k + j] (the kernel matrix, filters contiguous, zero-padded to
 * Op), then the bias zero-padded to Op; NULL when out of memory. */
static float *spatial_weights(const float *w, const float *bias, int64_t O, int64_t C, int64_t k, int64_t Op)
{
    float *wt = (float *)calloc((size_t)(k * C * Op + Op), sizeof(float));
    if (wt == NULL)
        return NULL;
    for (int64_t o = 0; o < O; ++o) {
        for (int64_t c = 0; c < C; ++c)
            for (int64_t j = 0; j < k; ++j)
                wt[(j * C + c) * Op + o] = w[(o * C + c) * k + j];
        wt[k * C * Op + o] = bias == NULL ? 0.0f : bias[o];
    }
    return wt;
}

/* Up to LANES floats from p (n of them), the rest zero. */
static inline vf load_n(const float *p, int64_t n)
{
    vf v = splat(0.0f);
    memcpy(&v, p, sizeof(float) * (size_t)(n < LANES ? n : LANES));
    return v;
}

/* Pointers to the SP_P positions q0.. of window b (position q = t Rz + r: time t, output row r), and
 * how many of them are < npos (past the end: the last one again, not stored). */
static inline int64_t spatial_positions(const float *xb, int64_t q0, int64_t npos, int64_t Rz, int64_t st,
                                        int64_t sr, const float **xp)
{
    for (int64_t p = 0; p < SP_P; ++p) {
        const int64_t q = q0 + p < npos ? q0 + p : npos - 1;
        xp[p] = xb + (q / Rz) * st + (q % Rz) * sr;
    }
    return npos - q0 < SP_P ? npos - q0 : SP_P;
}

/* Forward convolution of a spatial block: z (B, T, R - k + 1, O) from x (see above) and the weight
 * w (O, C, k), bias (O); and z's batch statistics per filter (mean, biased variance; double), each
 * window's mean and squared deviation in float, combined in window order. Positions (t, r) of a
 * window are taken SP_P at a time in z's order. Returns 0, or -1 when out of memory. */
int myovox_spatial_fwd(const float *x, int64_t B, int64_t T, int64_t R, int64_t C, int64_t sb, int64_t st,
                       int64_t sr, int64_t sc, const float *w, const float *bias, int64_t O, int64_t k, float *z,
                       double *mean, double *var)
{
    const int64_t Rz = R - k + 1, Op = round_up(O, LANES), KC = k * C, npos = T * Rz;
    float *wt = spatial_weights(w, bias, O, C, k, Op);
    double *part = (double *)malloc(sizeof(double) * (size_t)(2 * B * O));
    if (wt == NULL || part == NULL) {
        free(wt);
        free(part);
        return -1;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t b = 0; b < B; ++b) {
        float *zb = z + b * npos * O;
        for (int64_t q0 = 0; q0 < npos; q0 += SP_P) {
            const float *xp[SP_P];
            const int64_t np = spatial_positions(x + b * sb, q0, npos, Rz, st, sr, xp);
            for (int64_t ov = 0; ov < Op; ov += LANES) {
                const vf bv = load(wt + KC * Op + ov);
                vf a0 = bv, a1 = bv, a2 = bv, a3 = bv;
                for (int64_t j = 0; j < k; ++j)
                    for (int64_t c = 0; c < C; ++c) {
                        const int64_t off = j * sr + c * sc;
                        const vf wv = load(wt + (j * C + c) * Op + ov);
                        a0 += wv * xp[0][off];
                        a1 += wv * xp[1][off];
                        a2 += wv * xp[2][off];
                        a3 += wv * xp[3][off];
                    }
                const vf acc[SP_P] = {a0, a1, a2, a3};
                const int64_t nl = O - ov < LANES ? O - ov : LANES;
                for (int64_t p = 0; p < np; ++p)
                    memcpy(zb + (q0 + p) * O + ov, &acc[p], sizeof(float) * (size_t)nl);
            }
        }
        for (int64_t o = 0; o < O; ++o) {
            float s = 0.0f;
            for (int64_t i = 0; i < npos; ++i)
                s += zb[i * O + o];
            const float mu = s / (float)npos;
            float m2 = 0.0f;
            for (int64_t i = 0; i < npos; ++i) {
                const float d = zb[i * O + o] - mu;
                m2 += d * d;
            }
            part[2 * (b * O + o)] = mu;
            part[2 * (b * O + o) + 1] = (double)m2 / (double)npos;
        }
    }
    combine_stats(part, B, O, mean, var);
    free(wt);
    free(part);
    return 0;
}

#define SP_WCHUNK 8 /* windows per float partial sum of the weight gradient */

/* Backward of myovox_spatial_fwd's convolution for its gradient dz (B, T, R - k + 1, O):
 *   dw[o, c, j] = sum over b, t, r of dz[b, t, r, o] * x[b, t, r + j, c]  (in float over chunks of
 *                 SP_WCHUNK windows, the chunks added in order in double),
 *   dx[b, t, r, c] = sum over j, o of dz[b, t, r - j, o] * w[o, c, j], written with element strides
 *                 (db, dt, dr, dc) like x's. Returns 0, or -1 when out of memory. */
int myovox_spatial_bwd(const float *x, int64_t B, int64_t T, int64_t R, int64_t C, int64_t sb, int64_t st,
                       int64_t sr, int64_t sc, const float *w, int64_t O, int64_t k, const float *dz, float *dw,
                       float *dx, int64_t db, int64_t dt, int64_t dr, int64_t dc)
{
    const int64_t Rz = R - k + 1, Op = round_up(O, LANES), Cp = round_up(C, LANES), KC = k * C, npos = T * Rz;
    const int64_t nch = (B + SP_WCHUNK - 1) / SP_WCHUNK;
    float *part = (float *)malloc(sizeof(float) * (size_t)(nch * KC * Op));
    /* wd[(j O + o) Cp + c] = w[o, c, j], then one row of O zeros (dz of an output row past the edges) */
    float *wd = (float *)calloc((size_t)(k * O * Cp + Op), sizeof(float));
    if (part == NULL || wd == NULL) {
        free(part);
        free(wd);
        return -1;
    }
    const float *zero_row = wd + k * O * Cp;
    for (int64_t o = 0; o < O; ++o)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t j = 0; j < k; ++j)
                wd[(j * O + o) * Cp + c] = w[(o * C + c) * k + j];
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t ch = 0; ch < nch; ++ch) {
        float *pc = part + ch * KC * Op;
        memset(pc, 0, sizeof(float) * (size_t)(KC * Op));
        for (int64_t b = ch * SP_WCHUNK; b < B && b < (ch + 1) * SP_WCHUNK; ++b) {
            const float *dzb = dz + b * npos * O;
            for (int64_t q0 = 0; q0 < npos; q0 += SP_P) {
                const float *xp[SP_P];
                const int64_t np = spatial_positions(x + b * sb, q0, npos, Rz, st, sr, xp);
                for (int64_t ov = 0; ov < Op; ov += LANES) {
                    vf d[SP_P]; /* zero past the last position and past O */
                    for (int64_t p = 0; p < SP_P; ++p)
                        d[p] = p < np ? load_n(dzb + (q0 + p) * O + ov, O - ov) : splat(0.0f);
                    for (int64_t j = 0; j < k; ++j)
                        for (int64_t c = 0; c < C; ++c) {
                            const int64_t off = j * sr + c * sc;
                            float *acc = pc + (j * C + c) * Op + ov;
                            vf a = load(acc);
                            a += d[0] * xp[0][off] + d[1] * xp[1][off] + d[2] * xp[2][off] + d[3] * xp[3][off];
                            memcpy(acc, &a, sizeof a);
                        }
                }
            }
            /* dx: output position u = t R + rr gathers dz rows rr - j of the same time step */
            const int64_t nout = T * R;
            for (int64_t u0 = 0; u0 < nout; u0 += SP_P) {
                const int64_t np = nout - u0 < SP_P ? nout - u0 : SP_P;
                for (int64_t cv = 0; cv < Cp; cv += LANES) {
                    vf a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
                    for (int64_t j = 0; j < k; ++j) {
                        const float *dp[SP_P];
                        for (int64_t p = 0; p < SP_P; ++p) {
                            const int64_t u = u0 + p < nout ? u0 + p : u0, r = u % R - j;
                            dp[p] = r >= 0 && r < Rz ? dzb + ((u / R) * Rz + r) * O : zero_row;
                        }
                        const float *wj = wd + j * O * Cp + cv;
                        for (int64_t o = 0; o < O; ++o) {
                            const vf wv = load(wj + o * Cp);
                            a0 += wv * dp[0][o];
                            a1 += wv * dp[1][o];
                            a2 += wv * dp[2][o];
                            a3 += wv * dp[3][o];
                        }
                    }
                    const vf a[SP_P] = {a0, a1, a2, a3};
                    const int64_t nl = C - cv < LANES ? C - cv : LANES;
                    for (int64_t p = 0; p < np; ++p) {
                        const int64_t u = u0 + p;
                        float *dst = dx + b * db + (u / R) * dt + (u % R) * dr + cv * dc;
                        if (dc == 1)
                            memcpy(dst, &a[p], sizeof(float) * (size_t)nl);
                        else
                            for (int64_t l = 0; l < nl; ++l)
                                dst[l * dc] = a[p][l];
                    }
                }
            }
        }
    }
    for (int64_t o = 0; o < O; ++o)
        for (int64_t jc = 0; jc < KC; ++jc) {
            double s = 0.0;
            for (int64_t ch = 0; ch < nch; ++ch)
                s += part[(ch * KC + jc) * Op + o];
            dw[(o * C + jc % C) * k + jc / C] = (float)s;
        }
    free(part);
    free(wd);
    return 0;
}

/* Batch norm with the batch's statistics, then ReLU, on a time-major z (n positions, O filters):
 * y = max(0, a[o] * (z - mean[o]) + beta[o]). */
void myovox_spatial_bn_relu(const float *z, int64_t n, int64_t O, const float *mean, const float *a,
                            const float *beta, float *y)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t i = 0; i < n; ++i)
        for (int64_t o = 0; o < O; ++o) {
            const float u = a[o] * (z[i * O + o] - mean[o]) + beta[o];
            y[i * O + o] = u > 0.0f ? u : 0.0f;
        }
}

/* Backward of myovox_spatial_bn_relu for the output gradient go (B windows of npos positions, O
 * filters): with gu = go * (y > 0), dbeta = sum gu, dgamma = sum gu * (z - mean) * invstd (in float
 * per window, the windows added in order in double), then dz = c1 gu + c2 + c3 z as in
 * myovox_bn_relu_bwd, and db = sum dz (the gradient of the convolution's bias). Returns 0, or -1 when
 * out of memory. */
int myovox_spatial_bn_bwd(const float *go, const float *y, const float *z, int64_t B, int64_t npos, int64_t O,
                          const float *mean, const float *invstd, const float *gamma, float *dz, float *dbeta,
                          float *dgamma, float *db)
{
    float *pf = (float *)calloc((size_t)(2 * B * O), sizeof(float));
    float *coef = (float *)malloc(sizeof(float) * (size_t)(3 * O)); /* c1, c2, c3 */
    if (pf == NULL || coef == NULL) {
        free(pf);
        free(coef);
        return -1;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t b = 0; b < B; ++b) {
        float *sb = pf + 2 * b * O, *sg = sb + O;
        for (int64_t q = 0; q < npos; ++q) {
            const int64_t i = (b * npos + q) * O;
            for (int64_t o = 0; o < O; ++o) {
                const float gu = y[i + o] > 0.0f ? go[i + o] : 0.0f;
                sb[o] += gu;
                sg[o] += gu * ((z[i + o] - mean[o]) * invstd[o]);
            }
        }
    }
    for (int64_t o = 0; o < O; ++o) {
        double s1 = 0.0, s2 = 0.0;
        for (int64_t b = 0; b < B; ++b) {
            s1 += pf[2 * b * O + o];
            s2 += pf[2 * b * O + O + o];
        }
        coef[o] = gamma[o] * invstd[o];
        bn_backward(s1, s2, gamma[o], invstd[o], mean[o], (float)(B * npos), dbeta + o, dgamma + o, coef + O + o,
                    coef + 2 * O + o, db + o);
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int64_t i = 0; i < B * npos; ++i)
        for (int64_t o = 0; o < O; ++o) {
            const float gu = y[i * O + o] > 0.0f ? go[i * O + o] : 0.0f;
            dz[i * O + o] = coef[o] * gu + coef[O + o] + coef[2 * O + o] * z[i * O + o];
        }
    free(pf);
    free(coef);
    return 0;
}

/* The network's global average pooling over a time-major y (B windows, npos positions, O filters):
 * out[b, o] = mean over positions of y[b, q, o] (float sums in position order). */
void myovox_spatial_mean(const float *y, int64_t B, int64_t npos, int64_t O, float *out)
{
    for (int64_t b = 0; b < B; ++b) {
        float *ob = out + b * O;
        for (int64_t o = 0; o < O; ++o)
            ob[o] = 0.0f;
        for (int64_t q = 0; q < npos; ++q)
            for (int64_t o = 0; o < O; ++o)
                ob[o] += y[(b * npos + q) * O + o];
        for (int64_t o = 0; o < O; ++o)
            ob[o] /= (float)npos;
    }
}

/* Backward of myovox_spatial_mean: dy[b, q, o] = go[b, o] / npos. */
void myovox_spatial_mean_bwd(const float *go, int64_t B, int64_t npos, int64_t O, float *dy)
{
    for (int64_t b = 0; b < B; ++b)
        for (int64_t q = 0; q < npos; ++q)
            for (int64_t o = 0; o < O; ++o)
                dy[(b * npos + q) * O + o] = go[b * O + o] / (float)npos;
}

/* The linear head and the loss of a training step, forward and backward at once (the features' gradient is
 * known as soon as the logits are): with kept = feats * noise (dropout's scaled mask; no noise: feats),
 *   logits = bias + kept W',   loss = mean over the counted windows of -log softmax(logits)[y],
 * windows whose target is -100 not counted (cross-entropy's ignore_index), and the gradients of the loss:
 *   g = (softmax(logits) - onehot(y)) / count,  g_feats = (g W) * noise,  gW = g' kept,  gb = sum of g's rows.
 * dims (int64): b, F, K. tab (addresses): feats (b, F), noise (b, F) or 0, W (K, F), bias (K), y (int64, b),
 * logits (b, K) out, loss (1 float) out, g_feats (b, F) out, gW (K, F) out or 0, gb (K) out or 0.
 * Products and sums in float in index order, the softmax's sums in double; one thread (b x K x F is small).
 * Returns 0, -1 when out of memory, or -4 when a target is neither -100 nor in [0, K) (nothing written). */
int myovox_head_step(const int64_t *dims, const int64_t *tab)
{
    const int64_t b = dims[0], F = dims[1], K = dims[2];
    const float *feats = (const float *)(intptr_t)tab[0], *noise = (const float *)(intptr_t)tab[1];
    const float *W = (const float *)(intptr_t)tab[2], *bias = (const float *)(intptr_t)tab[3];
    const int64_t *y = (const int64_t *)(intptr_t)tab[4];
    float *logits = (float *)(intptr_t)tab[5], *loss = (float *)(intptr_t)tab[6];
    float *g_feats = (float *)(intptr_t)tab[7], *gW = (float *)(intptr_t)tab[8], *gb = (float *)(intptr_t)tab[9];
    int64_t count = 0;
    for (int64_t i = 0; i < b; ++i) {
        if (y[i] != -100 && (y[i] < 0 || y[i] >= K))
            return -4;
        count += y[i] != -100;
    }
    float *kept = (float *)malloc(sizeof(float) * (size_t)(b * F + b * K + 1));
    if (kept == NULL)
        return -1;
    float *g = kept + b * F;
    double total = 0.0;
    for (int64_t i = 0; i < b; ++i) {
        float *ki = kept + i * F, *li = logits + i * K, *gi = g + i * K;
        for (int64_t f = 0; f < F; ++f)
            ki[f] = noise ? feats[i * F + f] * noise[i * F + f] : feats[i * F + f];
        float top = -INFINITY;
        for (int64_t k = 0; k < K; ++k) {
            float acc = bias[k];
            for (int64_t f = 0; f < F; ++f)
                acc += ki[f] * W[k * F + f];
            li[k] = acc;
            top = acc > top ? acc : top;
        }
        double sum = 0.0;
        for (int64_t k = 0; k < K; ++k)
            sum += exp((double)li[k] - (double)top);
        const double lse = (double)top + log(sum);
        for (int64_t k = 0; k < K; ++k)
            gi[k] = y[i] == -100 ? 0.0f : (float)((exp((double)li[k] - lse) - (k == y[i])) / (double)count);
        if (y[i] != -100)
            total -= (double)li[y[i]] - lse;
    }
    *loss = (float)(total / (double)count); /* no window counted: 0 / 0, NaN, as cross-entropy's mean */
    for (int64_t i = 0; i < b; ++i)
        for (int64_t f = 0; f < F; ++f) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; ++k)
                acc += g[i * K + k] * W[k * F + f];
            g_feats[i * F + f] = noise ? acc * noise[i * F + f] : acc;
        }
    if (gW != NULL)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t f = 0; f < F; ++f) {
                float acc = 0.0f;
                for (int64_t i = 0; i < b; ++i)
                    acc += g[i * K + k] * kept[i * F + f];
                gW[k * F + f] = acc;
            }
    if (gb != NULL)
        for (int64_t k = 0; k < K; ++k) {
            float acc = 0.0f;
            for (int64_t i = 0; i < b; ++i)
                acc += g[i * K + k];
            gb[k] = acc;
        }
    free(kept);
    return 0;
}

/* One step of Adam (L2 weight decay added to the gradient, as torch.optim.Adam without decoupled decay, amsgrad or
 * maximize) over n parameters, its state updated in place: step[0] += 1, then with g = grad + wd param,
 *   m = m + (1 - beta1) (g - m),   v = beta2 v + (1 - beta2) g^2,
 *   param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps),
 * the bias corrections in double, the rest in float. torch's fused kernel computes the same update (within a
 * rounding or two: its order of operations is its own); here it saves the ~0.1 ms that two torch operations
 * took after the kernels, cold. One thread: an elementwise pass over ~15 k parameters takes microseconds. */
void myovox_adam(float *param, const float *grad, float *exp_avg, float *exp_avg_sq, float *step, int64_t n,
                 double lr, double beta1, double beta2, double weight_decay, double eps)
{
    const float t = step[0] + 1.0f;
    step[0] = t;
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    const float b2 = (float)beta2, c1 = (float)(1.0 - beta1), c2 = (float)(1.0 - beta2);
    const float wd = (float)weight_decay, size = (float)(lr / bc1), root = (float)sqrt(bc2), e = (float)eps;
    for (int64_t i = 0; i < n; ++i) {
        const float g = grad[i] + wd * param[i];
        const float m = exp_avg[i] + c1 * (g - exp_avg[i]), v = b2 * exp_avg_sq[i] + c2 * g * g; /* m: a lerp */
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] -= size * m / (sqrtf(v) / root + e);
    }
}

/* ---------------------------------------------------------------- the whole network, one call per direction
 * SpeechNet's training-mode blocks (temporal blocks, the first on one input row, then spatial blocks and the
 * average pooling) as the sequence of the kernels above, so that a training step costs two calls from Python
 * instead of ~35 (models/_network_c.py builds the arguments; its per-kernel sequence is the same mathematics).
 *
 * geo (int64): [0] number of temporal blocks (the first included), [1] spatial blocks, [2] length of the zeros
 * region; then the first block: n, t, f, k, pad, pool, tz, tp; each later temporal block: n, c, t, f, k, pad,
 * pool, tz, tp, margin; each spatial block: b, t, r, c, o, k, npos, sb, st, sr, sc.
 * hyper (double): momentum, eps of each block's batch norm, in block order.
 * tab (int64 addresses), in this order:
 *   [0] x, [1] the features (b, o) out, [2] the zeros region, [3] the features' gradient (backward);
 *   per block, its parameters: weight, bias, gamma, beta, running mean, running variance, count (int64), then
 *   the gradients of weight, bias, gamma, beta (backward; written), then its workspace regions:
 *     first block: zsel, idx (int32), s1, s2 (double), crow, out, mean_d, var_d (double), mean, invstd, a, sign;
 *                  backward: g, c2, c3, dout
 *     later temporal blocks: z, zsel, out, mean_d, var_d (double), mean, invstd, a, sign, idx (int32);
 *                  backward: g, c2, c3, dout, dz, flipped weights
 *     spatial blocks: z, y, mean_d, var_d (double), mean, invstd, a; backward: dy, dz
 * (TAB_* below are the offsets inside a block's entries.) Returns 0, or a kernel's error code. */
#define TAB_HEAD 4
#define TAB_PARAMS 11 /* 7 parameters and buffers, 4 gradients */
#define TAB_FIRST (TAB_PARAMS + 16)
#define TAB_TEMPORAL (TAB_PARAMS + 16)
#define TAB_SPATIAL (TAB_PARAMS + 9)
#define F32(i) ((float *)(intptr_t)e[i])
#define F64(i) ((double *)(intptr_t)e[i])

static void gamma_signs(const float *gamma, int64_t F, float *sign)
{
    for (int64_t f = 0; f < F; ++f)
        sign[f] = gamma[f] >= 0.0f ? 1.0f : -1.0f; /* as torch.where(gamma >= 0, 1, -1): NaN gives -1 */
}

/* Batch norm's slope with the running variance (evaluation): a = gamma / sqrt(running_var + eps), as
 * myovox_bn_train_stats forms it from the batch variance. */
static void eval_slope(const float *gamma, const float *running_var, double eps, int64_t F, float *a)
{
    for (int64_t f = 0; f < F; ++f)
        a[f] = gamma[f] * (1.0f / sqrtf(running_var[f] + (float)eps));
}

/* The forward pass, in training mode (batch statistics, running averages updated) or in evaluation mode
 * (running statistics; each window's output depends on that window only). */
static int net_forward(const int64_t *geo, const double *hyper, const int64_t *tab, int training)
{
    const int64_t n_temporal = geo[0], n_spatial = geo[1];
    const int64_t *g = geo + 3;
    const int64_t *e = tab + TAB_HEAD;
    float *zeros = (float *)(intptr_t)tab[2];
    int rc;
    memset(zeros, 0, sizeof(float) * (size_t)geo[2]);
    { /* the first block */
        const int64_t n = g[0], t = g[1], f = g[2], k = g[3], pad = g[4], pool = g[5], tz = g[6], tp = g[7];
        const int64_t *w = e + TAB_PARAMS;
        gamma_signs(F32(2), f, (float *)(intptr_t)w[11]);
        rc = myovox_first_fwd((const float *)(intptr_t)tab[0], n, t, F32(0), F32(1), (float *)(intptr_t)w[11], f, k,
                              pad, pool, tp, (float *)(intptr_t)w[0], (int32_t *)(intptr_t)w[1],
                              (double *)(intptr_t)w[2], (double *)(intptr_t)w[3], (double *)(intptr_t)w[6],
                              (double *)(intptr_t)w[7], (float *)(intptr_t)w[4]);
        if (rc)
            return rc;
        /* the first block's kernel leaves the pooled values minus the batch mean: centred in training; in
         * evaluation shifted by running_mean - batch mean (in double) */
        float *centre = zeros, *a = (float *)(intptr_t)w[10];
        if (training) {
            myovox_bn_train_stats((double *)(intptr_t)w[6], (double *)(intptr_t)w[7], f, n * tz, F32(2), hyper[1],
                                  hyper[0], F32(4), F32(5), (int64_t *)(intptr_t)e[6], (float *)(intptr_t)w[8],
                                  (float *)(intptr_t)w[9], a);
        } else {
            const double *mean_d = (const double *)(intptr_t)w[6];
            centre = (float *)(intptr_t)w[8];
            for (int64_t q = 0; q < f; ++q)
                centre[q] = (float)((double)F32(4)[q] - mean_d[q]);
            eval_slope(F32(2), F32(5), hyper[1], f, a);
        }
        myovox_bn_relu((float *)(intptr_t)w[0], n, f, tp, centre, a, F32(3), (float *)(intptr_t)w[5]);
        g += 8;
        e += TAB_FIRST;
    }
    const float *prev = (const float *)(intptr_t)tab[TAB_HEAD + TAB_PARAMS + 5]; /* the first block's out */
    for (int64_t i = 1; i < n_temporal; ++i) {
        const int64_t n = g[0], c = g[1], t = g[2], f = g[3], k = g[4], pad = g[5], pool = g[6], tz = g[7],
                      tp = g[8];
        const int64_t *w = e + TAB_PARAMS; /* z, zsel, out, mean_d, var_d, mean, invstd, a, sign, idx */
        float *z = (float *)(intptr_t)w[0], *zsel = (float *)(intptr_t)w[1], *sign = (float *)(intptr_t)w[8];
        double *mean_d = (double *)(intptr_t)w[3], *var_d = (double *)(intptr_t)w[4];
        gamma_signs(F32(2), f, sign);
        rc = myovox_conv1d(prev, n, c, t, t, pad, F32(0), F32(1), f, k, tz, z, tz);
        if (rc)
            return rc;
        float *mean = (float *)(intptr_t)w[5], *a = (float *)(intptr_t)w[7];
        if (training) {
            rc = myovox_pool_fwd(z, n, f, tz, sign, pool, tp, zsel, (int32_t *)(intptr_t)w[9], mean_d, var_d);
            if (rc)
                return rc;
            myovox_bn_train_stats(mean_d, var_d, f, n * tz, F32(2), hyper[2 * i + 1], hyper[2 * i], F32(4),
                                  F32(5), (int64_t *)(intptr_t)e[6], mean, (float *)(intptr_t)w[6], a);
        } else {
            myovox_max_pool(z, n, f, tz, sign, pool, tp, zsel);
            mean = F32(4);
            eval_slope(F32(2), F32(5), hyper[2 * i + 1], f, a);
        }
        myovox_bn_relu(zsel, n, f, tp, mean, a, F32(3), (float *)(intptr_t)w[2]);
        prev = (const float *)(intptr_t)w[2];
        g += 10;
        e += TAB_TEMPORAL;
    }
    for (int64_t j = 0; j < n_spatial; ++j) {
        const int64_t b = g[0], t = g[1], r = g[2], c = g[3], o = g[4], k = g[5], npos = g[6];
        const int64_t *w = e + TAB_PARAMS; /* z, y, mean_d, var_d, mean, invstd, a */
        const int64_t blk = n_temporal + j;
        float *z = (float *)(intptr_t)w[0], *y = (float *)(intptr_t)w[1];
        rc = myovox_spatial_fwd(prev, b, t, r, c, g[7], g[8], g[9], g[10], F32(0), F32(1), o, k, z,
                                (double *)(intptr_t)w[2], (double *)(intptr_t)w[3]);
        if (rc)
            return rc;
        float *mean = (float *)(intptr_t)w[4], *a = (float *)(intptr_t)w[6];
        if (training) {
            myovox_bn_train_stats((double *)(intptr_t)w[2], (double *)(intptr_t)w[3], o, b * npos, F32(2),
                                  hyper[2 * blk + 1], hyper[2 * blk], F32(4), F32(5), (int64_t *)(intptr_t)e[6],
                                  mean, (float *)(intptr_t)w[5], a);
        } else {
            mean = F32(4);
            eval_slope(F32(2), F32(5), hyper[2 * blk + 1], o, a);
        }
        myovox_spatial_bn_relu(z, b * npos, o, mean, a, F32(3), y);
        prev = y;
        if (j == n_spatial - 1)
            myovox_spatial_mean(y, b, npos, o, (float *)(intptr_t)tab[1]);
        g += 11;
        e += TAB_SPATIAL;
    }
    return 0;
}

int myovox_net_fwd(const int64_t *geo, const double *hyper, const int64_t *tab)
{
    return net_forward(geo, hyper, tab, 1);
}

/* The forward pass in evaluation mode (no running average changes, nothing kept for a backward pass). */
int myovox_net_eval(const int64_t *geo, const double *hyper, const int64_t *tab)
{
    return net_forward(geo, hyper, tab, 0);
}

int myovox_net_bwd(const int64_t *geo, const int64_t *tab)
{
    const int64_t n_temporal = geo[0], n_spatial = geo[1], n_blocks = n_temporal + n_spatial;
    const float *zeros = (const float *)(intptr_t)tab[2];
    int rc;
    /* each block's table entries and geometry, found by walking forward once */
    const int64_t *ent[64], *geom[64];
    if (n_blocks > 64)
        return -3;
    {
        const int64_t *e = tab + TAB_HEAD, *g = geo + 3;
        for (int64_t i = 0; i < n_blocks; ++i) {
            ent[i] = e;
            geom[i] = g;
            e += i == 0 ? TAB_FIRST : i < n_temporal ? TAB_TEMPORAL : TAB_SPATIAL;
            g += i == 0 ? 8 : i < n_temporal ? 10 : 11;
        }
    }
    /* the output of block i (its input for i + 1) and the gradient of that output */
#define OUT_OF(i) ((float *)(intptr_t)ent[i][TAB_PARAMS + ((i) == 0 ? 5 : 2)])
#define DOUT_OF(i) ((float *)(intptr_t)ent[i][TAB_PARAMS + ((i) == 0 ? 15 : 13)])
    for (int64_t j = n_spatial - 1; j >= 0; --j) {
        const int64_t blk = n_temporal + j, *e = ent[blk], *g = geom[blk], *w = e + TAB_PARAMS;
        const int64_t b = g[0], t = g[1], r = g[2], c = g[3], o = g[4], k = g[5], npos = g[6];
        float *dy = (float *)(intptr_t)w[7], *dz = (float *)(intptr_t)w[8];
        if (j == n_spatial - 1)
            myovox_spatial_mean_bwd((const float *)(intptr_t)tab[3], b, npos, o, dy);
        rc = myovox_spatial_bn_bwd(dy, (float *)(intptr_t)w[1], (float *)(intptr_t)w[0], b, npos, o,
                                   (float *)(intptr_t)w[4], (float *)(intptr_t)w[5], F32(2), dz, F32(10), F32(9),
                                   F32(8));
        if (rc)
            return rc;
        const float *xin = j ? (const float *)(intptr_t)ent[blk - 1][TAB_PARAMS + 1] : OUT_OF(n_temporal - 1);
        float *dx = j ? (float *)(intptr_t)ent[blk - 1][TAB_PARAMS + 7] : DOUT_OF(n_temporal - 1);
        rc = myovox_spatial_bwd(xin, b, t, r, c, g[7], g[8], g[9], g[10], F32(0), o, k, dz, F32(7), dx, g[7], g[8],
                                g[9], g[10]);
        if (rc)
            return rc;
    }
    for (int64_t i = n_temporal - 1; i >= 1; --i) {
        const int64_t *e = ent[i], *g = geom[i], *w = e + TAB_PARAMS;
        const int64_t n = g[0], c = g[1], t = g[2], f = g[3], k = g[4], pad = g[5], pool = g[6], tz = g[7],
                      tp = g[8], margin = g[9], width = tz + 2 * margin;
        float *gg = (float *)(intptr_t)w[10], *c2 = (float *)(intptr_t)w[11], *c3 = (float *)(intptr_t)w[12];
        float *dz = (float *)(intptr_t)w[14], *flip = (float *)(intptr_t)w[15];
        const float *wt = F32(0);
        rc = myovox_bn_relu_bwd(DOUT_OF(i), (float *)(intptr_t)w[2], (float *)(intptr_t)w[1], n, f, tp,
                                (float *)(intptr_t)w[5], (float *)(intptr_t)w[6], F32(2), n * tz, gg, F32(10),
                                F32(9), c2, c3, F32(8));
        if (rc)
            return rc;
        myovox_pool_bwd((float *)(intptr_t)w[0], n, f, tz, (int32_t *)(intptr_t)w[9], gg, c2, c3, pool, tp, dz,
                        margin, 0);
        /* the input gradient: a valid convolution of dz (zero margins) with the flipped, transposed kernels */
        for (int64_t fo = 0; fo < f; ++fo)
            for (int64_t ci = 0; ci < c; ++ci)
                for (int64_t j = 0; j < k; ++j)
                    flip[(ci * f + fo) * k + j] = wt[(fo * c + ci) * k + (k - 1 - j)];
        rc = myovox_conv1d(dz, n, f, width, width, 0, flip, zeros, c, k, t, DOUT_OF(i - 1), t);
        if (rc)
            return rc;
        rc = myovox_conv_dw(OUT_OF(i - 1), dz, width, margin, n, c, t, f, tz, k, pad, F32(7));
        if (rc)
            return rc;
    }
    {
        const int64_t *e = ent[0], *g = geom[0], *w = e + TAB_PARAMS;
        const int64_t n = g[0], t = g[1], f = g[2], k = g[3], pad = g[4], pool = g[5], tz = g[6], tp = g[7];
        float *gg = (float *)(intptr_t)w[12], *c2 = (float *)(intptr_t)w[13], *c3 = (float *)(intptr_t)w[14];
        rc = myovox_bn_relu_bwd(DOUT_OF(0), OUT_OF(0), (float *)(intptr_t)w[0], n, f, tp, zeros,
                                (float *)(intptr_t)w[9], F32(2), n * tz, gg, F32(10), F32(9), c2, c3, F32(8));
        if (rc)
            return rc;
        rc = myovox_first_dw((const float *)(intptr_t)tab[0], n, t, gg, (int32_t *)(intptr_t)w[1], f, k, pad, pool,
                             tp, (double *)(intptr_t)w[2], (double *)(intptr_t)w[3], F32(0), F32(1),
                             (float *)(intptr_t)w[4], (double *)(intptr_t)w[6], c3, F32(7));
        if (rc)
            return rc;
    }
#undef OUT_OF
#undef DOUT_OF
    return 0;
}
#undef F32
#undef F64

/* Threads of the OpenMP runtime these kernels use (1 without OpenMP); set them when that runtime
 * is not torch's own (_c/__init__.py checks). */
#ifdef _OPENMP
#include <omp.h>
int myovox_max_threads(void) { return omp_get_max_threads(); }
void myovox_set_threads(int n) { omp_set_num_threads(n); }
#else
int myovox_max_threads(void) { return 1; }
void myovox_set_threads(int n) { (void)n; }
#endif
