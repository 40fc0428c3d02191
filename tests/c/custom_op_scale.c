/* A user kernel bound to the custom operator "MyScale" in tests/test_custom_ops.py (docs/custom-operators.md):
 * y[r][c] = x[r][c] * w[c] + options_size, x float32 [R, C], w int16 [C] (a constant), y float32 [R, C].
 * It checks every field of the views it gets and returns UAOT_ERR_ARG when one is not what the model says. */
#include <stddef.h>

#include "microaot/custom_op.h"
#include "microaot/model.h"

uaot_status_t my_scale(const uaot_custom_op_t *op);

uaot_status_t my_scale(const uaot_custom_op_t *op)
{
    const uaot_tensor_view_t *x;
    const uaot_tensor_view_t *w;
    const uaot_tensor_view_t *y;
    int32_t rows;
    int32_t cols;
    int32_t r;
    int32_t c;
    if (op == NULL || op->num_inputs != 2 || op->num_outputs != 1) {
        return UAOT_ERR_ARG;
    }
    x = &op->inputs[0];
    w = &op->inputs[1];
    y = &op->outputs[0];
    if (x->dtype != UAOT_DTYPE_FLOAT32 || w->dtype != UAOT_DTYPE_INT16 || y->dtype != UAOT_DTYPE_FLOAT32 ||
        x->rank != 2 || w->rank != 1 || y->rank != 2) {
        return UAOT_ERR_ARG;
    }
    rows = x->dims[0];
    cols = x->dims[1];
    if (w->dims[0] != cols || y->dims[0] != rows || y->dims[1] != cols ||
        x->bytes != (uint32_t)(rows * cols) * sizeof(float) || w->bytes != (uint32_t)cols * sizeof(int16_t)) {
        return UAOT_ERR_ARG;
    }
    if (op->options_size > 0 && op->options == NULL) {
        return UAOT_ERR_ARG;
    }
    for (r = 0; r < rows; ++r) {
        for (c = 0; c < cols; ++c) {
            const float *xd = (const float *)x->data;
            const int16_t *wd = (const int16_t *)w->data;
            float *yd = (float *)y->data;
            yd[r * cols + c] = xd[r * cols + c] * (float)wd[c] + (float)op->options_size;
        }
    }
    return UAOT_OK;
}
