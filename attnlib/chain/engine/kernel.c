/* One full-batch step of a causal softmax attention head, forward and backward fused.
 *
 * This is the compiled half of attnlib's engine (attnlib/chain/engine/kernel.py builds it with gcc,
 * attnlib/chain/engine/step.py calls it); it computes exactly what the torch path of
 * attnlib.chain.engine.step.RunGroup computes, with the same closed forms, only without ever writing an
 * N x N matrix to memory.
 *
 * Layout: rows as SIMD lanes. A tile is L consecutive query rows i0 .. i0+L-1 (L = 16
 * with AVX-512, 8 otherwise); every per-row quantity of the tile is one vector, and a
 * column j contributes to all L rows at once with one broadcast of its scalars. For
 * each tile, over the columns j the tile sees (j <= i when causal):
 *
 *   A  e_ij = exp(q_i . k_j - m_i), masked, into buf[j];  l_i += e_ij, where the shift is
 *      m_i = |q_i| max_{j seen} |k_j| >= max_j s_ij (Cauchy-Schwarz), or when asked ("exact",
 *      the caller's fallback if that bound was so loose that l_i underflowed) the true maximum
 *   B  (E X)_i = sum_j e_ij x_j                                 (d_x accumulators)
 *   -  per row: z_i = (E X)_i W_V W_O / l_i, p_i = softmax(z_i), -log p_i[y_i], dz_i = p_i - e_{y_i},
 *      c_i = dz_i . z_i   (N times the routing baseline E_alpha[b])
 *   D  (only when asked) column sums sum_i e_ij dz_i / l_i      (alpha^T dZ, for |dL/dV|),
 *      kept per lane (folded to half a vector) and added across lanes once per step
 *   C1 g_ij = e_ij (dz_i . z0_j - c_i) into buf[j], z0_j = x_j W_V W_O
 *      (= N l_i dL/ds_ij, the routing law);  sum_j g_ij^2
 *   C2 (G X)_i = sum_j g_ij x_j                                 (d_x accumulators)
 *   -  per tile: X^T (dL/dS) X += sum_i x_i^T (G X)_i / (N l_i) and
 *      (alpha X)^T dL/dZ += sum_i (E X)_i^T dz_i / (N l_i), each thread into its own sums
 *
 * What is left to the caller is tiny: the projections P = X [W_Q / sqrt(d_k), W_K, W_V W_O]
 * before, and the four weight gradients from those two small matrices after. DX, DK and NC
 * (d_x, d_k, number of classes) are compile-time constants, so the accumulators live in
 * registers.
 */
#include <math.h>
#include <pthread.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(DX) || !defined(DK) || !defined(NC)
#error "compile with -DDX=<d_x> -DDK=<d_k> -DNC=<n_classes>"
#endif

#if defined(LANES) /* for testing the narrower build */
#define L LANES
#elif defined(__AVX512F__)
#define L 16
#else
#define L 8
#endif

typedef float vf __attribute__((vector_size(L * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(L * sizeof(int32_t))));
#define H (L / 2)
typedef float vh __attribute__((vector_size(H * sizeof(float)))); /* half a vector: section D's sums */

#define INLINE static inline __attribute__((always_inline))

INLINE vf select_vf(vi mask, vf yes, vf no) { return (vf)(((vi)yes & mask) | ((vi)no & ~mask)); }

INLINE vf vmax(vf a, vf b) {
#if L == 16 && defined(__AVX512F__)
    return (vf)_mm512_max_ps((__m512)a, (__m512)b);
#else
    return select_vf(a > b, a, b);
#endif
}

/* exp(x) for x <= 88 to about 1e-7 relative error; x below -87 gives about exp(-87).
 * x = n ln 2 + r with |r| <= ln 2 / 2, exp(r) by a degree-6 minimax polynomial
 * (coefficients fitted for this file), times 2^n. */
INLINE vf vexp(vf x) {
    x = vmax(x, (vf){} - 87.0f);
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const vf t = x * 1.44269504088896341f + magic;
    const vf n = t - magic;                                 /* round(x / ln 2) */
    const vf r = x - n * 0.693359375f + n * 2.12194440e-4f; /* x - n ln 2, in two parts */
    vf p = (vf){} + 1.3836835278e-3f;
    p = p * r + 8.3748158067e-3f;
    p = p * r + 4.1668225080e-2f;
    p = p * r + 1.6666419804e-1f;
    p = p * r + 4.9999991059e-1f;
    p = p * r + 1.0f;
    p = p * r + 1.0f; /* exp(r) */
#if L == 16 && defined(__AVX512F__)
    return (vf)_mm512_scalef_ps((__m512)p, (__m512)n);
#else
    const vi two_n = (((vi)t - (vi)((vf){} + magic)) + 127) << 23; /* bits of 2^n */
    return p * (vf)two_n;
#endif
}

/* The two halves of v added: L lanes folded to L / 2 (section D keeps its sums this wide). */
INLINE vh fold(vf v) {
    vh lo, hi;
    memcpy(&lo, &v, sizeof(vh));
    memcpy(&hi, (const char *)&v + sizeof(vh), sizeof(vh));
    return lo + hi;
}

/* acc[d] = sum_{j < jend} buf[j] x_j[d], one lane per row of the tile; written to out[d][lane]. */
INLINE void accumulate_x(const vf *buf, const float *X, int jend, float out[DX][L]) {
    vf acc[DX];
    for (int d = 0; d < DX; d++) acc[d] = (vf){};
    for (int j = 0; j < jend; j++) {
        const vf w = buf[j];
        const float *x = X + (size_t)j * DX;
#pragma GCC unroll 64
        for (int d = 0; d < DX; d++) acc[d] += w * x[d];
    }
    for (int d = 0; d < DX; d++) memcpy(out[d], &acc[d], sizeof(vf));
}

typedef struct {
    int R, N, causal, exact, forward_only, want_dv, n_tiles;
    const float *X;       /* (R,N,DX) inputs */
    const float *P;       /* (R,N,PW) projections [q_i / sqrt(d_k), k_i, z0_i = x_i W_V W_O] */
    const float *WVO;     /* (R,DX,NC) W_V W_O */
    const int64_t *y;     /* (R,N) targets */
    const float *kmax;    /* (R,N) max_{j <= i} |k_j| (causal) or max_j |k_j| */
    float *m;             /* (R,N) out: the score shift m_i */
    float *EX1;           /* (R,N,DX+1) out: [sum_j e_ij x_j, l_i] */
    float *Z;             /* (R,N,NC) out: logits z_i */
    float *gsq, *nll;     /* (R,N) out: sum_j g_ij^2, -log p_i[y_i] */
    float *dA, *AXdz;     /* (R,DX,DX) (R,DX,NC) out: X^T (dL/dS) X and (alpha X)^T dL/dZ */
    int *next;            /* next work item (atomic), on its own cache line */
} job_t;

#define PW (2 * DK + NC) /* row width of P */

/* A thread's own sums over its tiles, as vectors (one lane per row), per run. */
typedef struct {
    vf *dA;   /* (R,DX,DX) */
    vf *AXdz; /* (R,DX,NC) */
    vh *dVa;  /* (R,N,NC) alpha^T dZ, lanes folded to half a vector, or NULL */
} sums_t;

/* One tile: rows i0 .. i0+L-1, row i0+k in lane k; rows past N are padding. */
static void do_tile(job_t *J, int r, int i0, vf *buf, sums_t *S) {
    const int N = J->N;
    const float *X = J->X + (size_t)r * N * DX;
    const float *P = J->P + (size_t)r * N * PW;
    const float *WVO = J->WVO + (size_t)r * DX * NC;
    const int64_t *y = J->y + (size_t)r * N;
    const size_t row0 = (size_t)r * N + i0; /* this tile's first row in the (R,N,.) outputs */
    const int rows = N - i0 < L ? N - i0 : L;
    const int jend = J->causal ? (i0 + L < N ? i0 + L : N) : N;
    const int diag = J->causal ? i0 : N; /* columns from here on need the causal mask */

    vf q[DK], valid;
    vi lane_row, label;
    for (int k = 0; k < L; k++) {
        lane_row[k] = i0 + k;
        label[k] = k < rows ? (int32_t)y[i0 + k] : -1;
        valid[k] = k < rows ? 1.0f : 0.0f;
    }
    for (int d = 0; d < DK; d++)
        for (int k = 0; k < L; k++) q[d][k] = k < rows ? P[(size_t)(i0 + k) * PW + d] : 0.0f;

    vf shift = (vf){};
    if (J->exact) { /* the exact row maximum of the scores the row sees */
        shift -= INFINITY;
        for (int j = 0; j < jend; j++) {
            vf s = (vf){};
            for (int d = 0; d < DK; d++) s += q[d] * P[(size_t)j * PW + DK + d];
            if (j >= diag) s = select_vf(lane_row >= j, s, (vf){} - INFINITY);
            shift = vmax(s, shift);
        }
    } else { /* Cauchy-Schwarz: s_ij <= |q_i| max_{j seen} |k_j| */
        vf q2 = (vf){};
        for (int d = 0; d < DK; d++) q2 += q[d] * q[d];
        for (int k = 0; k < rows; k++)
            shift[k] = sqrtf(q2[k]) * J->kmax[(size_t)r * N + (J->causal ? i0 + k : N - 1)];
    }
    for (int k = 0; k < rows; k++) J->m[row0 + k] = shift[k];

    /* A: e_ij and the row sums l_i */
    vf l = (vf){};
    for (int j = 0; j < jend; j++) {
        const float *kj = P + (size_t)j * PW + DK;
        vf s = -shift;
#pragma GCC unroll 16
        for (int d = 0; d < DK; d++) s += q[d] * kj[d];
        vf e = vexp(s);
        if (j >= diag) e = select_vf(lane_row >= j, e, (vf){});
        buf[j] = e;
        l += e;
    }

    /* B: (E X)_i */
    float ex[DX][L];
    accumulate_x(buf, X, jend, ex);

    /* per row, all lanes at once: logits, probabilities, loss, dz_i = p_i - e_{y_i}, c_i = dz_i . z_i */
    vf z[NC], dz[NC];
    vf inv_l = 1.0f / l;
    for (int c = 0; c < NC; c++) z[c] = (vf){};
    for (int d = 0; d < DX; d++) {
        vf ax;
        memcpy(&ax, ex[d], sizeof(vf));
        ax *= inv_l; /* (alpha X)_i[d] */
        for (int c = 0; c < NC; c++) z[c] += ax * WVO[d * NC + c];
    }
    vf zmax = z[0], total = (vf){}, z_y = (vf){}, c_row = (vf){};
    for (int c = 1; c < NC; c++) zmax = vmax(zmax, z[c]);
    for (int c = 0; c < NC; c++) total += (dz[c] = vexp(z[c] - zmax));
    const vf inv_total = 1.0f / total;
    for (int c = 0; c < NC; c++) {
        const vi is_y = label == c;
        z_y = select_vf(is_y, z[c], z_y);
        dz[c] = (dz[c] * inv_total - select_vf(is_y, (vf){} + 1.0f, (vf){})) * valid;
        c_row += dz[c] * z[c];
    }
    for (int k = 0; k < rows; k++) {
        float *ex1 = J->EX1 + (row0 + k) * (DX + 1);
        for (int d = 0; d < DX; d++) ex1[d] = ex[d][k];
        ex1[DX] = l[k];
        for (int c = 0; c < NC; c++) {
            J->Z[(row0 + k) * NC + c] = z[c][k];
        }
        J->nll[row0 + k] = logf(total[k]) + zmax[k] - z_y[k];
    }
    if (J->forward_only) return;

    /* (alpha X)^T dL/dZ, with dL/dz_i = dz_i / N */
    const float inv_n = 1.0f / (float)N;
    vf *AXdz = S->AXdz + (size_t)r * DX * NC;
    for (int d = 0; d < DX; d++) {
        vf ax;
        memcpy(&ax, ex[d], sizeof(vf));
        ax *= inv_l * inv_n;
        for (int c = 0; c < NC; c++) AXdz[d * NC + c] += ax * dz[c];
    }

    /* D: alpha^T dZ over this tile's rows (padded lanes have dz = 0). A horizontal sum
       per column and class would cost more than the products; instead each entry keeps
       its lanes, folded to half a vector, and attn_step adds them once per step. */
    if (J->want_dv) {
        vf dzl[NC];
        for (int c = 0; c < NC; c++) dzl[c] = dz[c] * inv_l;
        vh *dVa = S->dVa + (size_t)r * N * NC;
        for (int j = 0; j < jend; j++) {
            const vf e = buf[j];
            for (int c = 0; c < NC; c++) dVa[(size_t)j * NC + c] += fold(e * dzl[c]);
        }
    }

    /* C1: g_ij = e_ij (dz_i . z0_j - c_i), the routing law times N l_i */
    vf g2 = (vf){};
    for (int j = 0; j < jend; j++) {
        const float *z0 = P + (size_t)j * PW + 2 * DK;
        vf h = -c_row;
#pragma GCC unroll 16
        for (int c = 0; c < NC; c++) h += dz[c] * z0[c];
        const vf g = buf[j] * h;
        buf[j] = g;
        g2 += g * g;
    }

    /* C2: (G X)_i, then X^T (dL/dS) X += sum_i x_i (G X)_i / (N l_i) */
    float gx[DX][L];
    accumulate_x(buf, X, jend, gx);
    vf xt[DX];
    for (int d = 0; d < DX; d++)
        for (int k = 0; k < L; k++) xt[d][k] = k < rows ? X[(size_t)(i0 + k) * DX + d] : 0.0f;
    vf *dA = S->dA + (size_t)r * DX * DX;
    for (int e = 0; e < DX; e++) {
        vf gxe;
        memcpy(&gxe, gx[e], sizeof(vf));
        gxe *= inv_l * inv_n;
        for (int d = 0; d < DX; d++) dA[d * DX + e] += xt[d] * gxe;
    }
    for (int k = 0; k < rows; k++) J->gsq[row0 + k] = g2[k];
}

typedef struct {
    job_t *job;
    vf *buf;     /* (N+L,) this thread's row buffer: e_ij, then g_ij, for the current tile */
    sums_t sums; /* this thread's own sums */
} worker_t;

static void *worker(void *arg) {
    worker_t *W = (worker_t *)arg;
    job_t *J = W->job;
#if defined(__SSE__)
    /* Flush denormals to zero: weights e_ij below 1e-38 add nothing next to l_i, and
       arithmetic on denormals is ~100x slower. The caller's setting is restored below. */
    const unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
#endif
    const int items = J->R * J->n_tiles;
    for (;;) {
        const int k = __atomic_fetch_add(&J->next[0], 1, __ATOMIC_RELAXED);
        if (k >= items) break;
        /* run by run, so that a run's X and P stay in cache; in each run the widest
           (last) tiles first, so that the threads finish together */
        do_tile(J, k / J->n_tiles, (J->n_tiles - 1 - k % J->n_tiles) * L, W->buf, &W->sums);
    }
#if defined(__SSE__)
    _mm_setcsr(csr);
#endif
    return NULL;
}

static float lane_sum(vf v) {
    float total = 0.0f;
    for (int k = 0; k < L; k++) total += v[k];
    return total;
}

static float half_sum(vh v) {
    float total = 0.0f;
    for (int k = 0; k < H; k++) total += v[k];
    return total;
}

/* Lane width, and the compiled dimensions (so the caller can check it loaded the right build). */
int attn_kernel_info(int *lanes, int *dx, int *dk, int *nc) {
    *lanes = L;
    *dx = DX;
    *dk = DK;
    *nc = NC;
    return 0;
}

/* Floats per thread in the scratch memory attn_step needs (a multiple of L). */
static size_t thread_floats(int R, int N) {
    return ((size_t)N + L) * L                 /* buf */
           + (size_t)R * DX * (DX + NC) * L    /* dA and AXdz sums */
           + ((size_t)R * N * NC * H + L) / L * L; /* dVa sums, half a vector each */
}

/* Size of the scratch argument of attn_step, in floats. */
long attn_scratch_floats(int R, int N, int n_threads) {
    return (long)(n_threads * thread_floats(R, N) + ((size_t)R * N + L) / L * L);
}

/* One step for R runs on n_threads threads; scratch (attn_scratch_floats, 64-byte aligned)
 * is the caller's, so nothing is allocated here. Returns 0. */
int attn_step(int R, int N, int causal, int exact, int forward_only, int want_dv, int n_threads,
              const float *X, const float *P, const float *WVO, const int64_t *y, float *m,
              float *EX1, float *Z, float *gsq, float *nll, float *dA, float *AXdz, float *dVa,
              float *scratch) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    want_dv = want_dv && !forward_only;
    float *kmax = scratch + n_threads * thread_floats(R, N);
    for (int r = 0; r < R; r++) { /* running maximum of |k_j| */
        float run_max = 0.0f;
        for (int j = 0; j < N; j++) {
            const float *k = P + ((size_t)r * N + j) * PW + DK;
            float k2 = 0.0f;
            for (int d = 0; d < DK; d++) k2 += k[d] * k[d];
            run_max = fmaxf(run_max, sqrtf(k2));
            kmax[(size_t)r * N + j] = run_max;
        }
    }
    int next[32] __attribute__((aligned(64))) = {0}; /* the work counter, on a cache line of its own */
    job_t J = {R, N, causal, exact, forward_only, want_dv, (N + L - 1) / L,
               X, P, WVO, y, kmax, m, EX1, Z, gsq, nll, dA, AXdz, next + 16};
    const size_t n_dA = (size_t)R * DX * DX, n_AXdz = (size_t)R * DX * NC, n_dv = (size_t)R * N * NC;
    worker_t workers[64];
    pthread_t threads[64];
    int started[64] = {0};
    for (int t = 0; t < n_threads; t++) {
        float *mine = scratch + t * thread_floats(R, N);
        workers[t].job = &J;
        workers[t].buf = (vf *)mine;
        workers[t].sums.dA = (vf *)(mine + ((size_t)N + L) * L);
        workers[t].sums.AXdz = workers[t].sums.dA + n_dA;
        workers[t].sums.dVa = want_dv ? (vh *)(workers[t].sums.AXdz + n_AXdz) : NULL;
        memset(workers[t].sums.dA, 0, (n_dA + n_AXdz) * sizeof(vf));
        if (want_dv) memset(workers[t].sums.dVa, 0, n_dv * sizeof(vh));
    }
    for (int t = 1; t < n_threads; t++)
        started[t] = pthread_create(&threads[t], NULL, worker, &workers[t]) == 0;
    worker(&workers[0]); /* also does the work of any thread that failed to start */
    for (int t = 1; t < n_threads; t++)
        if (started[t]) pthread_join(threads[t], NULL);
    if (!forward_only) { /* add up the threads' sums, then the lanes */
        for (size_t k = 0; k < n_dA; k++) {
            vf total = (vf){};
            for (int t = 0; t < n_threads; t++) total += workers[t].sums.dA[k];
            dA[k] = lane_sum(total);
        }
        for (size_t k = 0; k < n_AXdz; k++) {
            vf total = (vf){};
            for (int t = 0; t < n_threads; t++) total += workers[t].sums.AXdz[k];
            AXdz[k] = lane_sum(total);
        }
        if (want_dv)
            for (size_t k = 0; k < n_dv; k++) {
                vh total = (vh){};
                for (int t = 0; t < n_threads; t++) total += workers[t].sums.dVa[k];
                dVa[k] = half_sum(total);
            }
    }
    return 0;
}
