/* train.h — what train.c (compile, evaluate, predict, train_on_batch, tune; the checks of the
 * model and its data, a training step and an evaluation pass) shares with the files split off it:
 * fit.c (clnn_model_fit: the epoch loop, validation, early stopping, checkpoints, callbacks),
 * graphs.c (the per-batch-size device graphs), feed.c (the host staging of batches and their
 * double-buffered upload), metrics.c (the accuracy metrics of a pass), history.c (the history and
 * its CSV file), progress.c (the Keras-style progress output) and fit_dist.c (data-parallel fit
 * over MPI). The model structure itself is in model.h; nothing here is exported. */
#ifndef CLNN_TRAIN_H
#define CLNN_TRAIN_H

#include "model.h"

/* ---- the loss and the output --------------------------------------------------------------- */
static inline int clnn__loss_is_binary(clnn_loss_kind k)
{
    return k == CLNN_LOSS_BINARY_CROSSENTROPY || k == CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS;
}

static inline int clnn__loss_is_categorical(clnn_loss_kind k)
{
    return k == CLNN_LOSS_CATEGORICAL_CROSSENTROPY ||
           k == CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || k == CLNN_LOSS_CROSS_ENTROPY;
}

/* The target leaf of the loss: labels (i32, (n)) for CROSS_ENTROPY, else float of the output. */
static inline int clnn__target_is_labels(const clnn_model *m)
{
    return m->c.loss == CLNN_LOSS_CROSS_ENTROPY;
}

/* Values per sample of the model's output. */
static inline int64_t clnn__out_numel(const clnn_model *m)
{
    const clnn__mnode *o = &m->nodes[m->output];
    return clnn__numel(o->ndim, o->shape);
}

/* ---- device graphs (graphs.c) -------------------------------------------------------------- */
/* The graph of (kind, n), made on first use; the least recently used one is dropped when all
 * slots are taken (never the training graph the optimizer is attached to). */
clnn_status clnn__model_get_graph(clnn_model *m, clnn__gkind kind, int64_t n, clnn__mgraph **out);

/* ---- metrics (metrics.c) ------------------------------------------------------------------- */
#define CLNN__NMETRICS 4
extern const unsigned clnn__metric_bits[CLNN__NMETRICS]; /* CLNN_METRIC_* */
extern const char *const clnn__metric_names[CLNN__NMETRICS];

/* Sums of one pass: loss * samples, and per metric correct predictions and predictions made. */
typedef struct clnn__sums {
    double loss;
    int64_t samples;
    double correct[CLNN__NMETRICS], total[CLNN__NMETRICS];
} clnn__sums;

/* Adds one batch of outputs (n x per) to the metric sums; labels or targets (n x per). */
void clnn__metric_batch(const clnn_model *m, clnn__sums *s, const float *out, int64_t n,
                        const int32_t *labels, const float *targets);

/* ---- batches: host staging and the double-buffered feeder (feed.c) ------------------------- */
/* Grows *p to room for need elements of elem bytes (exactly need); -1 when out of memory. */
int clnn__grow_buf(void **p, size_t *cap, size_t need, size_t elem);

/* Host copies of one batch: the inputs (x, or xi for an int32 input), float targets t (the data's
 * targets, or each label one-hot / as a value when the loss takes floats) and the labels l. */
typedef struct clnn__host_batch {
    float *x, *t;
    int32_t *xi, *l;
} clnn__host_batch;

/* Waits for the last upload from the staging buffers (clnn__stage_batch) before they change. */
void clnn__stage_wait(clnn_model *m);
/* The model's own staging buffers (clnn__stage_batch, the single-queue path). */
clnn__host_batch clnn__model_stage(const clnn_model *m);
/* The single-queue path: gathers samples idx[first ..] (or first .. when idx is NULL), n of
 * them, into the model's staging buffers and writes them into mg's leaves on the main queue. */
clnn_status clnn__stage_batch(clnn_model *m, clnn__mgraph *mg, const clnn_data *d,
                              const int64_t *idx, int64_t first, int64_t n);

/* One of the feeder's two slots (feed.c describes the pipeline). */
typedef struct clnn__feed_slot {
    cl_mem pinned;                /* the host memory's buffer; NULL when it is plain host memory */
    void *host;                   /* the host staging memory (mapped from pinned, or malloc) */
    clnn__host_batch h;           /* views into host */
    clnn__storage *dev_x, *dev_t; /* device staging: the inputs, the target (NULL without) */
    cl_event uploaded;            /* the upload into dev_x, dev_t */
    cl_event consumed;            /* their copy into a graph's leaves */
    int64_t first, n;             /* the batch held, n = 0: none */
    clnn_status st;               /* a failure filling the slot, returned when it is taken */
    int no_memory; /* st: the slot's memory could not be made (feed_take turns off) */
} clnn__feed_slot;

/* Double-buffered batches of fit, evaluate and predict: the next batch is gathered and uploaded
 * on the upload queue while the device computes this one. */
typedef struct clnn__feeder {
    clnn_model *m;
    cl_command_queue q;      /* the upload queue; NULL: off (clnn__stage_batch) */
    int64_t cap;             /* samples per slot */
    int target;              /* 1: batches carry the loss's target */
    size_t x_bytes, t_bytes; /* per sample on the device: inputs, target (0 without) */
    clnn__feed_slot slot[2];
    int fill, take;  /* the slot the next clnn__feed_put fills, the slot the next feed_take reads */
    int64_t batches; /* taken from the upload queue (reported at the debug level by
                      * clnn__feed_close) */
} clnn__feeder;

/* 1 when f is not NULL and on (batches go through the upload queue). */
int clnn__feed_on(const clnn__feeder *f);
/* A feeder of batches of up to cap samples (with the target when target = 1), or an off one;
 * never fails. */
void clnn__feed_open(clnn__feeder *f, clnn_model *m, int64_t cap, int target);
/* Fills the next slot with samples idx[first ..] (or first ..), n <= cap of them, and starts
 * their upload; a failure stays with the slot (returned when its batch is taken). */
void clnn__feed_put(clnn__feeder *f, const clnn_data *d, const int64_t *idx, int64_t first,
                    int64_t n);
/* Waits for the uploads still running and releases everything; the feeder is off after it. */
void clnn__feed_close(clnn__feeder *f);
/* Loads samples idx[first ..] (or first ..), n of them, into mg's leaves: the feeder's copy when
 * it is on (f may be NULL), else through clnn__stage_batch; *h: the batch's host copy (own: room
 * for the model's staging buffers). */
clnn_status clnn__load_batch(clnn_model *m, clnn__feeder *f, clnn__mgraph *mg, const clnn_data *d,
                             const int64_t *idx, int64_t first, int64_t n, clnn__host_batch *own,
                             const clnn__host_batch **h);

/* ---- checks, a training step and an evaluation pass (train.c) ------------------------------ */
/* A usable model (no builder error, a layer, one input, an f32 output) that is compiled; fn names
 * the caller in the message. */
clnn_status clnn__check_compiled(clnn_model *m, const char *fn);
/* A batch size in [1, 2^31]. */
clnn_status clnn__check_batch_size(clnn_model *m, const char *fn, int64_t batch);
/* Checks data against the model (shapes, finite values, labels in range); need_target: the loss
 * needs labels or targets; what names the data in the message ("training", "validation"). */
clnn_status clnn__check_data(clnn_model *m, const char *fn, const clnn_data *d, int need_target,
                             const char *what);
/* One optimizer step on samples idx[first ..] (or first .. when idx is NULL), n of them, the
 * results added to s; the next batch (next_n > 0 samples from next_first) is put into a feeder
 * that is on while the device computes this one. guard: what a non-finite loss or gradient norm
 * does (*skipped set when the batch is dropped); epoch and step name the step in the message. */
clnn_status clnn__train_step(clnn_model *m, clnn__feeder *f, const clnn_data *d, const int64_t *idx,
                             int64_t first, int64_t n, int64_t next_first, int64_t next_n,
                             clnn__sums *s, clnn_nonfinite_action guard, int epoch, int64_t step,
                             int *skipped);
/* Loss and metrics over every sample of d, in order, in evaluation mode, into s; f: a feeder (on
 * or off) with room for batch samples and the target, its slots all taken. */
clnn_status clnn__eval_pass(clnn_model *m, clnn__feeder *f, const clnn_data *d, int64_t batch,
                            clnn__sums *s);

/* Reads the batch loss (and the outputs when metrics need them) and adds them to s. */
clnn_status clnn__collect_batch(clnn_model *m, clnn__mgraph *mg, const clnn_data *d, int64_t n,
                                clnn__sums *s, const clnn__host_batch *h, const float *known_loss,
                                int outputs_read);
/* After a non-finite loss or gradient norm: where the first non-finite values are, into buf. */
void clnn__diagnose_nonfinite(clnn_model *m, clnn__mgraph *mg, char *buf, size_t size);

/* ---- history (history.c) ------------------------------------------------------------------- */
/* Adds a column; its index, or -1 when the history has CLNN_HISTORY_MAX_COLUMNS already. */
int clnn__history_column(clnn_history *h, const char *name);
/* Appends one epoch's row (h->columns values). */
clnn_status clnn__history_row(clnn_model *m, const double *row);

/* ---- progress output (progress.c) ---------------------------------------------------------- */
typedef struct clnn__progress {
    const clnn_fit_options *o;
    int bar; /* 1: a progress bar redrawn on a terminal */
    double last_draw;
} clnn__progress;

double clnn__now_s(void); /* monotonic seconds */
/* Writes s to the fit's output callback, else to stdout (with a newline when newline = 1). */
void clnn__emit_text(const clnn__progress *p, const char *s, int newline);
/* " - loss: 0.2100 - accuracy: 0.9400" from the first ncol columns of row */
void clnn__fmt_values(char *buf, size_t size, const clnn_history *h, const double *row, int ncol);
/* "12s 40ms/step" */
void clnn__fmt_time(char *buf, size_t size, double seconds, int64_t steps);
/* Redraws the progress bar after done of total steps; final: the epoch's closing line. */
void clnn__draw_bar(clnn__progress *p, int64_t done, int64_t total, double elapsed,
                    const clnn_history *h, const double *row, int ncol, int final);

/* ---- data-parallel fit over MPI (fit_dist.c) ----------------------------------------------- */
/* This rank's consecutive part of [first, first + n). */
void clnn__fit_dist_shard(int64_t first, int64_t n, int64_t *lo, int64_t *count);
/* Sums s over the ranks. */
void clnn__fit_dist_sum_sums(clnn__sums *s);
/* Collective: rank 0's parameters (which = 0) or the mean of the running statistics (which = 1)
 * on every rank. */
clnn_status clnn__fit_dist_sync_params(clnn_model *m, int which);
/* One step of data-parallel training on the global batch idx[first .. first + n). */
clnn_status clnn__fit_dist_step(clnn_model *m, const clnn_data *d, const int64_t *idx,
                                int64_t first, int64_t n, clnn__sums *s,
                                clnn_nonfinite_action guard, int epoch, int64_t step, int *skipped,
                                clnn_status *pending);

#endif
