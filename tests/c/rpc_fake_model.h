/* A hand-written model descriptor for the RPC tests (not generated): "fake", two ops.
 *   op 0 (ADD_ONE):   workspace[i] = input0[i] + 1 (int8, wraps)
 *   op 1 (COPY_SCALE): output0 = workspace, output1[i] = 2 * input1[i] (float32)
 * Returns UAOT_ERR_RANGE when input0 starts with bytes 0x80 0x80 (to test ERR_MODEL). */
#ifndef FAKE_MODEL_H
#define FAKE_MODEL_H

#include "microaot/model.h"

#if UAOT_ABI_VERSION != 4
#error "fake model generated for UAOT_ABI_VERSION 4"
#endif

#define fake_WORKSPACE_SIZE 32
#define fake_WORKSPACE_ALIGN UAOT_WORKSPACE_ALIGN
#define fake_NUM_INPUTS 2
#define fake_NUM_OUTPUTS 2
#define fake_INPUT0_SIZE 1000
#define fake_INPUT1_SIZE 12
#define fake_OUTPUT0_SIZE 1000
#define fake_OUTPUT1_SIZE 12

uaot_status_t fake_run(const void *const *inputs, void *const *outputs, void *workspace);
uaot_status_t fake_run_ex(const void *const *inputs, void *const *outputs, void *workspace, void *state,
                          const uaot_hooks_t *hooks);
extern const uaot_model_t fake_model;

#endif
