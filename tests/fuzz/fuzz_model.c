/* fuzz_model.c — libFuzzer target for model files and checkpoints: the safetensors container, the
 * architecture JSON of its metadata, the rebuild of the model from it (layers, shapes, parameters
 * on the device) and the tensors, through clnn_model_load, and the checkpoint JSON and optimizer
 * state through clnn_model_load_checkpoint into one fixed compiled model (fuzz_model_fixed.h).
 * Unlike the reader targets this one needs a device: one context (the default device, POCL's
 * CPU device here) is made at start-up with every kernel program built, and lives for the run.
 * Each input is written to one per-process temporary file (created under /tmp and unlinked at
 * once; read back through /proc/self/fd/N) and both entry points read it. An input that starts
 * with '{' (never the first byte of a file clnn writes: its header length is a multiple of 8) is
 * an architecture JSON on its own: it is wrapped into a model file as its "clnn.architecture"
 * (escaped), with no tensors, so mutations reach the rebuild without breaking the container.
 * Besides "no crash, leak or over-read" (ASan, UBSan, LeakSanitizer) the target traps on a
 * violated invariant:
 *   - a failed load returns a status of bad input (FORMAT, UNSUPPORTED, SHAPE, INVALID,
 *     DEVICE_MEMORY, NOMEM; never a raw OpenCL failure), *out NULL, and a non-empty message
 *     that names the file (NOMEM aside);
 *   - a loaded model has status OK, a summary, named layers and parameters;
 *   - a failed checkpoint load leaves a message, and the fixed model keeps status OK;
 *   - after every input the library's live OpenCL buffers, kernels and programs are back to their
 *     count at start-up (no device object leaked by any path, failed or not).
 * Seeds: tests/fuzz/corpus/model (written by gen_model_corpus); keys: fuzz_model.dict.
 * Built by tests/fuzz/meson.build (-Dfuzz=true, clang) with the whole library compiled in under
 * the fuzzer's instrumentation; run by tools/fuzz. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clnn.h"
#include "fuzz_model_fixed.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_model: invariant violated: %s (line %d)\n", #c, __LINE__);       \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static clnn_ctx *ctx;
static clnn_model *fixed;
static clnn_live_objects start;
static int fd = -1;
static char path[64];

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_model: %s: %s\n", what, why);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char name[] = "/tmp/clnn_fuzz_model_XXXXXX";
    if ((fd = mkstemp(name)) < 0)
        die("mkstemp", "cannot create a temporary file");
    unlink(name);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (clnn_ctx_create(&ctx, NULL) != CLNN_OK)
        die("clnn_ctx_create", clnn_ctx_last_error(ctx));
    /* every program now, so that none is built (and counted) during an input */
    if (clnn_ctx_build_all(ctx) != CLNN_OK)
        die("clnn_ctx_build_all", clnn_ctx_last_error(ctx));
    if (!(fixed = fuzz_fixed_model(ctx)))
        die("the fixed model", "cannot be built");
    clnn_live_objects_get(&start);
    return 0;
}

static int bad_input_status(clnn_status s)
{
    return s == CLNN_ERR_FORMAT || s == CLNN_ERR_UNSUPPORTED || s == CLNN_ERR_SHAPE ||
           s == CLNN_ERR_INVALID || s == CLNN_ERR_DEVICE_MEMORY || s == CLNN_ERR_NOMEM;
}

static void check_loaded(clnn_model *m)
{
    CHECK(clnn_model_status(m) == CLNN_OK);
    CHECK(clnn_model_last_error(m)[0] == '\0');
    char summary[512];
    size_t need = clnn_model_summary(m, summary, sizeof summary);
    CHECK(need > 0 && strlen(summary) == (need < sizeof summary ? need : sizeof summary - 1));
    for (int i = 0; i < clnn_model_layer_count(m); i++)
        CHECK(clnn_model_layer_name(m, i) != NULL && clnn_model_layer_name(m, i)[0]);
    int64_t trainable = -1, total = clnn_model_count_params(m, &trainable);
    CHECK(total >= 0 && trainable >= 0 && trainable <= total);
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        CHECK(t != NULL && clnn_tensor_name(t)[0]);
    }
    int nd = -1;
    int64_t shape[CLNN_MAX_DIMS];
    CHECK(clnn_model_node_shape(m, -1, &nd, shape) == CLNN_OK && nd >= 1);
}

/* A safetensors file of no tensors whose metadata holds the architecture arch (malloc'd; *n
 * receives its size): bytes outside printable ASCII are escaped as \u00XX. */
static uint8_t *wrap_architecture(const uint8_t *arch, size_t len, size_t *n)
{
    static const char head[] = "{\"__metadata__\":{\"format\":\"clnn\",\"clnn.architecture\":\"";
    static const char tail[] = "\"}}";
    uint8_t *out = malloc(8 + sizeof head + 6 * len + sizeof tail + 8);
    if (!out)
        die("wrapping an architecture", "out of memory");
    size_t at = 8;
    memcpy(out + at, head, sizeof head - 1);
    at += sizeof head - 1;
    for (size_t i = 0; i < len; i++) {
        if (arch[i] == '"' || arch[i] == '\\') {
            out[at++] = '\\';
            out[at++] = arch[i];
        } else if (arch[i] < 0x20 || arch[i] >= 0x7f) {
            at += (size_t)sprintf((char *)out + at, "\\u%04x", arch[i]);
        } else {
            out[at++] = arch[i];
        }
    }
    memcpy(out + at, tail, sizeof tail - 1);
    at += sizeof tail - 1;
    uint64_t header = at - 8;
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)(header >> (8 * b));
    *n = at;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *wrapped = NULL;
    if (size > 0 && data[0] == '{')
        data = wrapped = wrap_architecture(data, size, &size);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        die("writing the temporary file", "failed");
    free(wrapped);

    /* a model file */
    clnn_ctx_clear_error(ctx);
    clnn_model *m = (clnn_model *)&m;
    clnn_status s = clnn_model_load(ctx, path, &m);
    if (s == CLNN_OK) {
        CHECK(m != NULL);
        check_loaded(m);
        clnn_model_destroy(m);
    } else {
        const char *msg = clnn_ctx_last_error(ctx);
        if (!bad_input_status(s))
            fprintf(stderr, "fuzz_model: load: %s: %s\n", clnn_status_name(s), msg);
        CHECK(bad_input_status(s));
        CHECK(m == NULL);
        CHECK(clnn_ctx_last_status(ctx) == s);
        CHECK(msg[0] != '\0');
        if (s != CLNN_ERR_NOMEM && !strstr(msg, path))
            fprintf(stderr, "fuzz_model: load: the message does not name the file: %s\n", msg);
        CHECK(s == CLNN_ERR_NOMEM || strstr(msg, path) != NULL);
    }

    /* the same bytes as a checkpoint of the fixed model */
    clnn_ctx_clear_error(ctx);
    int epoch = -1;
    s = clnn_model_load_checkpoint(fixed, path, &epoch);
    if (s == CLNN_OK) {
        CHECK(epoch >= 0);
    } else {
        const char *msg = clnn_ctx_last_error(ctx);
        if (!bad_input_status(s))
            fprintf(stderr, "fuzz_model: checkpoint: %s: %s\n", clnn_status_name(s), msg);
        CHECK(bad_input_status(s));
        CHECK(epoch == -1);
        CHECK(msg[0] != '\0');
    }
    CHECK(clnn_model_status(fixed) == CLNN_OK);

    /* no device object outlives the input */
    clnn_live_objects now;
    clnn_live_objects_get(&now);
    if (now.buffers != start.buffers || now.kernels != start.kernels ||
        now.programs != start.programs)
        fprintf(stderr,
                "fuzz_model: live OpenCL objects: %ld buffers, %ld kernels, %ld programs; "
                "at start-up %ld, %ld, %ld\n",
                now.buffers, now.kernels, now.programs, start.buffers, start.kernels,
                start.programs);
    CHECK(now.buffers == start.buffers && now.kernels == start.kernels &&
          now.programs == start.programs);
    return 0;
}
