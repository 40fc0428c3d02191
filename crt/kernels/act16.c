/* microaot kernels: int16 LOGISTIC / TANH (microaot/kernels/act16.h). */
#include "microaot/kernels/act16.h"

#include <stddef.h>

/* TFLM's sigmoid_table_uint16: sigmoid on [0, 10.7] in 256 steps, scaled to [32768, 65535] */
static const uint16_t uaot_sigmoid_u16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
};

/* the rescaled input: (x * mult + round) >> shift (TFLM; |x * mult| < 2^31 as mult <= 32767) */
static int32_t uaot_act16_in(const uaot_act16_params_t *p, int16_t x)
{
    const int32_t round = p->shift > 0 ? (int32_t)1 << (p->shift - 1) : 0;
    return ((int32_t)x * p->mult + round) >> p->shift;
}

static int uaot_act16_ok(const uaot_act16_params_t *p, const int16_t *input, const int16_t *output)
{
    return p != NULL && input != NULL && output != NULL && p->shift >= 0 && p->shift <= 31 && p->mult >= 0 &&
           p->mult <= 32767;
}

uaot_status_t uaot_logistic_s16(const uaot_act16_params_t *p, const int16_t *input, int16_t *output)
{
    if (!uaot_act16_ok(p, input, output)) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = uaot_act16_in(p, input[i]);
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        const uint32_t uh = a >> 9;
        uint32_t r;
        if (uh >= 255u) {
            r = (uint32_t)0x7FFF << 10;
        } else {
            const uint32_t ua = uaot_sigmoid_u16[uh], ub = uaot_sigmoid_u16[uh + 1u];
            r = (ua << 9) + (a & 0x1FFu) * (ub - ua);
        }
        r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        output[i] = (int16_t)(r >> 10);
    }
    return UAOT_OK;
}

uaot_status_t uaot_tanh_s16(const uaot_act16_params_t *p, const int16_t *input, int16_t *output)
{
    if (!uaot_act16_ok(p, input, output)) {
        return UAOT_ERR_ARG;
    }
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = uaot_act16_in(p, input[i]);
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        const uint32_t uh = a >> 8;
        int32_t r;
        if (uh >= 255u) {
            r = (int32_t)0xFFFF << 8;
        } else {
            const uint32_t ua = uaot_sigmoid_u16[uh], ub = uaot_sigmoid_u16[uh + 1u];
            r = (int32_t)((ua << 8) + (a & 0xFFu) * (ub - ua));
        }
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)(r >> 8);
    }
    return UAOT_OK;
}
