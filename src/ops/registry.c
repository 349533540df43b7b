/* registry.c — the op table, generated from ops.def; the count check keeps table and list in
 * step. The core walks this table and never names an op. */
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
