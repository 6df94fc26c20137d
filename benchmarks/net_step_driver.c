/* A whole-network training step of myovox's C kernels (myovox_net_fwd, then myovox_net_bwd), and the
 * evaluation-mode forward pass, outside Python: for running the kernels built for another instruction set
 * (under QEMU user mode) on the same inputs as on this machine. Built together with kernels.c, e.g.
 *
 *     aarch64-linux-gnu-gcc -O3 -fopenmp kernels.c net_step_driver.c -o step && qemu-aarch64 -L ... step in out
 *
 * benchmarks/cross_arch.py writes the input file and compares the outputs; the file formats (little-endian)
 * are described there: the header counts, geo, hyper, the table's slots (what each address is), the
 * parameters, x and the features' gradient in; the features, the parameters after the step (running
 * statistics), the gradients and the evaluation features out. With a third argument R, the step (forward and
 * backward) then runs R more times on the written outputs' inputs and the fastest and the median seconds per step
 * are printed: kernel time without Python, for comparing two versions of kernels.c. Exit status 0, or 1 with a
 * message. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign and clock_gettime under -std=c99 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int myovox_net_fwd(const int64_t *geo, const double *hyper, const int64_t *tab);
int myovox_net_eval(const int64_t *geo, const double *hyper, const int64_t *tab);
int myovox_net_bwd(const int64_t *geo, const int64_t *tab);

enum { N_HEAD = 10 };
enum { SLOT_X, SLOT_FEATS, SLOT_GO, SLOT_FWD, SLOT_BWD, SLOT_PARAM, SLOT_GRAD };

static void *zeroed(int64_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)(bytes > 0 ? bytes : 64)) != 0)
        return NULL;
    memset(p, 0, (size_t)(bytes > 0 ? bytes : 64));
    return p;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what)
{
    fprintf(stderr, "net_step_driver: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4)
        return fail("usage: net_step_driver IN OUT [REPEAT]");
    FILE *in = fopen(argv[1], "rb");
    if (in == NULL)
        return fail("cannot open the input file");
    int64_t h[N_HEAD]; /* n_geo, n_hyper, tab_len, fwd, bwd, param and grad bytes, x, feats and go floats */
    if (fread(h, sizeof h, 1, in) != 1)
        return fail("short header");
    int64_t *geo = zeroed(8 * h[0]), *kind = zeroed(8 * h[2]), *value = zeroed(8 * h[2]);
    int64_t *tab = zeroed(8 * h[2]);
    double *hyper = zeroed(8 * h[1]);
    char *fwd = zeroed(h[3]), *bwd = zeroed(h[4]), *params = zeroed(h[5]), *grads = zeroed(h[6]);
    float *x = zeroed(4 * h[7]), *feats = zeroed(4 * h[8]), *go = zeroed(4 * h[9]), *eval = zeroed(4 * h[8]);
    if (!geo || !kind || !value || !tab || !hyper || !fwd || !bwd || !params || !grads || !x || !feats || !go
        || !eval)
        return fail("out of memory");
    if (fread(geo, 8, (size_t)h[0], in) != (size_t)h[0] || fread(hyper, 8, (size_t)h[1], in) != (size_t)h[1]
        || fread(kind, 8, (size_t)h[2], in) != (size_t)h[2] || fread(value, 8, (size_t)h[2], in) != (size_t)h[2]
        || fread(params, 1, (size_t)h[5], in) != (size_t)h[5] || fread(x, 4, (size_t)h[7], in) != (size_t)h[7]
        || fread(go, 4, (size_t)h[9], in) != (size_t)h[9])
        return fail("short input file");
    fclose(in);
    char *params0 = zeroed(h[5]); /* the parameters before the step, for the evaluation pass */
    if (params0 == NULL)
        return fail("out of memory");
    memcpy(params0, params, (size_t)h[5]);
    for (int64_t i = 0; i < h[2]; ++i) {
        switch (kind[i]) {
        case SLOT_X: tab[i] = (int64_t)(intptr_t)x; break;
        case SLOT_FEATS: tab[i] = (int64_t)(intptr_t)feats; break;
        case SLOT_GO: tab[i] = (int64_t)(intptr_t)go; break;
        case SLOT_FWD: tab[i] = (int64_t)(intptr_t)(fwd + value[i]); break;
        case SLOT_BWD: tab[i] = (int64_t)(intptr_t)(bwd + value[i]); break;
        case SLOT_PARAM: tab[i] = (int64_t)(intptr_t)(params + value[i]); break;
        case SLOT_GRAD: tab[i] = (int64_t)(intptr_t)(grads + value[i]); break;
        default: return fail("unknown slot kind");
        }
    }
    if (myovox_net_fwd(geo, hyper, tab) != 0 || myovox_net_bwd(geo, tab) != 0)
        return fail("a kernel failed");
    /* evaluation mode on the parameters as they were, the features into their own buffer */
    int64_t *tab_eval = zeroed(8 * h[2]);
    if (tab_eval == NULL)
        return fail("out of memory");
    for (int64_t i = 0; i < h[2]; ++i)
        tab_eval[i] = kind[i] == SLOT_PARAM ? (int64_t)(intptr_t)(params0 + value[i])
                      : kind[i] == SLOT_FEATS ? (int64_t)(intptr_t)eval
                                               : tab[i];
    if (myovox_net_eval(geo, hyper, tab_eval) != 0)
        return fail("the evaluation pass failed");
    FILE *out = fopen(argv[2], "wb");
    if (out == NULL)
        return fail("cannot write the output file");
    if (fwrite(feats, 4, (size_t)h[8], out) != (size_t)h[8] || fwrite(params, 1, (size_t)h[5], out) != (size_t)h[5]
        || fwrite(grads, 1, (size_t)h[6], out) != (size_t)h[6] || fwrite(eval, 4, (size_t)h[8], out) != (size_t)h[8])
        return fail("short write");
    fclose(out);
    const int repeat = argc == 4 ? atoi(argv[3]) : 0;
    if (repeat > 0) { /* the running statistics and the counters keep moving: the same work each time */
        double *seconds = zeroed(8 * repeat);
        if (seconds == NULL)
            return fail("out of memory");
        for (int i = 0; i < repeat; ++i) {
            const double t0 = now();
            if (myovox_net_fwd(geo, hyper, tab) != 0 || myovox_net_bwd(geo, tab) != 0)
                return fail("a kernel failed");
            seconds[i] = now() - t0;
        }
        qsort(seconds, (size_t)repeat, sizeof(double), by_value);
        printf("%d steps: fastest %.6f s, median %.6f s\n", repeat, seconds[0], seconds[repeat / 2]);
    }
    return 0;
}
