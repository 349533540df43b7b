/* registry.c — the op table, generated from ops.def; the count check keeps table and list in
 * step. The core walks this table and never names an op. */
#include <string.h>

#include "../core/internal.h"

#define CLNN_OP(ID, name) extern const clnn__op_def clnn__op_##name;
#include "ops.def"
#undef CLNN_OP

const clnn__op_def *const clnn__ops[CLNN_OP_COUNT] = {
#define CLNN_OP(ID, name) [CLNN_OP_##ID] = &clnn__op_##name,
#include "ops.def"
#undef CLNN_OP
};

#define CLNN_OP(ID, name) +1
_Static_assert(0
#include "ops.def"
                   == CLNN_OP_COUNT,
               "ops.def and the op table disagree");
#undef CLNN_OP

clnn_status clnn__ops_check(clnn_ctx *ctx)
{
    for (int op = 0; op < CLNN_OP_COUNT; op++) {
        const char *program = clnn__ops[op]->program;
        size_t i = 0;
        while (program && i < clnn__kernel_source_count &&
               strcmp(clnn__kernel_sources[i].name, program) != 0)
            i++;
        if (program && i == clnn__kernel_source_count)
            return clnn__fail(ctx, CLNN_ERR_STATE,
                              "op '%s' needs kernels/%s.cl, which is not embedded in this build",
                              clnn__ops[op]->name, program);
    }
    return CLNN_OK;
}
