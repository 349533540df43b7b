/* suite_tune.c — `clnn-bench --tune [--quick]`: runs clnn_tune_gemm (the search for CLBlast
 * SGEMM parameters of the device, stored in the cache directory and applied by clnn from then
 * on) with its progress on stderr, then prints every candidate (role, checked, GFLOP/s per
 * shape, weighted time), the winner, and GFLOP/s per shape before and after; then the
 * convolution algorithms of the reference training steps (clnn_model_tune via suite_models.c):
 * per node the time of each algorithm and the choice. With --json one JSON object instead of the
 * tables; --tune=gemm and --tune=conv run one of the two. Runs alone: the search changes the
 * device's parameters for the rest of the process. Not here: the searches themselves
 * (src/core/tune.c, src/core/tune_own.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void progress_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "tune: %s\n", line);
    fflush(stderr);
}

static double gflops(const clnn_tune_shape *s, double ms)
{
    double batch = s->batch ? (double)s->batch : 1.0;
    return 2.0 * (double)s->m * (double)s->n * (double)s->k * batch / ms * 1e-6;
}

/* "123.4", "-" for not measured */
static const char *fmt_rate(char *buf, size_t size, double v)
{
    if (isfinite(v))
        snprintf(buf, size, v >= 999.95 ? "%.0f" : "%.1f", v);
    else
        snprintf(buf, size, "-");
    return buf;
}

static const char *verified_text(int v)
{
    return v == 1 ? "yes" : v == 0 ? "WRONG" : "no";
}

static void print_tables(const clnn_tune_report *r)
{
    char buf[32];
    printf("\nshapes (row-major m x n x k, batch, weight = calls per training step):\n");
    for (size_t s = 0; s < r->nshapes; s++) {
        const clnn_tune_shape *sh = &r->shapes[s];
        printf("  s%-2zu %-15s %s%s %5zu x %5zu x %5zu  batch %3zu  weight %g\n", s, sh->name,
               sh->trans_a ? "T" : "N", sh->trans_b ? "T" : "N", sh->m, sh->n, sh->k,
               sh->batch ? sh->batch : 1, sh->weight);
    }
    printf("\ncandidates: GFLOP/s per shape (fastest of the timed runs), weighted time of one\n"
           "step of every shape (lower is better); '*' the winner\n");
    printf("%3s %-7s %-5s", "#", "role", "ok");
    for (size_t s = 0; s < r->nshapes; s++) {
        printf("    s%-2u", (unsigned)s);
    }
    printf(" %10s %8s\n", "weighted", "first s");
    for (size_t i = 0; i < r->ncandidates; i++) {
        const clnn_tune_candidate *c = &r->candidates[i];
        printf("%2zu%s %-7s %-5s", i, (int)i == r->winner ? "*" : " ", c->role,
               verified_text(c->verified));
        for (size_t s = 0; s < r->nshapes; s++)
            printf(" %6s", fmt_rate(buf, sizeof buf, gflops(&r->shapes[s], c->ms[s])));
        if (isfinite(c->score_ms))
            printf(" %8.2fms %8.1f\n", c->score_ms, c->first_s);
        else
            printf(" %10s %8.1f\n", "-", c->first_s);
    }
    printf("\nparameters:\n");
    for (size_t i = 0; i < r->ncandidates; i++) {
        const clnn_tune_candidate *c = &r->candidates[i];
        char text[600];
        clnn_gemm_params_format(&c->params, text, sizeof text);
        printf("%2zu%s %s%s%s%s\n", i, (int)i == r->winner ? "*" : " ",
               i == 0 && !strcmp(text, "default") ? "CLBlast's own" : text, c->note[0] ? " (" : "",
               c->note, c->note[0] ? ")" : "");
    }
    const clnn_tune_candidate *before = &r->candidates[0], *win = &r->candidates[r->winner];
    printf("\nbefore -> after (GFLOP/s):\n");
    for (size_t s = 0; s < r->nshapes; s++) {
        char b1[32], b2[32];
        double x = gflops(&r->shapes[s], before->ms[s]), y = gflops(&r->shapes[s], win->ms[s]);
        printf("  %-15s %8s -> %8s  %5.2fx\n", r->shapes[s].name, fmt_rate(b1, sizeof b1, x),
               fmt_rate(b2, sizeof b2, y), y / x);
    }
    printf("  %-15s %7.2fms -> %7.2fms %5.2fx  (one set per shape: %.2f ms at best)\n", "weighted",
           r->before_score_ms, r->after_score_ms, r->before_score_ms / r->after_score_ms,
           r->per_shape_best_ms);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_number(double v)
{
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

static void print_json(const clnn_tune_report *r, const clnn_device_info *info, int quick)
{
    char text[600];
    printf("{\"tool\": \"clnn-bench\", \"suite\": \"tune\", \"clnn_version\": ");
    json_string(clnn_version());
    printf(", \"quick\": %d, \"device\": ", quick);
    json_string(info->name);
    printf(", \"driver\": ");
    json_string(info->driver_version);
    printf(", \"seconds\": ");
    json_number(r->seconds);
    printf(",\n \"shapes\": [");
    for (size_t s = 0; s < r->nshapes; s++) {
        const clnn_tune_shape *sh = &r->shapes[s];
        printf("%s\n  {\"name\": ", s ? "," : "");
        json_string(sh->name);
        printf(", \"trans_a\": %d, \"trans_b\": %d, \"m\": %zu, \"n\": %zu, \"k\": %zu, "
               "\"batch\": %zu, \"weight\": ",
               sh->trans_a, sh->trans_b, sh->m, sh->n, sh->k, sh->batch ? sh->batch : 1);
        json_number(sh->weight);
        printf(", \"before_gflops\": ");
        json_number(gflops(sh, r->candidates[0].ms[s]));
        printf(", \"after_gflops\": ");
        json_number(gflops(sh, r->candidates[r->winner].ms[s]));
        printf("}");
    }
    printf("],\n \"candidates\": [");
    for (size_t i = 0; i < r->ncandidates; i++) {
        const clnn_tune_candidate *c = &r->candidates[i];
        clnn_gemm_params_format(&c->params, text, sizeof text);
        printf("%s\n  {\"index\": %zu, \"role\": ", i ? "," : "", i);
        json_string(c->role);
        printf(", \"params\": ");
        json_string(text);
        printf(", \"verified\": %d, \"max_error\": ", c->verified);
        json_number(c->max_error);
        printf(", \"score_ms\": ");
        json_number(c->score_ms);
        printf(", \"first_s\": ");
        json_number(c->first_s);
        printf(", \"gflops\": [");
        for (size_t s = 0; s < r->nshapes; s++) {
            printf("%s", s ? ", " : "");
            json_number(gflops(&r->shapes[s], c->ms[s]));
        }
        printf("], \"note\": ");
        json_string(c->note);
        printf("}");
    }
    clnn_gemm_params_format(&r->best, text, sizeof text);
    printf("],\n \"winner\": %d, \"best\": ", r->winner);
    json_string(text);
    printf(", \"before_score_ms\": ");
    json_number(r->before_score_ms);
    printf(", \"after_score_ms\": ");
    json_number(r->after_score_ms);
    printf(", \"per_shape_best_ms\": ");
    json_number(r->per_shape_best_ms);
    printf(", \"path\": ");
    json_string(r->path);
}

/* ---- convolutions ------------------------------------------------------------------------- */
static const char *fmt_ms(char *buf, size_t size, double v)
{
    if (isfinite(v))
        snprintf(buf, size, "%.2f", v);
    else
        snprintf(buf, size, "-");
    return buf;
}

static void print_conv(const clnn_conv_tune_report *r, const char *model, int64_t batch)
{
    char buf[32];
    if (r->nnodes) {
        printf(
            "\nconvolutions of %s/b%lld: ms per node with each algorithm ('x': its output did "
            "not\nmatch the rules' on the same inputs, '-': cannot run it), 'r' the rules' choice "
            "(the\nrules column: its time in the rules' runs), '*' the tuned choice\n",
            model, (long long)batch);
        printf("%-28s %-18s %-30s %8s", "node", "op", "N C HxW -> K RxS /stride", "rules");
        for (int a = 0; a < CLNN_CONV_ALGO_COUNT; a++)
            printf(" %12s", clnn_conv_algo_name(a));
        printf("\n");
    }
    for (size_t i = 0; i < r->nrows; i++) {
        const clnn_conv_tune_row *w = &r->rows[i];
        char geo[64];
        snprintf(geo, sizeof geo, "%d %d %dx%d -> %d %dx%d /%d", w->n, w->c, w->h, w->w, w->k, w->r,
                 w->s, w->stride_h);
        printf("%-28.28s %-18s %-30s %8s", w->node, w->op, geo,
               fmt_ms(buf, sizeof buf, w->rules_ms));
        for (int a = 0; a < CLNN_CONV_ALGO_COUNT; a++) {
            char cell[40];
            snprintf(cell, sizeof cell, "%s%s%s", fmt_ms(buf, sizeof buf, w->ms[a]),
                     w->checked[a] == 0 ? "x"
                     : a == w->algo     ? "*"
                                        : "",
                     a == w->rules_algo ? "r" : "");
            printf(" %12s", cell);
        }
        printf("\n");
    }
    if (r->nnodes > r->nrows)
        printf("(%zu more nodes, not listed)\n", r->nnodes - r->nrows);
    if (r->nnodes)
        printf("all %zu convolution nodes: %.1f ms with the rules, %.1f ms tuned (%.2fx)\n",
               r->nnodes, r->rules_ms, r->tuned_ms, r->rules_ms / r->tuned_ms);
    if (r->gemm_tm) {
        static const int tms[5] = {4, 6, 8, 10, 12};
        printf("\n%s/b%lld, the own SGEMM's rows per work-item (GEMM_TM): ms per training step, "
               "'*' the choice\n",
               model, (long long)batch);
        for (int i = 0; i < 5; i++)
            printf("  %2d: %8s%s\n", tms[i], fmt_ms(buf, sizeof buf, r->gemm_tm_ms[i]),
                   tms[i] == r->gemm_tm ? " *" : "");
    }
    if (r->path[0])
        printf("written to %s\n", r->path);
}

static void json_conv(const clnn_conv_tune_report *r, const char *model, int64_t batch, int first)
{
    printf("%s\n  {\"model\": ", first ? "" : ",");
    json_string(model);
    printf(", \"batch\": %lld, \"rules_ms\": ", (long long)batch);
    json_number(r->rules_ms);
    printf(", \"tuned_ms\": ");
    json_number(r->tuned_ms);
    printf(", \"path\": ");
    json_string(r->path);
    printf(", \"gemm_tm\": %d, \"gemm_tm_ms\": [", r->gemm_tm);
    for (int i = 0; i < 5; i++) {
        printf("%s", i ? ", " : "");
        json_number(r->gemm_tm ? r->gemm_tm_ms[i] : NAN); /* null: not searched */
    }
    printf("], \"nodes\": [");
    for (size_t i = 0; i < r->nrows; i++) {
        const clnn_conv_tune_row *w = &r->rows[i];
        printf("%s\n   {\"node\": ", i ? "," : "");
        json_string(w->node);
        printf(", \"op\": ");
        json_string(w->op);
        printf(", \"n\": %d, \"c\": %d, \"h\": %d, \"w\": %d, \"k\": %d, \"r\": %d, "
               "\"s\": %d, \"stride\": %d, \"pad\": %d, \"groups\": %d, \"rules_ms\": ",
               w->n, w->c, w->h, w->w, w->k, w->r, w->s, w->stride_h, w->pad_h, w->groups);
        json_number(w->rules_ms);
        printf(", \"rules_algo\": ");
        json_string(clnn_conv_algo_name(w->rules_algo));
        printf(", \"algo\": ");
        json_string(w->algo >= 0 ? clnn_conv_algo_name(w->algo) : "rules");
        printf(", \"ms\": {");
        for (int a = 0; a < CLNN_CONV_ALGO_COUNT; a++) {
            printf("%s", a ? ", " : "");
            json_string(clnn_conv_algo_name(a));
            printf(": ");
            json_number(w->checked[a] == 0 ? NAN : w->ms[a]);
        }
        printf("}}");
    }
    printf("]}");
}

/* Tunes the convolutions of every reference training step: 0, or 1 when one failed. */
static int tune_convs(bench *b)
{
    clnn_conv_tune_options o;
    clnn_conv_tune_options_init(&o);
    o.reps = b->quick ? 1 : 3;
    o.progress = progress_line;
    clnn_conv_tune_report *r = malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "clnn-bench: --tune: out of memory\n");
        return 1;
    }
    int failed = 0;
    if (b->json)
        printf(",\n \"conv\": [");
    for (int i = 0; i < tune_model_count(); i++) {
        const char *model = NULL;
        int64_t batch = 0;
        if (tune_model(b, i, &o, r, &model, &batch)) {
            failed = 1;
            continue;
        }
        if (b->json)
            json_conv(r, model, batch, i == 0);
        else
            print_conv(r, model, batch);
    }
    if (b->json)
        printf("]");
    else
        printf("\nin effect: %s\n", clnn_own_tuning_status(b->ctx));
    free(r);
    return failed;
}

/* The tune suite: 0 on success, 1 when a search failed (the message on stderr). */
int bench_tune(bench *b)
{
    clnn_ctx *ctx = b->ctx;
    int quick = b->quick, json = b->json;
    if (!(b->tune & TUNE_GEMM)) {
        if (json)
            printf("{\"tool\": \"clnn-bench\", \"suite\": \"tune\", \"quick\": %d", quick);
        int failed = tune_convs(b);
        if (json)
            printf("}\n");
        return failed;
    }
    clnn_tune_options o;
    clnn_tune_options_init(&o);
    o.quick = quick;
    o.progress = progress_line;
    clnn_tune_report *r = malloc(sizeof *r);
    clnn_device_info info;
    if (!r || clnn_ctx_device_info(ctx, &info) != CLNN_OK) {
        free(r);
        fprintf(stderr, "clnn-bench: --tune: out of memory or no device\n");
        return 1;
    }
    if (!json)
        printf("GEMM tuning on '%s' (%s search: minutes; progress on stderr)\n", info.name,
               quick ? "quick" : "full");
    clnn_status st = clnn_tune_gemm(ctx, &o, r);
    if (st) {
        fprintf(stderr, "clnn-bench: --tune failed: %s: %s\n", clnn_status_name(st),
                clnn_ctx_last_error(ctx));
        free(r);
        return 1;
    }
    if (json) {
        print_json(r, &info, quick);
    } else {
        print_tables(r);
        clnn_gemm_tuning now;
        if (clnn_gemm_tuning_get(ctx, &now) == CLNN_OK)
            printf("\nin effect: %s\n", now.status);
        printf("search took %.0f s\n", r->seconds);
    }
    free(r);
    int failed = (b->tune & TUNE_CONV) ? tune_convs(b) : 0;
    if (json)
        printf("}\n");
    return failed;
}
