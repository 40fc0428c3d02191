/* microaot kernels: RESIZE_BILINEAR (TFLM reference arithmetic). NHWC input [batches, in_h, in_w, depth].
 * float32: ResizeBilinear<float> (float interpolation weights, products summed in TFLM's order);
 * int8 / int16: ResizeBilinearInteger (10-bit fixed-point positions, 20-bit products, rounded half away
 * from zero). align_corners and half_pixel_centers as TFLM. */
#ifndef MICROAOT_KERNELS_RESIZE_H
#define MICROAOT_KERNELS_RESIZE_H

#include <stdint.h>

#include "microaot/status.h"

typedef struct {
    int32_t batches, in_h, in_w, depth;
    int32_t out_h, out_w;
    int32_t align_corners, half_pixel_centers;
} uaot_resize_params_t;

uaot_status_t uaot_resize_bilinear_f32(const uaot_resize_params_t *p, const float *input, float *output);
uaot_status_t uaot_resize_bilinear_s8(const uaot_resize_params_t *p, const int8_t *input, int8_t *output);
uaot_status_t uaot_resize_bilinear_s16(const uaot_resize_params_t *p, const int16_t *input, int16_t *output);

#endif
