/* dataset.c — the batch iterator over host arrays: features (N, d1, ...) float and labels (N)
 * int32, both borrowed. Each batch gathers its samples into buffers owned by the data set,
 * normalised as x' = (x * scale - mean) / std (scalar or per feature), with optional one-hot
 * labels. The order of an epoch is a permutation that depends only on (seed, epoch):
 * xoshiro256** seeded by splitmix64, Fisher–Yates with unbiased bounded draws; no global state.
 * Also the deterministic validation split. Files are read in idx.c and csv.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

struct clnn_dataset {
    const float *features;
    const int32_t *labels;
    int ndim;
    int64_t shape[CLNN_MAX_DIMS + 2]; /* shape[0] = N of the source arrays */
    int64_t sample_numel;
    int64_t *ids;   /* the samples of this data set (indexes into the source arrays) */
    int64_t count;  /* number of ids */
    int64_t *order; /* (count) this epoch's order: positions into ids */
    clnn_dataset_options opt;
    float *feature_mean, *feature_std; /* owned copies, or NULL */
    int num_classes;
    int64_t epoch, next_batch; /* next_batch < 0: the epoch's order is not made yet */
    int ended;                 /* the size-0 batch of this epoch was returned */
    float *x, *y_one_hot;      /* batch buffers */
    int32_t *y;
    int64_t *batch_ids;
    char error[512];
};

/* order[0..n-1] = a permutation of 0..n-1 from (seed, stream). */
static void permutation(int64_t *order, int64_t n, uint64_t seed, uint64_t stream)
{
    clnn__rng r;
    clnn__rng_seed_stream(&r, seed, stream);
    clnn__permutation(order, n, &r);
}

/* ---- creation ------------------------------------------------------------------------------ */
void clnn_dataset_options_init(clnn_dataset_options *options)
{
    if (!options)
        return;
    memset(options, 0, sizeof *options);
    options->batch_size = 32;
    options->shuffle = 1;
    options->scale = 1.0f;
    options->mean = 0.0f;
    options->std = 1.0f;
}

void clnn_dataset_destroy(clnn_dataset *ds)
{
    if (!ds)
        return;
    free(ds->ids);
    free(ds->order);
    free(ds->feature_mean);
    free(ds->feature_std);
    free(ds->x);
    free(ds->y);
    free(ds->y_one_hot);
    free(ds->batch_ids);
    free(ds);
}

static float *copy_floats(const float *src, int64_t n)
{
    float *d = malloc((size_t)n * sizeof *d);
    if (d)
        memcpy(d, src, (size_t)n * sizeof *d);
    return d;
}

/* A data set over ids[0..count-1] (taken over) of the given source; buffers allocated. */
static clnn_status make(const float *features, int ndim, const int64_t *shape,
                        const int32_t *labels, int64_t sample_numel, int num_classes,
                        const clnn_dataset_options *o, const float *fmean, const float *fstd,
                        int64_t *ids, int64_t count, clnn_dataset **out, char *err, size_t err_size)
{
    clnn_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        free(ids);
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "clnn_dataset: out of host memory");
    }
    ds->features = features;
    ds->labels = labels;
    ds->ndim = ndim;
    memcpy(ds->shape, shape, (size_t)ndim * sizeof *shape);
    ds->sample_numel = sample_numel;
    ds->ids = ids;
    ds->count = count;
    ds->opt = *o;
    ds->opt.feature_mean = ds->opt.feature_std = NULL;
    ds->num_classes = num_classes;
    ds->next_batch = -1;
    int64_t b = o->batch_size < count ? o->batch_size : count;
    ds->order = malloc((size_t)count * sizeof *ds->order);
    ds->x = malloc((size_t)(b * sample_numel) * sizeof *ds->x);
    ds->batch_ids = malloc((size_t)b * sizeof *ds->batch_ids);
    int ok = ds->order && ds->x && ds->batch_ids;
    if (labels) {
        ds->y = malloc((size_t)b * sizeof *ds->y);
        ok = ok && ds->y;
        if (o->one_hot) {
            ds->y_one_hot = malloc((size_t)(b * num_classes) * sizeof *ds->y_one_hot);
            ok = ok && ds->y_one_hot;
        }
    }
    if (fmean) {
        ds->feature_mean = copy_floats(fmean, sample_numel);
        ok = ok && ds->feature_mean;
    }
    if (fstd) {
        ds->feature_std = copy_floats(fstd, sample_numel);
        ok = ok && ds->feature_std;
    }
    if (!ok) {
        clnn_dataset_destroy(ds);
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM,
                             "clnn_dataset: cannot allocate batch buffers of %lld samples x %lld "
                             "features",
                             (long long)b, (long long)sample_numel);
    }
    *out = ds;
    return CLNN_OK;
}

clnn_status clnn_dataset_create(const float *features, int ndim, const int64_t *shape,
                                const int32_t *labels, const clnn_dataset_options *options,
                                clnn_dataset **out, char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!out)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: expected an out pointer, given NULL");
    *out = NULL;
    if (!features || !shape)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: expected features and shape, given NULL %s",
                             !features ? "features" : "shape");
    if (ndim < 1 || ndim > CLNN_MAX_DIMS + 2)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: expected ndim in 1..%d, given %d",
                             CLNN_MAX_DIMS + 2, ndim);
    int64_t sample_numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                 "clnn_dataset_create: expected shape[%d] >= 1, given %lld", i,
                                 (long long)shape[i]);
        if (i > 0) {
            if (sample_numel > INT64_MAX / 4 / shape[i] / shape[0])
                return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                     "clnn_dataset_create: the shape is too large (overflow at "
                                     "dimension %d)",
                                     i);
            sample_numel *= shape[i];
        }
    }
    clnn_dataset_options o;
    clnn_dataset_options_init(&o);
    if (options)
        o = *options;
    if (o.batch_size < 1)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: expected batch_size >= 1, given %lld",
                             (long long)o.batch_size);
    if (!(o.std != 0.0f) || !isfinite(o.std) || !isfinite(o.mean) || !isfinite(o.scale))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: expected finite scale and mean and a finite "
                             "non-zero std, given scale %g, mean %g, std %g",
                             (double)o.scale, (double)o.mean, (double)o.std);
    if (o.feature_std)
        for (int64_t i = 0; i < sample_numel; i++)
            if (!(o.feature_std[i] != 0.0f) || !isfinite(o.feature_std[i]))
                return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                     "clnn_dataset_create: expected finite non-zero feature_std, "
                                     "given %g at feature %lld",
                                     (double)o.feature_std[i], (long long)i);
    int64_t n = shape[0];
    int num_classes = 0;
    if (labels) {
        int32_t max = -1;
        for (int64_t i = 0; i < n; i++) {
            if (labels[i] < 0 || (o.num_classes > 0 && labels[i] >= o.num_classes))
                return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                     "clnn_dataset_create: expected labels in 0..%d, given %d at "
                                     "sample %lld",
                                     o.num_classes > 0 ? o.num_classes - 1 : INT32_MAX,
                                     (int)labels[i], (long long)i);
            if (labels[i] > max)
                max = labels[i];
        }
        num_classes = o.num_classes > 0 ? o.num_classes : max + 1;
    } else if (o.one_hot) {
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: one_hot needs labels, given NULL labels");
    } else if (o.num_classes < 0) {
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_dataset_create: expected num_classes >= 0, given %d",
                             o.num_classes);
    }
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "clnn_dataset: out of host memory");
    for (int64_t i = 0; i < n; i++)
        ids[i] = i;
    return make(features, ndim, shape, labels, sample_numel, num_classes, &o, o.feature_mean,
                o.feature_std, ids, n, out, err, err_size);
}

/* ---- iteration ----------------------------------------------------------------------------- */
static void begin_epoch(clnn_dataset *ds)
{
    if (ds->opt.shuffle)
        permutation(ds->order, ds->count, ds->opt.seed, (uint64_t)ds->epoch);
    else
        for (int64_t i = 0; i < ds->count; i++)
            ds->order[i] = i;
    ds->next_batch = 0;
    ds->ended = 0;
}

int64_t clnn_dataset_batches(const clnn_dataset *ds)
{
    if (!ds)
        return 0;
    int64_t b = ds->opt.batch_size;
    return ds->opt.drop_last ? ds->count / b : (ds->count + b - 1) / b;
}

clnn_status clnn_dataset_next(clnn_dataset *ds, clnn_batch *batch)
{
    if (!ds)
        return CLNN_ERR_INVALID;
    if (!batch) {
        snprintf(ds->error, sizeof ds->error,
                 "clnn_dataset_next: expected a batch pointer, given NULL");
        return CLNN_ERR_INVALID;
    }
    if (ds->ended) { /* the size-0 batch was returned: this call starts the next epoch */
        ds->epoch++;
        ds->next_batch = -1;
    }
    if (ds->next_batch < 0)
        begin_epoch(ds);
    memset(batch, 0, sizeof *batch);
    batch->epoch = ds->epoch;
    batch->index = ds->next_batch;
    if (ds->next_batch >= clnn_dataset_batches(ds)) {
        ds->ended = 1;
        return CLNN_OK;
    }
    int64_t bs = ds->opt.batch_size, first = ds->next_batch * bs;
    int64_t size = ds->count - first < bs ? ds->count - first : bs;
    int64_t m = ds->sample_numel;
    float scale = ds->opt.scale, mean = ds->opt.mean, inv_std = 1.0f / ds->opt.std;
    for (int64_t k = 0; k < size; k++) {
        int64_t id = ds->ids[ds->order[first + k]];
        ds->batch_ids[k] = id;
        const float *src = ds->features + id * m;
        float *dst = ds->x + k * m;
        if (ds->feature_mean || ds->feature_std) {
            for (int64_t i = 0; i < m; i++) {
                float mu = ds->feature_mean ? ds->feature_mean[i] : mean;
                float sd = ds->feature_std ? ds->feature_std[i] : ds->opt.std;
                dst[i] = (src[i] * scale - mu) / sd;
            }
        } else {
            for (int64_t i = 0; i < m; i++)
                dst[i] = (src[i] * scale - mean) * inv_std;
        }
        if (ds->labels) {
            ds->y[k] = ds->labels[id];
            if (ds->y_one_hot) {
                float *row = ds->y_one_hot + k * ds->num_classes;
                memset(row, 0, (size_t)ds->num_classes * sizeof *row);
                row[ds->labels[id]] = 1.0f;
            }
        }
    }
    batch->size = size;
    batch->x = ds->x;
    batch->x_bytes = (size_t)(size * m) * sizeof(float);
    batch->samples = ds->batch_ids;
    if (ds->labels) {
        batch->y = ds->y;
        batch->y_bytes = (size_t)size * sizeof(int32_t);
        if (ds->y_one_hot) {
            batch->y_one_hot = ds->y_one_hot;
            batch->y_one_hot_bytes = (size_t)(size * ds->num_classes) * sizeof(float);
        }
    }
    ds->next_batch++;
    return CLNN_OK;
}

clnn_status clnn_dataset_rewind(clnn_dataset *ds, int64_t epoch)
{
    if (!ds)
        return CLNN_ERR_INVALID;
    if (epoch < 0) {
        snprintf(ds->error, sizeof ds->error,
                 "clnn_dataset_rewind: expected an epoch >= 0, given %lld", (long long)epoch);
        return CLNN_ERR_INVALID;
    }
    ds->epoch = epoch;
    ds->next_batch = -1;
    ds->ended = 0;
    return CLNN_OK;
}

int64_t clnn_dataset_size(const clnn_dataset *ds)
{
    return ds ? ds->count : 0;
}
int64_t clnn_dataset_sample_numel(const clnn_dataset *ds)
{
    return ds ? ds->sample_numel : 0;
}
int clnn_dataset_num_classes(const clnn_dataset *ds)
{
    return ds ? ds->num_classes : 0;
}
const char *clnn_dataset_last_error(const clnn_dataset *ds)
{
    return ds ? ds->error : "no data set (NULL)";
}

/* ---- validation split ---------------------------------------------------------------------- */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

clnn_status clnn_dataset_split(clnn_dataset *ds, double fraction, uint64_t seed,
                               clnn_dataset **train, clnn_dataset **val)
{
    if (!ds)
        return CLNN_ERR_INVALID;
    if (!train || !val) {
        snprintf(ds->error, sizeof ds->error,
                 "clnn_dataset_split: expected train and val pointers, given NULL");
        return CLNN_ERR_INVALID;
    }
    *train = *val = NULL;
    double want = fraction * (double)ds->count;
    int64_t nval = isfinite(want) ? (int64_t)floor(want + 0.5) : -1;
    if (!(fraction > 0.0 && fraction < 1.0) || nval < 1 || nval >= ds->count) {
        snprintf(ds->error, sizeof ds->error,
                 "clnn_dataset_split: expected a fraction in (0, 1) that leaves both parts "
                 "non-empty, given %g of %lld samples (%lld for validation)",
                 fraction, (long long)ds->count, (long long)nval);
        return CLNN_ERR_INVALID;
    }
    int64_t n = ds->count, ntrain = n - nval;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    int64_t *tids = malloc((size_t)ntrain * sizeof *tids);
    int64_t *vids = malloc((size_t)nval * sizeof *vids);
    if (!perm || !tids || !vids) {
        free(perm);
        free(tids);
        free(vids);
        snprintf(ds->error, sizeof ds->error, "clnn_dataset_split: out of host memory");
        return CLNN_ERR_NOMEM;
    }
    permutation(perm, n, seed, UINT64_MAX); /* a stream no epoch uses */
    for (int64_t i = 0; i < nval; i++)
        vids[i] = ds->ids[perm[i]];
    for (int64_t i = 0; i < ntrain; i++)
        tids[i] = ds->ids[perm[nval + i]];
    free(perm);
    qsort(vids, (size_t)nval, sizeof *vids, cmp_i64);
    qsort(tids, (size_t)ntrain, sizeof *tids, cmp_i64);
    clnn_dataset_options vo = ds->opt;
    vo.shuffle = 0;
    vo.drop_last = 0;
    clnn_status st = make(ds->features, ds->ndim, ds->shape, ds->labels, ds->sample_numel,
                          ds->num_classes, &ds->opt, ds->feature_mean, ds->feature_std, tids,
                          ntrain, train, ds->error, sizeof ds->error);
    if (st != CLNN_OK) {
        free(vids);
        return st;
    }
    st = make(ds->features, ds->ndim, ds->shape, ds->labels, ds->sample_numel, ds->num_classes, &vo,
              ds->feature_mean, ds->feature_std, vids, nval, val, ds->error, sizeof ds->error);
    if (st != CLNN_OK) {
        clnn_dataset_destroy(*train);
        *train = NULL;
    }
    return st;
}
