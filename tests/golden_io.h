/* golden_io.h — reads the golden files written by tests/golden/gen_golden.py (PyTorch's numbers
 * for each op: inputs, parameters, outputs and gradients; format in tests/golden/golden.py).
 * Files live in $CLNN_TEST_GOLDEN_DIR (set by tests/meson.build) as <family>.txt. */
#ifndef CLNN_TEST_GOLDEN_IO_H
#define CLNN_TEST_GOLDEN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "clnn.h"

typedef struct golden_tensor {
    char name[64];
    int ndim;
    int64_t shape[CLNN_MAX_DIMS];
    int64_t numel;
    float *data;
} golden_tensor;

typedef struct golden_value {
    char name[64];
    int n;
    double v[16];
} golden_value;

typedef struct golden_case {
    char name[128];
    golden_value *values; /* the int and float lines */
    int nvalues;
    golden_tensor *tensors;
    int ntensors;
} golden_case;

typedef struct golden_file {
    golden_case *cases;
    int ncases;
} golden_file;

/* Loads $CLNN_TEST_GOLDEN_DIR/<family>.txt; NULL with a reason in err on failure. */
golden_file *golden_load(const char *family, char *err, size_t errsize);
void golden_free(golden_file *f);
const golden_case *golden_case_get(const golden_file *f, const char *name); /* NULL: absent */
const golden_tensor *golden_tensor_get(const golden_case *c, const char *name); /* NULL: absent */
/* Value i of an int or float line, or dflt when the key or index is absent. */
int golden_int(const golden_case *c, const char *key, int i, int dflt);
double golden_float(const golden_case *c, const char *key, int i, double dflt);
/* Writes a golden tensor into a graph tensor of the same element count. 0 on success. */
int golden_write(clnn_tensor *t, const golden_tensor *g);
/* Reads t and compares it with a golden tensor: shapes must match and every element must satisfy
 * |got - want| <= atol + rtol * max(|want|, rms(want)) (the rule of gradcheck.h). Returns 1 when
 * equal; else 0 with "<what>[i]: got .. expected .." (or the shape or read error) in msg. */
int golden_check(const char *what, clnn_tensor *t, const golden_tensor *want, double rtol,
                 double atol, char *msg, size_t size);

#endif /* CLNN_TEST_GOLDEN_IO_H */
