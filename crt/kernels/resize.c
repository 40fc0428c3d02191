/* microaot kernels: RESIZE_BILINEAR, portable C99 (see resize.h). */
#include "microaot/kernels/resize.h"

#include <stddef.h>

static void interp_f(int32_t value, float scale, int32_t half_pixel, int32_t in_size, float *scaled, int32_t *lo,
                     int32_t *hi)
{
    if (half_pixel) {
        *scaled = ((float)value + 0.5f) * scale - 0.5f;
    } else {
        *scaled = (float)value * scale;
    }
    /* floor and ceil of a small float without libm */
    const int32_t t = (int32_t)*scaled;
    const int32_t fl = *scaled < (float)t ? t - 1 : t;
    const int32_t cl = *scaled > (float)t ? t + 1 : t;
    *lo = fl > 0 ? fl : 0;
    *hi = cl < in_size - 1 ? cl : in_size - 1;
}

uaot_status_t uaot_resize_bilinear_f32(const uaot_resize_params_t *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL || p->out_h <= 0 || p->out_w <= 0) {
        return UAOT_ERR_ARG;
    }
    float hs = (float)p->in_h / (float)p->out_h;
    float ws = (float)p->in_w / (float)p->out_w;
    if (p->align_corners && p->out_h > 1) {
        hs = (float)(p->in_h - 1) / (float)(p->out_h - 1);
    }
    if (p->align_corners && p->out_w > 1) {
        ws = (float)(p->in_w - 1) / (float)(p->out_w - 1);
    }
    const int32_t d = p->depth;
    for (int32_t b = 0; b < p->batches; ++b) {
        const float *in = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)d;
        for (int32_t y = 0; y < p->out_h; ++y) {
            float iy;
            int32_t y0, y1;
            interp_f(y, hs, p->half_pixel_centers, p->in_h, &iy, &y0, &y1);
            /* every product and sum rounded to float separately, as TFLM's C++ (no contraction) */
            volatile float dy = iy - (float)y0;
            const float dy1 = 1.0f - dy;
            for (int32_t x = 0; x < p->out_w; ++x) {
                float ix;
                int32_t x0, x1;
                interp_f(x, ws, p->half_pixel_centers, p->in_w, &ix, &x0, &x1);
                volatile float dx = ix - (float)x0;
                const float dx1 = 1.0f - dx;
                const float *r0 = in + (size_t)y0 * (size_t)p->in_w * (size_t)d;
                const float *r1 = in + (size_t)y1 * (size_t)p->in_w * (size_t)d;
                for (int32_t c = 0; c < d; ++c) {
                    volatile float t0 = r0[(size_t)x0 * d + c] * dy1;
                    t0 = t0 * dx1;
                    volatile float t1 = r1[(size_t)x0 * d + c] * dy;
                    t1 = t1 * dx1;
                    volatile float t2 = r0[(size_t)x1 * d + c] * dy1;
                    t2 = t2 * dx;
                    volatile float t3 = r1[(size_t)x1 * d + c] * dy;
                    t3 = t3 * dx;
                    volatile float s = t0 + t1;
                    s = s + t2;
                    s = s + t3;
                    s = s + 0.0f; /* TFLM adds its rounding offset (0 for float): -0 becomes +0 */
                    *output++ = s;
                }
            }
        }
    }
    return UAOT_OK;
}

static void interp_i(int32_t value, int32_t scale_10, int32_t half_pixel, int32_t in_size, int32_t *scaled, int32_t *lo,
                     int32_t *hi)
{
    if (half_pixel) {
        *scaled = value * scale_10 + scale_10 / 2 - (1 << 9);
    } else {
        *scaled = value * scale_10;
    }
    const int32_t l = *scaled / (1 << 10);
    *lo = l > 0 ? l : 0;
    const int32_t h = (*scaled + (1 << 10) - 1) / (1 << 10);
    *hi = h < in_size - 1 ? h : in_size - 1;
}

#define UAOT_RESIZE_INT_BODY(T)                                                                                     \
    if (p == NULL || input == NULL || output == NULL || p->out_h <= 0 || p->out_w <= 0) {                           \
        return UAOT_ERR_ARG;                                                                                        \
    }                                                                                                               \
    int32_t hs = ((1 << 10) * p->in_h + p->out_h / 2) / p->out_h;                                                   \
    int32_t ws = ((1 << 10) * p->in_w + p->out_w / 2) / p->out_w;                                                   \
    if (p->align_corners && p->out_h > 1) {                                                                         \
        hs = ((1 << 10) * (p->in_h - 1) + (p->out_h - 1) / 2) / (p->out_h - 1);                                     \
    }                                                                                                               \
    if (p->align_corners && p->out_w > 1) {                                                                         \
        ws = ((1 << 10) * (p->in_w - 1) + (p->out_w - 1) / 2) / (p->out_w - 1);                                     \
    }                                                                                                               \
    const int32_t d = p->depth;                                                                                     \
    for (int32_t b = 0; b < p->batches; ++b) {                                                                      \
        const T *in = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)d;                            \
        for (int32_t y = 0; y < p->out_h; ++y) {                                                                    \
            int32_t iy, y0, y1;                                                                                     \
            interp_i(y, hs, p->half_pixel_centers, p->in_h, &iy, &y0, &y1);                                         \
            const int64_t wy1 = iy - (1 << 10) * y0;                                                                \
            const int64_t wy0 = (1 << 10) - wy1;                                                                    \
            const T *r0 = in + (size_t)y0 * (size_t)p->in_w * (size_t)d;                                            \
            const T *r1 = in + (size_t)y1 * (size_t)p->in_w * (size_t)d;                                            \
            for (int32_t x = 0; x < p->out_w; ++x) {                                                                \
                int32_t ix, x0, x1;                                                                                 \
                interp_i(x, ws, p->half_pixel_centers, p->in_w, &ix, &x0, &x1);                                     \
                const int64_t wx1 = ix - (1 << 10) * x0;                                                            \
                const int64_t wx0 = (1 << 10) - wx1;                                                                \
                for (int32_t c = 0; c < d; ++c) {                                                                   \
                    const int64_t o20 =                                                                             \
                        (int64_t)r0[(size_t)x0 * d + c] * wy0 * wx0 + (int64_t)r1[(size_t)x0 * d + c] * wy1 * wx0 + \
                        (int64_t)r0[(size_t)x1 * d + c] * wy0 * wx1 + (int64_t)r1[(size_t)x1 * d + c] * wy1 * wx1;  \
                    const int64_t round = o20 > 0 ? (1 << 19) : -(1 << 19);                                         \
                    *output++ = (T)((o20 + round) / (1 << 20));                                                     \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
    }                                                                                                               \
    return UAOT_OK;

uaot_status_t uaot_resize_bilinear_s8(const uaot_resize_params_t *p, const int8_t *input,
                                      int8_t *output){UAOT_RESIZE_INT_BODY(int8_t)}

uaot_status_t uaot_resize_bilinear_s16(const uaot_resize_params_t *p, const int16_t *input, int16_t *output)
{
    UAOT_RESIZE_INT_BODY(int16_t)
}
