/* See rpc_fake_model.h. */
#include <string.h>

#include "rpc_fake_model.h"

static const uaot_tensor_info_t fake_inputs[2] = {
    {"in_bytes", UAOT_DTYPE_INT8, 2, {1, 1000, 0, 0, 0, 0}, 1000, 0.5f, -3},
    {"in_floats", UAOT_DTYPE_FLOAT32, 1, {3, 0, 0, 0, 0, 0}, 12, 0.0f, 0},
};
static const uaot_tensor_info_t fake_outputs[2] = {
    {"out_bytes", UAOT_DTYPE_INT8, 2, {1, 1000, 0, 0, 0, 0}, 1000, 0.5f, -2},
    {"out_floats", UAOT_DTYPE_FLOAT32, 1, {3, 0, 0, 0, 0, 0}, 12, 0.0f, 0},
};
static const char *const fake_op_names[2] = {"ADD_ONE", "COPY_SCALE"};

uaot_status_t fake_run_ex(const void *const *inputs, void *const *outputs, void *workspace, void *state,
                          const uaot_hooks_t *hooks)
{
    const int8_t *in0;
    const float *in1;
    int8_t *ws = (int8_t *)workspace;
    int8_t *out0;
    float *out1;
    int i;
    int chunk;
    (void)state;
    if (inputs == NULL || outputs == NULL || workspace == NULL) {
        return UAOT_ERR_ARG;
    }
    in0 = (const int8_t *)inputs[0];
    in1 = (const float *)inputs[1];
    out0 = (int8_t *)outputs[0];
    out1 = (float *)outputs[1];
    if ((uint8_t)in0[0] == 0x80u && (uint8_t)in0[1] == 0x80u) {
        return UAOT_ERR_RANGE;
    }
    /* op 0 and op 1 interleaved in chunks of the 32-byte workspace */
    if (hooks != NULL && hooks->op_begin != NULL) {
        hooks->op_begin(hooks->ctx, 0);
    }
    for (chunk = 0; chunk < 1000; chunk += 32) {
        int n = 1000 - chunk < 32 ? 1000 - chunk : 32;
        for (i = 0; i < n; ++i) {
            ws[i] = (int8_t)(uint8_t)((uint8_t)in0[chunk + i] + 1u);
        }
        memcpy(out0 + chunk, ws, (size_t)n);
    }
    if (hooks != NULL && hooks->op_end != NULL) {
        hooks->op_end(hooks->ctx, 0);
    }
    if (hooks != NULL && hooks->op_output != NULL) {
        hooks->op_output(hooks->ctx, 0, out0, 1000u);
    }
    if (hooks != NULL && hooks->op_begin != NULL) {
        hooks->op_begin(hooks->ctx, 1);
    }
    for (i = 0; i < 3; ++i) {
        out1[i] = 2.0f * in1[i];
    }
    if (hooks != NULL && hooks->op_end != NULL) {
        hooks->op_end(hooks->ctx, 1);
    }
    if (hooks != NULL && hooks->op_output != NULL) {
        hooks->op_output(hooks->ctx, 1, out1, 12u);
    }
    return UAOT_OK;
}

uaot_status_t fake_run(const void *const *inputs, void *const *outputs, void *workspace)
{
    return fake_run_ex(inputs, outputs, workspace, NULL, NULL);
}

const uaot_model_t fake_model = {
    UAOT_ABI_VERSION, "fake",       "0123456789abcdef", fake_WORKSPACE_SIZE, 0u,   0u, 2u, 2u, 2u,
    fake_inputs,      fake_outputs, fake_op_names,      fake_run_ex,         NULL,
};
