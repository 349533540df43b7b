/* fit.c — clnn_model_fit and its options (clnn_fit_options_init and their checks): the training
 * and validation sets (Keras's validation_split takes the last samples), the history columns, the
 * epoch loop (the epoch's order, double-buffered batches, progress output), validation, early
 * stopping with the best weights, checkpoints, the epoch-end callback, and over MPI the agreements
 * between ranks around them. What does not live here: a training step, an evaluation pass and the
 * checks of the model and its data (train.c, declared in train.h), and the data-parallel step over
 * MPI (fit_dist.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"
#include "../dist/dist.h"

/* ---- options ------------------------------------------------------------------------------ */
void clnn_fit_options_init(clnn_fit_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->batch_size = 32;
    o->shuffle = 1;
    o->verbose = 1;
    snprintf(o->early_stopping.monitor, sizeof o->early_stopping.monitor, "val_loss");
    snprintf(o->checkpoint.monitor, sizeof o->checkpoint.monitor, "val_loss");
}

/* ---- fit ------------------------------------------------------------------------------------ */
static int monitor_improves_down(const char *name)
{
    return !strstr(name, "acc");
}

/* Device copies of every parameter (the best weights of early stopping). */
static clnn_status snapshot(clnn_model *m, clnn_tensor ***copies, int restore)
{
    int n = clnn_model_param_count(m);
    clnn_status st = CLNN_OK;
    if (!*copies) {
        *copies = calloc((size_t)(n ? n : 1), sizeof **copies);
        if (!*copies)
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory");
    }
    for (int i = 0; i < n && st == CLNN_OK; i++) {
        clnn_tensor *p = clnn_model_param(m, i), **c = &(*copies)[i];
        if (!*c) {
            int64_t shape[CLNN_MAX_DIMS];
            int nd = clnn_tensor_ndim(p);
            for (int k = 0; k < nd; k++)
                shape[k] = clnn_tensor_dim(p, k);
            st = clnn_tensor_create(m->ctx, CLNN_F32, nd, shape, c);
        }
        if (st == CLNN_OK)
            st = restore ? clnn_tensor_copy(p, *c) : clnn_tensor_copy(*c, p);
    }
    return st;
}

static void snapshot_free(clnn_model *m, clnn_tensor **copies)
{
    if (!copies)
        return;
    int n = clnn_model_param_count(m);
    for (int i = 0; i < n; i++)
        clnn_tensor_destroy(copies[i]);
    free(copies);
}

/* The epoch's order: Fisher-Yates from one generator seeded by (seed, epoch), or file order. */
static void permute(int64_t *idx, int64_t n, uint64_t seed, int64_t epoch, int shuffle)
{
    clnn__rng r;
    clnn__rng_seed(&r, seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
    if (shuffle) {
        clnn__permutation(idx, n, &r);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
}

/* The rows [lo, lo + n) of d. */
static clnn_data data_rows(const clnn_model *m, const clnn_data *d, int64_t lo, int64_t n)
{
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const int64_t xper = clnn__numel(in->ndim, in->shape), per = clnn__out_numel(m);
    clnn_data r = *d;
    r.n = n;
    r.x = d->x + lo * xper;
    r.labels = d->labels ? d->labels + lo : NULL;
    r.targets = d->targets ? d->targets + lo * per : NULL;
    return r;
}

static clnn_status check_fit_options(clnn_model *m, const char *fn, const clnn_fit_options *o)
{
    clnn_ctx *ctx = m->ctx;
    if (!o)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: options is NULL", fn);
    if (o->epochs < 0)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: expected epochs >= 0, got %d", fn, o->epochs);
    clnn_status st = clnn__check_batch_size(m, fn, o->batch_size);
    if (st)
        return st;
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: expected validation_split in [0, 1), got %g",
                          fn, o->validation_split);
    if (o->distributed && !clnn__dist_on())
        return clnn__fail(ctx, CLNN_ERR_STATE, "%s: distributed = 1 needs clnn_mpi_init first%s",
                          fn,
                          clnn_mpi_available() ? ""
                                               : " (and this clnn was built without MPI: "
                                                 "meson -Dmpi=enabled with libopenmpi-dev)");
    if ((unsigned)o->on_nonfinite > CLNN_NONFINITE_IGNORE)
        return clnn__fail(
            ctx, CLNN_ERR_INVALID,
            "%s: expected on_nonfinite STOP (0), SKIP_BATCH (1) or IGNORE (2), got %d", fn,
            (int)o->on_nonfinite);
    if (o->verbose < 0 || o->verbose > 2)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: expected verbose 0, 1 or 2, got %d", fn,
                          o->verbose);
    if (o->initial_epoch < 0 || o->initial_epoch > o->epochs)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: expected initial_epoch in [0, epochs = %d], got %d", fn, o->epochs,
                          o->initial_epoch);
    const clnn_early_stopping *es = &o->early_stopping;
    if (es->enabled && (es->patience < 0 || !(es->min_delta >= 0)))
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: early stopping needs patience >= 0 and min_delta >= 0, got %d and "
                          "%g",
                          fn, es->patience, es->min_delta);
    return CLNN_OK;
}

clnn_status clnn_model_fit(clnn_model *m, const clnn_data *train, const clnn_fit_options *o)
{
    static const char fn[] = "clnn_model_fit";
    /* Over MPI every rank must reach each agreement (clnn__dist_agree): until the setup's, a
     * failure jumps to it instead of returning. */
    const int dist = o && o->distributed && clnn__dist_on();
    int64_t *idx = NULL;
    clnn_tensor **best = NULL;
    clnn_data tr = {0}, val = {0};
    int has_val = 0, ntrain_cols = 0, lr_col = -1, monitor = -1, ck_monitor = -1;
    int64_t B = 1, GB = 1, nb = 0;
    clnn_history *h = m ? &m->history : NULL;
    const clnn_early_stopping *es = o ? &o->early_stopping : NULL;
    const clnn_checkpointing *ck = o ? &o->checkpoint : NULL;
    clnn_status st = clnn__check_compiled(m, fn);
    if (st == CLNN_OK)
        st = check_fit_options(m, fn, o);
    if (st == CLNN_OK)
        st = clnn__check_data(m, fn, train, 1, "training");
    if (st == CLNN_OK && o->validation_data)
        st = clnn__check_data(m, fn, o->validation_data, 1, "validation");
    if (st)
        goto setup_done;
    /* the training and validation sets: Keras's validation_split takes the last samples */
    tr = *train;
    if (o->validation_data) {
        val = *o->validation_data;
        has_val = 1;
    } else if (o->validation_split > 0) {
        int64_t split_at = (int64_t)floor((double)train->n * (1.0 - o->validation_split));
        if (split_at < 1 || split_at >= train->n) {
            st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                            "%s: validation_split %g of %lld samples leaves an empty %s set", fn,
                            o->validation_split, (long long)train->n,
                            split_at < 1 ? "training" : "validation");
            goto setup_done;
        }
        tr.n = split_at;
        val = data_rows(m, train, split_at, train->n - split_at);
        has_val = 1;
    }
    /* history columns */
    h->epochs = 0;
    h->first_epoch = o->initial_epoch;
    h->columns = 0;
    clnn__history_column(h, "loss");
    for (int k = 0; k < CLNN__NMETRICS; k++)
        if (m->c.metrics & clnn__metric_bits[k])
            clnn__history_column(h, clnn__metric_names[k]);
    ntrain_cols = h->columns;
    if (has_val) {
        char name[40];
        for (int c = 0; c < ntrain_cols; c++) {
            snprintf(name, sizeof name, "val_%s", h->names[c]);
            clnn__history_column(h, name);
        }
    }
    lr_col = clnn__history_column(h, "lr");
    if (es->enabled) {
        for (int c = 0; c < h->columns; c++)
            if (!strcmp(h->names[c], es->monitor))
                monitor = c;
        if (monitor < 0) {
            st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                            "%s: early stopping monitors '%s', which this fit does not report "
                            "(it reports loss, the metrics%s)",
                            fn, es->monitor, has_val ? " and their val_ forms" : "");
            goto setup_done;
        }
    }
    if (ck->path && ck->best_only) {
        for (int c = 0; c < h->columns; c++)
            if (!strcmp(h->names[c], ck->monitor))
                ck_monitor = c;
        if (ck_monitor < 0) {
            st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                            "%s: the checkpoint monitors '%s', which this fit does not report", fn,
                            ck->monitor);
            goto setup_done;
        }
    }
    B = o->batch_size;
    /* over MPI a step takes a global batch of size x B samples, B on each rank */
    GB = dist ? B * clnn__dist_size() : B;
    nb = (tr.n + GB - 1) / GB;
    idx = malloc((size_t)tr.n * sizeof *idx);
    if (!idx) {
        st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
        goto setup_done;
    }
    if (m->pending_opt && !m->opt && o->initial_epoch < o->epochs) {
        /* a loaded checkpoint: make the optimizer now (it takes the saved state), so that the
         * first epoch's learning rate is the resumed one */
        clnn__mgraph *mg;
        st = clnn__model_get_graph(m, CLNN__G_TRAIN, tr.n < B ? tr.n : B, &mg);
    }
setup_done:
    if (dist) {
        st = clnn__dist_agree(m ? m->ctx : NULL, st, NULL, "fit");
        if (st == CLNN_OK) { /* every rank must train the same thing */
            int64_t v[] = {tr.n,
                           B,
                           val.n,
                           o->epochs,
                           o->initial_epoch,
                           o->shuffle,
                           (int64_t)o->seed,
                           clnn_model_param_count(m)},
                    lo[8], hi[8];
            static const char *const what[] = {
                "training samples", "batch size", "validation samples", "epochs", "initial epoch",
                "shuffle",          "seed",       "parameter tensors"};
            for (int i = 0; i < 8 && st == CLNN_OK; i++) {
                clnn__dist_minmax_i64(v[i], &lo[i], &hi[i]);
                if (lo[i] != hi[i])
                    st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                                    "%s: distributed: the ranks were given different %s "
                                    "(from %lld to %lld); every rank must pass the same data "
                                    "and options",
                                    fn, what[i], (long long)lo[i], (long long)hi[i]);
            }
        }
        if (st == CLNN_OK) /* every rank starts from rank 0's weights */
            st = clnn__dist_agree(m->ctx, clnn__fit_dist_sync_params(m, 0), NULL, "fit: broadcast");
    }
    if (st) {
        free(idx);
        return st;
    }
    const int writer = !dist || clnn__dist_rank() == 0; /* files and progress */
    clnn__progress p = {o, writer && o->verbose == 1 && !o->output && isatty(STDOUT_FILENO), 0};
    double ck_best = 0, best_value = 0;
    int ck_have = 0, wait = 0, have_best = 0, stop = 0;
    clnn_status pending = CLNN_OK; /* over MPI: a failure after an agreement, for the next */
    /* the batches of training and validation (both of B samples at most), double-buffered; over
     * MPI each rank stages its shard on the main queue (clnn__stage_batch) */
    clnn__feeder feed;
    memset(&feed, 0, sizeof feed);
    const int64_t most = tr.n > val.n ? tr.n : val.n;
    if (!dist)
        clnn__feed_open(&feed, m, B < most ? B : most, 1);
    for (int epoch = o->initial_epoch; epoch < o->epochs && !stop && st == CLNN_OK; epoch++) {
        permute(idx, tr.n, o->seed, epoch, o->shuffle);
        double row[CLNN_HISTORY_MAX_COLUMNS] = {0};
        /* the rate of the epoch's first step (before the first step ever, the base rate: every
         * schedule starts there) */
        const double lr = m->opt ? clnn_optimizer_get_lr(m->opt) : m->c.optimizer.lr;
        clnn__sums s = {0};
        int64_t skipped_batches = 0;
        const double t0 = clnn__now_s();
        if (p.bar) {
            char line[64];
            snprintf(line, sizeof line, "Epoch %d/%d", epoch + 1, o->epochs);
            clnn__emit_text(&p, line, 1);
        }
        /* the epoch's first batch; each step puts the next one (none crosses the epoch's end:
         * the next order, validation, callbacks and checkpoints come first) */
        if (clnn__feed_on(&feed) && nb > 0)
            clnn__feed_put(&feed, &tr, idx, 0, tr.n < GB ? tr.n : GB);
        for (int64_t b = 0; b < nb && st == CLNN_OK; b++) {
            const int64_t first = b * GB, n = tr.n - first < GB ? tr.n - first : GB,
                          next = first + n, next_n = tr.n - next < GB ? tr.n - next : GB;
            int skipped = 0;
            st = dist ? clnn__fit_dist_step(m, &tr, idx, first, n, &s, o->on_nonfinite, epoch, b,
                                            &skipped, &pending)
                      : clnn__train_step(m, &feed, &tr, idx, first, n, next, next_n, &s,
                                         o->on_nonfinite, epoch, b, &skipped);
            skipped_batches += skipped;
            if (st == CLNN_OK && p.bar && (clnn__now_s() - p.last_draw > 0.1 || b + 1 == nb)) {
                row[0] = s.loss / (double)s.samples;
                for (int c = 1; c < ntrain_cols; c++) {
                    int k = 0, seen = 0;
                    for (; k < CLNN__NMETRICS; k++)
                        if ((m->c.metrics & clnn__metric_bits[k]) && ++seen == c)
                            break;
                    row[c] = s.total[k] > 0 ? s.correct[k] / s.total[k] : 0;
                }
                if (b + 1 < nb) {
                    clnn__draw_bar(&p, b + 1, nb, clnn__now_s() - t0, h, row, ntrain_cols, 0);
                    p.last_draw = clnn__now_s();
                }
            }
        }
        /* (every rank leaves the steps alike: an agreement or the guard's common decision) */
        if (dist && st == CLNN_OK) {
            st = clnn__dist_agree(m->ctx, pending, NULL, "fit: end of the epoch");
            pending = CLNN_OK;
            if (st == CLNN_OK) {
                clnn__fit_dist_sum_sums(&s);
                pending = clnn__fit_dist_sync_params(m, 1); /* the mean of the running statistics */
            }
        }
        if (st)
            break;
        /* the epoch's row (NaN when every batch was skipped) */
        row[0] = s.samples ? s.loss / (double)s.samples : NAN;
        if (skipped_batches && writer)
            clnn__log(m->ctx, CLNN_LOG_WARN,
                      "fit: epoch %d: %lld of %lld batches skipped (non-finite loss or gradient)",
                      epoch + 1, (long long)skipped_batches, (long long)nb);
        for (int k = 0, c = 1; k < CLNN__NMETRICS; k++)
            if (m->c.metrics & clnn__metric_bits[k])
                row[c++] = s.total[k] > 0 ? s.correct[k] / s.total[k] : NAN;
        if (has_val) {
            clnn__sums v = {0};
            if (dist) { /* each rank its shard, then the sums */
                int64_t lo, count;
                clnn__fit_dist_shard(0, val.n, &lo, &count);
                clnn_data part = data_rows(m, &val, lo, count);
                st = pending     ? pending
                     : count > 0 ? clnn__eval_pass(m, &feed, &part, B, &v)
                                 : CLNN_OK;
                pending = CLNN_OK;
                if ((st = clnn__dist_agree(m->ctx, st, NULL, "fit: validation")) == CLNN_OK)
                    clnn__fit_dist_sum_sums(&v);
            } else {
                st = clnn__eval_pass(m, &feed, &val, B, &v);
            }
            if (st)
                break;
            row[ntrain_cols] = v.loss / (double)v.samples;
            for (int k = 0, c = ntrain_cols + 1; k < CLNN__NMETRICS; k++)
                if (m->c.metrics & clnn__metric_bits[k])
                    row[c++] = v.total[k] > 0 ? v.correct[k] / v.total[k] : NAN;
        }
        if (lr_col >= 0)
            row[lr_col] = lr;
        const double elapsed = clnn__now_s() - t0;
        /* from here a failure goes on to the end of the epoch (the agreement over MPI) */
        st = pending;
        pending = CLNN_OK;
        if (st == CLNN_OK)
            st = clnn__history_row(m, row);
        if (st == CLNN_OK && o->verbose && writer) {
            if (p.bar) {
                clnn__draw_bar(&p, nb, nb, elapsed, h, row, h->columns, 1);
            } else {
                char line[1024], vals[640], tm[64];
                clnn__fmt_values(vals, sizeof vals, h, row, h->columns);
                clnn__fmt_time(tm, sizeof tm, elapsed, nb);
                snprintf(line, sizeof line, "Epoch %d/%d - %lld/%lld - %s%s", epoch + 1, o->epochs,
                         (long long)nb, (long long)nb, tm, vals);
                clnn__emit_text(&p, line, 1);
            }
        }
        if (st == CLNN_OK && !m->c.optimizer.schedule.per_update)
            clnn_optimizer_schedule_step(m->opt);
        if (st == CLNN_OK && o->history_csv && writer) {
            char err[512];
            if ((st = clnn_history_write_csv(h, o->history_csv, err, sizeof err)) != CLNN_OK)
                clnn__fail(m->ctx, st, "%s: %s", fn, err);
        }
        if (st == CLNN_OK && ck->path) {
            int save = 1;
            if (ck_monitor >= 0) {
                double v = row[ck_monitor];
                int down = monitor_improves_down(ck->monitor);
                save = !ck_have || (down ? v < ck_best : v > ck_best);
                if (save) {
                    ck_best = v;
                    ck_have = 1;
                }
            }
            if (save && writer)
                st = ck->full ? clnn_model_save_checkpoint(m, ck->path, epoch + 1)
                              : clnn_model_save(m, ck->path);
        }
        if (st == CLNN_OK && monitor >= 0) {
            double v = row[monitor];
            int down = monitor_improves_down(es->monitor);
            int better = !have_best ||
                         (down ? v < best_value - es->min_delta : v > best_value + es->min_delta);
            if (better) {
                best_value = v;
                have_best = 1;
                wait = 0;
                if (es->restore_best_weights)
                    st = snapshot(m, &best, 0);
            } else if (++wait >= (es->patience > 0 ? es->patience : 1)) {
                stop = 1;
                if (es->restore_best_weights && best)
                    st = snapshot(m, &best, 1);
            }
        }
        if (st == CLNN_OK && o->on_epoch_end && o->on_epoch_end(o->callback_user, epoch, h))
            stop = 1;
        if (dist) /* a failed write or copy on one rank, and a callback's stop, reach them all */
            st = clnn__dist_agree(m->ctx, st, &stop, "fit: end of the epoch");
    }
    clnn__feed_close(&feed);
    snapshot_free(m, best);
    free(idx);
    return st;
}
