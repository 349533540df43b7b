/* gemm.c — the one place that calls CLBlast: row-major (strided-batched) SGEMM on the context's
 * own command queue, with CLBlast status codes mapped to clnn statuses. */
#include <clblast_c.h>
#include <stdio.h>

#include "internal.h"

clnn_status clnn__gemm(clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *a)
{
    cl_event ev = NULL, before = NULL;
    cl_event *evp = ctx->profile ? &ev : NULL;
    /* CLBlast returns the event of its last kernel only: a marker before the call lets the
     * profile cover every kernel of the GEMM (the queue is in order) */
    if (ctx->profile && clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &before) != CL_SUCCESS)
        before = NULL;
    CLBlastTranspose ta = a->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = a->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode s;
    if (a->batch <= 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, a->m, a->n, a->k, a->alpha, a->a, a->a_off,
                         a->lda, a->b, a->b_off, a->ldb, a->beta, a->c, a->c_off, a->ldc,
                         &ctx->queue, evp);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, a->m, a->n, a->k, a->alpha,
                                       a->a, a->a_off, a->lda, a->a_stride, a->b, a->b_off, a->ldb,
                                       a->b_stride, a->beta, a->c, a->c_off, a->ldc, a->c_stride,
                                       a->batch, &ctx->queue, evp);
    if (s != CLBlastSuccess) {
        if (before)
            clReleaseEvent(before);
        char what[160];
        snprintf(what, sizeof what, "CLBlast SGEMM %zux%zux%zu (batch %zu)", a->m, a->n, a->k,
                 a->batch);
        return clnn__clblast_fail(ctx, s, what);
    }
    if (ev)
        clnn__prof_record_span(ctx, node, before, ev);
    else if (before)
        clReleaseEvent(before);
    return CLNN_OK;
}
