/* microaot kernels: schedule variants of int8 FULLY_CONNECTED (see fc_fast.h). The input offset is
 * folded into the bias by the generator, so an accumulator is bias + sum(x * w); SXTB16/SMLAD as in
 * conv_fast.c (portable emulation without __ARM_FEATURE_DSP). */
#include "microaot/kernels/fc_fast.h"

#include <stddef.h>

#include "microaot/simd.h"

/* the asm paths (gcc -O0 cannot allocate their operands: the portable loops run there) */
#if UAOT_HAVE_DSP && defined(__OPTIMIZE__)
#define UAOT_FC_ASM 1
#else
#define UAOT_FC_ASM 0
#endif

#if UAOT_FC_ASM
/* one group of 4 inputs for 4 output rows (16 MACs). The input pair (xa, xb) in SXTB16 order:
 *   XS: from the int16 copy in scratch, one LDRD;  X8: one LDR of 4 int8 inputs + 2 SXTB16.
 * The 4 weight words: W8: 2 LDRD + 8 SXTB16 + 8 SMLAD; W16: 4 LDRD + 8 SMLAD.
 * Instructions per group: XS+W8 19, X8+W8 21, XS+W16 13, X8+W16 15 (+1 per group of loop control). */
#define UAOT_FC4_XS "ldrd %[xa], %[xb], [%[c]], #8\n\t"
#define UAOT_FC4_X8             \
    "ldr %[xb], [%[c]], #4\n\t" \
    "sxtb16 %[xa], %[xb]\n\t"   \
    "sxtb16 %[xb], %[xb], ror #8\n\t"
#define UAOT_FC4_ROW8(T, A)                 \
    "sxtb16 %[wa0], " T "\n\t"              \
    "sxtb16 " T ", " T ", ror #8\n\t"       \
    "smlad " A ", %[wa0], %[xa], " A "\n\t" \
    "smlad " A ", " T ", %[xb], " A "\n\t"
#define UAOT_FC4_W8                                                                                         \
    "ldrd %[t0], %[t1], [%[w]], #8\n\t" UAOT_FC4_ROW8("%[t0]", "%[a0]")                                     \
        UAOT_FC4_ROW8("%[t1]", "%[a1]") "ldrd %[t0], %[t1], [%[w]], #8\n\t" UAOT_FC4_ROW8("%[t0]", "%[a2]") \
            UAOT_FC4_ROW8("%[t1]", "%[a3]")
#define UAOT_FC4_ROW16(A)                  \
    "ldrd %[t0], %[t1], [%[w]], #8\n\t"    \
    "smlad " A ", %[t0], %[xa], " A "\n\t" \
    "smlad " A ", %[t1], %[xb], " A "\n\t"
#define UAOT_FC4_W16 UAOT_FC4_ROW16("%[a0]") UAOT_FC4_ROW16("%[a1]") UAOT_FC4_ROW16("%[a2]") UAOT_FC4_ROW16("%[a3]")
/* n >= 1 groups, 2 per iteration; odd n enters the loop in its second half */
#define UAOT_FC4_LOOP(GROUP)                            \
    "ldr %[xa], %[oddm]\n\t"                            \
    "cmp %[xa], #0\n\t"                                 \
    "bne 2f\n\t"                                        \
    "1:\n\t" GROUP "2:\n\t" GROUP "cmp %[c], %[ce]\n\t" \
    "bne 1b\n\t"
#define UAOT_FC4_OPERANDS(WREGS)                                                                   \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [c] "+r"(c), [w] "+r"(w), WREGS,             \
      [xa] "=&r"(xa), [xb] "=&r"(xb)                                                                           \
    : [ce] "r"(cend), [oddm] "m"(odd)                                                                          \
    : "cc", "memory"
#define UAOT_FC4_REGS8 [t0] "=&r"(t0), [t1] "=&r"(t1), [wa0] "=&r"(wa0)
#define UAOT_FC4_REGS16 [t0] "=&r"(t0), [t1] "=&r"(t1)
/* requantization of accumulator A, stored to *yo++ (rq row {m, l1, r, bias} via LDM; UAOT_FC_RQ: via two
 * LDRD into unpinned registers, since 4 pinned plus 6 free operands cannot be allocated in frame-pointer
 * builds at -Os):
 * SMMLAR gives y + bias in one instruction (y = SMMULR(A << l1, m)), and the rounding term -(y < 0)
 * of uaot_rq_smmulr is taken from the sign of A: the generator emits this table only with m >= 0 and
 * r >= 1 on every row (m = 0 rows as {0, 1, 1, 1 + 2 * out_off}), where A < 0 and y = 0 give the same
 * (bias - 1) >> r = (bias) >> r, and otherwise sign(y) = sign(A). 7 instructions per output. */
#define UAOT_FC_RQX(A, Q, YO, M, L1, R, B) \
    "ldmia " Q "!, {" M ", " L1 ", " R ", " B "}\n\t" UAOT_FC_RQY(A, YO, M, L1, R, B)
#define UAOT_FC_RQY(A, YO, M, L1, R, B)     \
    "lsl " A ", " A ", " L1 "\n\t"          \
    "smmlar " M ", " A ", " M ", " B "\n\t" \
    "add " M ", " M ", " A ", asr #31\n\t"  \
    "asr " M ", " M ", " R "\n\t"           \
    "ssat " M ", #8, " M "\n\t"             \
    "strb " M ", [" YO "], #1\n\t"
#define UAOT_FC_RQ(A)                  \
    "ldrd %[m], %[l1], [%[q]], #8\n\t" \
    "ldrd %[r], %[bias], [%[q]], #8\n\t" UAOT_FC_RQY(A, "%[yo]", "%[m]", "%[l1]", "%[r]", "%[bias]")
/* All 4-row blocks in one asm (rq, full int8 range, no partial input group): per block the bias via
 * LDM, the groups, the 4 outputs requantized; the block state lives in st[] (bias, rq row, output,
 * input begin / end, groups % 4, output end). The groups 4 per iteration, a remainder entering the
 * loop part-way (TBB on groups % 4). 13 registers, pinned (r0-r6, r8-r12, lr; never r7: builds
 * with or without a frame pointer); after the groups, r4-r6, r8 take the rq row (LDM order) and
 * c / ce the rq and output pointers. ~12 instructions per block besides groups and requantization. */
#define UAOT_FC_RQF(A) UAOT_FC_RQX(A, "%[c]", "%[ce]", "%[t0]", "%[t1]", "%[wa0]", "%[xa]")
#define UAOT_FC_FUSED(GROUP)                                                                           \
    "0:\n\t"                                                                                           \
    "ldr %[c], [%[st]]\n\t"                                                                            \
    "ldmia %[c]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"                                                    \
    "str %[c], [%[st]]\n\t"                                                                            \
    "ldrd %[c], %[ce], [%[st], #12]\n\t"                                                               \
    "ldr %[xa], [%[st], #20]\n\t"                                                                      \
    "tbb [pc, %[xa]]\n\t"                                                                              \
    "3:\n\t"                                                                                           \
    ".byte (1f - 3b) / 2, (6f - 3b) / 2, (5f - 3b) / 2, (4f - 3b) / 2\n\t"                             \
    "1:\n\t" GROUP "4:\n\t" GROUP "5:\n\t" GROUP "6:\n\t" GROUP "cmp %[c], %[ce]\n\t"                  \
    "bne 1b\n\t"                                                                                       \
    "ldrd %[c], %[ce], [%[st], #4]\n\t" UAOT_FC_RQF("%[a0]") UAOT_FC_RQF("%[a1]") UAOT_FC_RQF("%[a2]") \
        UAOT_FC_RQF("%[a3]") "ldr %[xb], [%[st], #24]\n\t"                                             \
                             "strd %[c], %[ce], [%[st], #4]\n\t"                                       \
                             "cmp %[ce], %[xb]\n\t"                                                    \
                             "bne 0b\n\t"
/* x8 with a 4-aligned input: 8 inputs per LDRD (the second word kept in lr, free while the state
 * pointer is pushed on the stack; a group pair entered in its second half loads its word with LDR):
 * 16 MACs per 21 instructions. */
#define UAOT_FC4_X8P0                   \
    "ldrd %[xb], %[st], [%[c]], #8\n\t" \
    "sxtb16 %[xa], %[xb]\n\t"           \
    "sxtb16 %[xb], %[xb], ror #8\n\t"
#define UAOT_FC4_X8P1         \
    "sxtb16 %[xa], %[st]\n\t" \
    "sxtb16 %[xb], %[st], ror #8\n\t"
#define UAOT_FC_FUSED_X8D(W)                                                                            \
    "push {%[st]}\n\t"                                                                                  \
    "0:\n\t"                                                                                            \
    "ldr %[xa], [sp]\n\t"                                                                               \
    "ldr %[c], [%[xa]]\n\t"                                                                             \
    "ldmia %[c]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"                                                     \
    "str %[c], [%[xa]]\n\t"                                                                             \
    "ldrd %[c], %[ce], [%[xa], #12]\n\t"                                                                \
    "ldr %[xa], [%[xa], #20]\n\t"                                                                       \
    "tbb [pc, %[xa]]\n\t"                                                                               \
    "3:\n\t"                                                                                            \
    ".byte (1f - 3b) / 2, (9f - 3b) / 2, (5f - 3b) / 2, (8f - 3b) / 2\n\t"                              \
    "8:\n\t"                                                                                            \
    "ldr %[st], [%[c]], #4\n\t"                                                                         \
    "b.w 4f\n\t"                                                                                        \
    "9:\n\t"                                                                                            \
    "ldr %[st], [%[c]], #4\n\t"                                                                         \
    "b.w 6f\n\t"                                                                                        \
    "1:\n\t" UAOT_FC4_X8P0 W "4:\n\t" UAOT_FC4_X8P1 W "5:\n\t" UAOT_FC4_X8P0 W "6:\n\t" UAOT_FC4_X8P1 W \
    "cmp %[c], %[ce]\n\t"                                                                               \
    "bne 1b\n\t"                                                                                        \
    "ldr %[xb], [sp]\n\t"                                                                               \
    "ldrd %[c], %[ce], [%[xb], #4]\n\t" UAOT_FC_RQF("%[a0]") UAOT_FC_RQF("%[a1]") UAOT_FC_RQF("%[a2]")  \
        UAOT_FC_RQF("%[a3]") "ldr %[xb], [sp]\n\t"                                                      \
                             "strd %[c], %[ce], [%[xb], #4]\n\t"                                        \
                             "ldr %[xb], [%[xb], #24]\n\t"                                              \
                             "cmp %[ce], %[xb]\n\t"                                                     \
                             "bne 0b\n\t"                                                               \
                             "pop {%[st]}\n\t"
/* w16, 4 rows' weights per LDM: the state pointer pushed on the stack frees lr for a 4-register LDM
 * (r4-r6, lr: 2 rows x 2 words); per group of 4 inputs and 4 rows 2 LDM + 8 SMLAD + the input (XS: 1 LDRD,
 * X8: LDR + 2 SXTB16): 11 / 13 instructions per 16 MACs. */
#define UAOT_FC4_ROWS2L(A, B)                        \
    "ldmia %[w]!, {%[t0], %[t1], %[wa0], %[st]}\n\t" \
    "smlad " A ", %[t0], %[xa], " A "\n\t"           \
    "smlad " A ", %[t1], %[xb], " A "\n\t"           \
    "smlad " B ", %[wa0], %[xa], " B "\n\t"          \
    "smlad " B ", %[st], %[xb], " B "\n\t"
#define UAOT_FC4_W16L UAOT_FC4_ROWS2L("%[a0]", "%[a1]") UAOT_FC4_ROWS2L("%[a2]", "%[a3]")
#define UAOT_FC_FUSED_L(GROUP)                                                                         \
    "push {%[st]}\n\t"                                                                                 \
    "0:\n\t"                                                                                           \
    "ldr %[xa], [sp]\n\t"                                                                              \
    "ldr %[c], [%[xa]]\n\t"                                                                            \
    "ldmia %[c]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"                                                    \
    "str %[c], [%[xa]]\n\t"                                                                            \
    "ldrd %[c], %[ce], [%[xa], #12]\n\t"                                                               \
    "ldr %[xa], [%[xa], #20]\n\t"                                                                      \
    "tbb [pc, %[xa]]\n\t"                                                                              \
    "3:\n\t"                                                                                           \
    ".byte (1f - 3b) / 2, (6f - 3b) / 2, (5f - 3b) / 2, (4f - 3b) / 2\n\t"                             \
    "1:\n\t" GROUP "4:\n\t" GROUP "5:\n\t" GROUP "6:\n\t" GROUP "cmp %[c], %[ce]\n\t"                  \
    "bne 1b\n\t"                                                                                       \
    "ldr %[xb], [sp]\n\t"                                                                              \
    "ldrd %[c], %[ce], [%[xb], #4]\n\t" UAOT_FC_RQF("%[a0]") UAOT_FC_RQF("%[a1]") UAOT_FC_RQF("%[a2]") \
        UAOT_FC_RQF("%[a3]") "ldr %[xb], [sp]\n\t"                                                     \
                             "strd %[c], %[ce], [%[xb], #4]\n\t"                                       \
                             "ldr %[xb], [%[xb], #24]\n\t"                                             \
                             "cmp %[ce], %[xb]\n\t"                                                    \
                             "bne 0b\n\t"                                                              \
                             "pop {%[st]}\n\t"
/* w16 with x8 and a 4-aligned input: 8 inputs per LDRD into xb and ce (the input end is kept on the stack
 * beside the state pointer: the loop test reloads it), the groups 32 per iteration (TBH on groups % 32; an odd
 * entry loads its word with LDR first; 128 inputs = one iteration): per 2 groups LDRD + 4 SXTB16 + 4 LDM + 16
 * SMLAD, 12.5 instructions per 16 MACs + 3 per 32 groups (~1.8 KB of code). */
#define UAOT_FC4_X8LP0                  \
    "ldrd %[xb], %[ce], [%[c]], #8\n\t" \
    "sxtb16 %[xa], %[xb]\n\t"           \
    "sxtb16 %[xb], %[xb], ror #8\n\t"
#define UAOT_FC4_X8LP1        \
    "sxtb16 %[xa], %[ce]\n\t" \
    "sxtb16 %[xb], %[ce], ror #8\n\t"
#define UAOT_FC_FUSED_X8L                                                                                 \
    "ldr %[ce], [%[st], #16]\n\t"                                                                         \
    "push {%[ce], %[st]}\n\t"                                                                             \
    "0:\n\t"                                                                                              \
    "ldr %[xa], [sp, #4]\n\t"                                                                             \
    "ldr %[c], [%[xa]]\n\t"                                                                               \
    "ldmia %[c]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"                                                       \
    "str %[c], [%[xa]]\n\t"                                                                               \
    "ldr %[c], [%[xa], #12]\n\t"                                                                          \
    "ldr %[xa], [%[xa], #20]\n\t"                                                                         \
    "tbh [pc, %[xa], lsl #1]\n\t"                                                                         \
    "3:\n\t"                                                                                              \
    ".hword (1f - 3b) / 2, (231f - 3b) / 2, (130f - 3b) / 2, (229f - 3b) / 2\n\t"                         \
    ".hword (128f - 3b) / 2, (227f - 3b) / 2, (126f - 3b) / 2, (225f - 3b) / 2\n\t"                       \
    ".hword (124f - 3b) / 2, (223f - 3b) / 2, (122f - 3b) / 2, (221f - 3b) / 2\n\t"                       \
    ".hword (120f - 3b) / 2, (219f - 3b) / 2, (118f - 3b) / 2, (217f - 3b) / 2\n\t"                       \
    ".hword (116f - 3b) / 2, (215f - 3b) / 2, (114f - 3b) / 2, (213f - 3b) / 2\n\t"                       \
    ".hword (112f - 3b) / 2, (211f - 3b) / 2, (110f - 3b) / 2, (209f - 3b) / 2\n\t"                       \
    ".hword (108f - 3b) / 2, (207f - 3b) / 2, (106f - 3b) / 2, (205f - 3b) / 2\n\t"                       \
    ".hword (104f - 3b) / 2, (203f - 3b) / 2, (102f - 3b) / 2, (201f - 3b) / 2\n\t"                       \
    "201:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 101f\n\t"                                                                                        \
    "203:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 103f\n\t"                                                                                        \
    "205:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 105f\n\t"                                                                                        \
    "207:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 107f\n\t"                                                                                        \
    "209:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 109f\n\t"                                                                                        \
    "211:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 111f\n\t"                                                                                        \
    "213:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 113f\n\t"                                                                                        \
    "215:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 115f\n\t"                                                                                        \
    "217:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 117f\n\t"                                                                                        \
    "219:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 119f\n\t"                                                                                        \
    "221:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 121f\n\t"                                                                                        \
    "223:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 123f\n\t"                                                                                        \
    "225:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 125f\n\t"                                                                                        \
    "227:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 127f\n\t"                                                                                        \
    "229:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 129f\n\t"                                                                                        \
    "231:\n\t"                                                                                            \
    "ldr %[ce], [%[c]], #4\n\t"                                                                           \
    "b.w 131f\n\t"                                                                                        \
    "1:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "101:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                         \
    "102:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "103:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "104:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "105:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "106:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "107:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "108:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "109:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "110:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "111:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "112:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "113:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "114:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "115:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "116:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "117:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "118:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "119:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "120:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "121:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "122:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "123:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "124:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "125:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "126:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "127:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "128:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "129:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L                       \
    "130:\n\t" UAOT_FC4_X8LP0 UAOT_FC4_W16L "131:\n\t" UAOT_FC4_X8LP1 UAOT_FC4_W16L "ldr %[xa], [sp]\n\t" \
    "cmp %[c], %[xa]\n\t"                                                                                 \
    "bne 1b\n\t"                                                                                          \
    "ldr %[xb], [sp, #4]\n\t"                                                                             \
    "ldrd %[c], %[ce], [%[xb], #4]\n\t" UAOT_FC_RQF("%[a0]") UAOT_FC_RQF("%[a1]") UAOT_FC_RQF("%[a2]")    \
        UAOT_FC_RQF("%[a3]") "ldr %[xb], [sp, #4]\n\t"                                                    \
                             "strd %[c], %[ce], [%[xb], #4]\n\t"                                          \
                             "ldr %[xb], [%[xb], #24]\n\t"                                                \
                             "cmp %[ce], %[xb]\n\t"                                                       \
                             "bne 0b\n\t"                                                                 \
                             "pop {%[ce], %[st]}\n\t"
#define UAOT_FC_FUSED_OPERANDS                                                                                 \
    : [a0] "=&r"(r_a0), [a1] "=&r"(r_a1), [a2] "=&r"(r_a2), [a3] "=&r"(r_a3), [t0] "=&r"(r_t0),                \
      [t1] "=&r"(r_t1), [wa0] "=&r"(r_wa0), [xa] "=&r"(r_xa), [xb] "=&r"(r_xb), [c] "=&r"(r_c), [w] "+r"(r_w), \
      [ce] "=&r"(r_ce)                                                                                         \
    : [st] "r"(r_st)                                                                                           \
    : "cc", "memory"
#define UAOT_FC_FUSED_X8D_OPERANDS                                                                             \
    : [a0] "=&r"(r_a0), [a1] "=&r"(r_a1), [a2] "=&r"(r_a2), [a3] "=&r"(r_a3), [t0] "=&r"(r_t0),                \
      [t1] "=&r"(r_t1), [wa0] "=&r"(r_wa0), [xa] "=&r"(r_xa), [xb] "=&r"(r_xb), [c] "=&r"(r_c), [w] "+r"(r_w), \
      [ce] "=&r"(r_ce), [st] "+r"(r_st)                                                                        \
    :                                                                                                          \
    : "cc", "memory"
#endif

UAOT_INLINE int8_t uaot_fc_out(const uaot_fc_s8_params_t *p, int32_t acc, int32_t o)
{
    if (p->rq != NULL) {
        return uaot_clamp8(uaot_rq_smmulr(acc, p->rq + 4 * o), p->act_min, p->act_max);
    }
    const int32_t mult = p->mult_pc != NULL ? p->mult_pc[o] : p->mult;
    const int32_t shift = p->shift_pc != NULL ? p->shift_pc[o] : p->shift;
    return uaot_requant_out(acc, mult, shift, p->output_offset, p->act_min, p->act_max);
}

/* input word of group g: 4 int8 inputs, the last (partial) group zero-padded (xt) */
UAOT_INLINE uint32_t uaot_fc_word(const int8_t *x, int32_t g, int32_t gf, uint32_t xt)
{
    return g < gf ? uaot_ld32(x + 4 * g) : xt;
}

/* the int16 input pairs of group g in SXTB16 order: expanded here from the int8 input (x8), or read from
 * the expanded copy xs */
UAOT_INLINE void uaot_fc_pairs(const int x8, const int8_t *x, const uint32_t *xs, int32_t g, int32_t gf, uint32_t xt,
                               uint32_t *xa, uint32_t *xb)
{
    if (x8) {
        const uint32_t v = uaot_fc_word(x, g, gf, xt);
        *xa = uaot_sxtb16(v);
        *xb = uaot_sxtb16_r8(v);
    } else {
        *xa = xs[2 * g];
        *xb = xs[2 * g + 1];
    }
}

/* one int8 input group v against the group's weight word of one row (int8: 2 SXTB16; w16: 2 words) */
UAOT_INLINE int32_t uaot_fc_row_group(uint32_t xa, uint32_t xb, const uint32_t *w, const int w16, int32_t a)
{
    if (w16) {
        return uaot_smlad(w[1], xb, uaot_smlad(w[0], xa, a));
    }
    return uaot_smlad(uaot_sxtb16_r8(w[0]), xb, uaot_smlad(uaot_sxtb16(w[0]), xa, a));
}

/* n_out < 4: the rows one after the other in the packed filter (pack_row_blocks' tail layout), taken two at
 * a time with the int8 input expanded in registers (no int16 copy: the copy costs as much as the MACs of a
 * 2-row layer); per group of 4 inputs and 2 rows: LDR + 2 SXTB16 of the input, 2 x (LDR + 2 SXTB16 + 2 SMLAD) */
UAOT_INLINE void uaot_fc_tail(const uaot_fc_s8_params_t *p, const int8_t *x, int32_t gf, uint32_t xt, int32_t G,
                              const int w16, const uint32_t *w, int8_t *y)
{
    const int32_t n_out = p->out_features;
    const int32_t rw = w16 ? 2 * G : G; /* words per row */
    int32_t o = 0;
    for (; o + 2 <= n_out; o += 2) {
        int32_t a0 = p->bias[o], a1 = p->bias[o + 1];
        const uint32_t *wa = w, *wb = w + rw;
        const int32_t step = w16 ? 2 : 1;
        int32_t g = 0;
#if UAOT_FC_ASM
        if (!w16 && gf > 0) { /* per group of 4 inputs and 2 rows: 3 LDR + 6 SXTB16 + 4 SMLAD + 2 (loop) */
            const int8_t *xp = x;
            const int8_t *xe = x + 4 * gf;
            uint32_t xv, t, u, va, vb;
            __asm__ volatile("1:\n\t"
                             "ldr %[xv], [%[xp]], #4\n\t"
                             "ldr %[va], [%[wa]], #4\n\t"
                             "ldr %[vb], [%[wb]], #4\n\t"
                             "sxtb16 %[t], %[xv]\n\t"
                             "sxtb16 %[xv], %[xv], ror #8\n\t"
                             "sxtb16 %[u], %[va]\n\t"
                             "sxtb16 %[va], %[va], ror #8\n\t"
                             "smlad %[a0], %[u], %[t], %[a0]\n\t"
                             "smlad %[a0], %[va], %[xv], %[a0]\n\t"
                             "sxtb16 %[u], %[vb]\n\t"
                             "sxtb16 %[vb], %[vb], ror #8\n\t"
                             "smlad %[a1], %[u], %[t], %[a1]\n\t"
                             "smlad %[a1], %[vb], %[xv], %[a1]\n\t"
                             "cmp %[xp], %[xe]\n\t"
                             "bne 1b\n\t"
                             : [a0] "+r"(a0), [a1] "+r"(a1), [xp] "+r"(xp), [wa] "+r"(wa), [wb] "+r"(wb),
                               [xv] "=&r"(xv), [t] "=&r"(t), [u] "=&r"(u), [va] "=&r"(va), [vb] "=&r"(vb)
                             : [xe] "r"(xe)
                             : "cc", "memory");
            g = gf;
        } else if (w16 && gf > 0) { /* per group and 2 rows: LDR + 2 SXTB16, 2 LDRD + 4 SMLAD, 2 (loop) */
            const int8_t *xp = x;
            const int8_t *xe = x + 4 * gf;
            uint32_t xv, t, va, vb;
            __asm__ volatile("1:\n\t"
                             "ldr %[xv], [%[xp]], #4\n\t"
                             "ldrd %[va], %[vb], [%[wa]], #8\n\t"
                             "sxtb16 %[t], %[xv]\n\t"
                             "sxtb16 %[xv], %[xv], ror #8\n\t"
                             "smlad %[a0], %[va], %[t], %[a0]\n\t"
                             "smlad %[a0], %[vb], %[xv], %[a0]\n\t"
                             "ldrd %[va], %[vb], [%[wb]], #8\n\t"
                             "smlad %[a1], %[va], %[t], %[a1]\n\t"
                             "smlad %[a1], %[vb], %[xv], %[a1]\n\t"
                             "cmp %[xp], %[xe]\n\t"
                             "bne 1b\n\t"
                             : [a0] "+r"(a0), [a1] "+r"(a1), [xp] "+r"(xp), [wa] "+r"(wa), [wb] "+r"(wb),
                               [xv] "=&r"(xv), [t] "=&r"(t), [va] "=&r"(va), [vb] "=&r"(vb)
                             : [xe] "r"(xe)
                             : "cc", "memory");
            g = gf;
        }
#endif
        for (; g + 2 <= gf; g += 2) {
            const uint32_t v0 = uaot_ld32(x + 4 * g), v1 = uaot_ld32(x + 4 * g + 4);
            const uint32_t xa0 = uaot_sxtb16(v0), xb0 = uaot_sxtb16_r8(v0);
            const uint32_t xa1 = uaot_sxtb16(v1), xb1 = uaot_sxtb16_r8(v1);
            a0 = uaot_fc_row_group(xa0, xb0, wa, w16, a0);
            a1 = uaot_fc_row_group(xa0, xb0, wb, w16, a1);
            a0 = uaot_fc_row_group(xa1, xb1, wa + step, w16, a0);
            a1 = uaot_fc_row_group(xa1, xb1, wb + step, w16, a1);
            wa += 2 * step;
            wb += 2 * step;
        }
        for (; g < G; ++g, wa += step, wb += step) {
            const uint32_t v = uaot_fc_word(x, g, gf, xt);
            const uint32_t xa = uaot_sxtb16(v), xb = uaot_sxtb16_r8(v);
            a0 = uaot_fc_row_group(xa, xb, wa, w16, a0);
            a1 = uaot_fc_row_group(xa, xb, wb, w16, a1);
        }
        y[o] = uaot_fc_out(p, a0, o);
        y[o + 1] = uaot_fc_out(p, a1, o + 1);
        w += 2 * rw;
    }
    if (o < n_out) {
        int32_t a0 = p->bias[o];
        for (int32_t g = 0; g < G; ++g) {
            const uint32_t v = uaot_fc_word(x, g, gf, xt);
            a0 = uaot_fc_row_group(uaot_sxtb16(v), uaot_sxtb16_r8(v), w + (w16 ? 2 * g : g), w16, a0);
        }
        y[o] = uaot_fc_out(p, a0, o);
    }
}

UAOT_INLINE uaot_status_t uaot_fc_simd(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                       int8_t *output, uint8_t *scratch, const uint32_t scratch_size, const int w16,
                                       const int x8)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->bias == NULL ||
        ((uintptr_t)filter & 3u) != 0u || (!x8 && (scratch == NULL || ((uintptr_t)scratch & 3u) != 0u))) {
        return UAOT_ERR_ARG;
    }
    UAOT_CHECK_SCRATCH(scratch_size, x8 ? 0u : uaot_fully_connected_s8_simd4_scratch_size(p));
    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    const int32_t G = UAOT_FC_KP(n_in) / 4; /* groups of 4 inputs */
    const int32_t gf = n_in / 4;            /* full groups */
    /* x8: the asm loops run the full groups, the partial one follows in C; otherwise all G groups
     * come from the int16 copy */
#if UAOT_FC_ASM
    const int32_t ga = x8 ? gf : G;
#endif
    const int32_t ww = w16 ? 8 : 4; /* weight words of a 4-row group */
    uint32_t *xs = (uint32_t *)(void *)scratch;
#if UAOT_FC_ASM
    const int rq_full = p->rq != NULL && p->act_min == -128 && p->act_max == 127;
#endif
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (int32_t)b * n_in;
        int8_t *y = output + (int32_t)b * n_out;
        uint32_t xt = 0;
        for (int32_t i = 4 * gf; i < n_in; ++i) {
            xt |= (uint32_t)(uint8_t)x[i] << (8 * (i - 4 * gf));
        }
        if (!x8 && n_out >= 4) { /* below 4 rows: the tail reads the int8 input directly (uaot_fc_tail2) */
            /* expand the input row to int16 pairs in SXTB16 order */
            for (int32_t g = 0; g < gf; ++g) {
                const uint32_t v = uaot_ld32(x + 4 * g);
                xs[2 * g] = uaot_sxtb16(v);
                xs[2 * g + 1] = uaot_sxtb16_r8(v);
            }
            if (gf < G) {
                xs[2 * gf] = uaot_sxtb16(xt);
                xs[2 * gf + 1] = uaot_sxtb16_r8(xt);
            }
        }
        const uint32_t *w = (const uint32_t *)(const void *)filter;
        const int32_t *bias = p->bias;
#if UAOT_FC_ASM
        const void *cbeg = x8 ? (const void *)x : (const void *)xs;
        const void *cend = x8 ? (const void *)(x + 4 * ga) : (const void *)(xs + 2 * ga);
        const int32_t odd = ga & 1;
#endif
        int32_t o = 0;
#if UAOT_FC_ASM
        if (rq_full && ga == G && n_out >= 4) {
            const int32_t nb = n_out / 4;
            uint32_t st[7] = {(uint32_t)(uintptr_t)bias,        (uint32_t)(uintptr_t)p->rq, (uint32_t)(uintptr_t)y,
                              (uint32_t)(uintptr_t)cbeg,        (uint32_t)(uintptr_t)cend,  (uint32_t)(ga & 3),
                              (uint32_t)(uintptr_t)(y + 4 * nb)};
            register int32_t r_a0 __asm__("r0");
            register int32_t r_a1 __asm__("r1");
            register int32_t r_a2 __asm__("r2");
            register int32_t r_a3 __asm__("r3");
            register uint32_t r_t0 __asm__("r4");
            register uint32_t r_t1 __asm__("r5");
            register uint32_t r_wa0 __asm__("r6");
            register uint32_t r_xa __asm__("r8");
            register uint32_t r_xb __asm__("r9");
            register uint32_t r_c __asm__("r10");
            register const uint32_t *r_w __asm__("r11") = w;
            register uint32_t r_ce __asm__("r12");
            register uint32_t *r_st __asm__("lr") = st;
            if (w16) {
                if (x8 && ((uintptr_t)input & 3u) == 0u) {
                    st[5] = (uint32_t)(ga & 31);
                    __asm__ volatile(UAOT_FC_FUSED_X8L UAOT_FC_FUSED_X8D_OPERANDS);
                } else if (x8) {
                    __asm__ volatile(UAOT_FC_FUSED_L(UAOT_FC4_X8 UAOT_FC4_W16L) UAOT_FC_FUSED_X8D_OPERANDS);
                } else {
                    __asm__ volatile(UAOT_FC_FUSED_L(UAOT_FC4_XS UAOT_FC4_W16L) UAOT_FC_FUSED_X8D_OPERANDS);
                }
            } else if (x8 && ((uintptr_t)input & 3u) == 0u) {
                __asm__ volatile(UAOT_FC_FUSED_X8D(UAOT_FC4_W8) UAOT_FC_FUSED_X8D_OPERANDS);
            } else {
                if (x8) {
                    __asm__ volatile(UAOT_FC_FUSED(UAOT_FC4_X8 UAOT_FC4_W8) UAOT_FC_FUSED_OPERANDS);
                } else {
                    __asm__ volatile(UAOT_FC_FUSED(UAOT_FC4_XS UAOT_FC4_W8) UAOT_FC_FUSED_OPERANDS);
                }
            }
            (void)r_a0, (void)r_a1, (void)r_a2, (void)r_a3, (void)r_t0, (void)r_t1, (void)r_wa0, (void)r_xa;
            (void)r_xb, (void)r_c, (void)r_ce;
            w = r_w;
            o = 4 * nb;
        }
#endif
        for (; o + 4 <= n_out; o += 4, bias += 4) {
            int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
#if UAOT_FC_ASM
            if (ga > 0) {
                const void *c = cbeg;
                uint32_t t0, t1, xa, xb;
                if (w16) {
                    if (x8) {
                        __asm__ volatile(UAOT_FC4_LOOP(UAOT_FC4_X8 UAOT_FC4_W16) UAOT_FC4_OPERANDS(UAOT_FC4_REGS16));
                    } else {
                        __asm__ volatile(UAOT_FC4_LOOP(UAOT_FC4_XS UAOT_FC4_W16) UAOT_FC4_OPERANDS(UAOT_FC4_REGS16));
                    }
                } else {
                    uint32_t wa0;
                    if (x8) {
                        __asm__ volatile(UAOT_FC4_LOOP(UAOT_FC4_X8 UAOT_FC4_W8) UAOT_FC4_OPERANDS(UAOT_FC4_REGS8));
                    } else {
                        __asm__ volatile(UAOT_FC4_LOOP(UAOT_FC4_XS UAOT_FC4_W8) UAOT_FC4_OPERANDS(UAOT_FC4_REGS8));
                    }
                }
            }
            for (int32_t g = ga; g < G; ++g) { /* x8: the partial group */
#else
            for (int32_t g = 0; g < G; ++g) {
#endif
                uint32_t xa, xb;
                uaot_fc_pairs(x8, x, xs, g, gf, xt, &xa, &xb);
                if (w16) {
                    a0 = uaot_smlad(w[1], xb, uaot_smlad(w[0], xa, a0));
                    a1 = uaot_smlad(w[3], xb, uaot_smlad(w[2], xa, a1));
                    a2 = uaot_smlad(w[5], xb, uaot_smlad(w[4], xa, a2));
                    a3 = uaot_smlad(w[7], xb, uaot_smlad(w[6], xa, a3));
                } else {
                    a0 = uaot_smlad(uaot_sxtb16_r8(w[0]), xb, uaot_smlad(uaot_sxtb16(w[0]), xa, a0));
                    a1 = uaot_smlad(uaot_sxtb16_r8(w[1]), xb, uaot_smlad(uaot_sxtb16(w[1]), xa, a1));
                    a2 = uaot_smlad(uaot_sxtb16_r8(w[2]), xb, uaot_smlad(uaot_sxtb16(w[2]), xa, a2));
                    a3 = uaot_smlad(uaot_sxtb16_r8(w[3]), xb, uaot_smlad(uaot_sxtb16(w[3]), xa, a3));
                }
                w += ww;
            }
#if UAOT_FC_ASM
            if (rq_full) {
                /* 4 rows requantized in one asm, each rq row in two LDRD */
                int32_t m, l1, r, rb;
                const int32_t *q = p->rq + 4 * o;
                int8_t *yo = y + o;
                __asm__ volatile(UAOT_FC_RQ("%[a0]") UAOT_FC_RQ("%[a1]") UAOT_FC_RQ("%[a2]") UAOT_FC_RQ("%[a3]")
                                 : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(m),
                                   [l1] "=&r"(l1), [r] "=&r"(r), [bias] "=&r"(rb), [q] "+r"(q), [yo] "+r"(yo)
                                 :
                                 : "cc", "memory");
                continue;
            }
#endif
            y[o] = uaot_fc_out(p, a0, o);
            y[o + 1] = uaot_fc_out(p, a1, o + 1);
            y[o + 2] = uaot_fc_out(p, a2, o + 2);
            y[o + 3] = uaot_fc_out(p, a3, o + 3);
        }
        if (n_out < 4) { /* 1..3 rows (tiny layers, e.g. a 2-class head): pairs of rows on the int8 input */
            uaot_fc_tail(p, x, gf, xt, G, w16, w, y);
            continue;
        }
        for (; o < n_out; ++o) { /* the last n_out % 4 rows, one after the other */
            int32_t a0 = p->bias[o];
            for (int32_t g = 0; g < G; ++g) {
                uint32_t xa, xb;
                uaot_fc_pairs(x8, x, xs, g, gf, xt, &xa, &xb);
                if (w16) {
                    a0 = uaot_smlad(w[1], xb, uaot_smlad(w[0], xa, a0));
                    w += 2;
                } else {
                    a0 = uaot_smlad(uaot_sxtb16_r8(w[0]), xb, uaot_smlad(uaot_sxtb16(w[0]), xa, a0));
                    w += 1;
                }
            }
            y[o] = uaot_fc_out(p, a0, o);
        }
    }
    return UAOT_OK;
}

uaot_status_t uaot_fully_connected_s8_simd4(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                            int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_fc_simd(p, input, filter, output, scratch, scratch_size, 0, 0);
}

uaot_status_t uaot_fully_connected_s8_simd4_w16(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                                int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_fc_simd(p, input, filter, output, scratch, scratch_size, 1, 0);
}

uaot_status_t uaot_fully_connected_s8_simd4_x8(const uaot_fc_s8_params_t *p, const int8_t *input, const int8_t *filter,
                                               int8_t *output, uint8_t *scratch, uint32_t scratch_size)
{
    return uaot_fc_simd(p, input, filter, output, scratch, scratch_size, 0, 1);
}

uaot_status_t uaot_fully_connected_s8_simd4_x8_w16(const uaot_fc_s8_params_t *p, const int8_t *input,
                                                   const int8_t *filter, int8_t *output, uint8_t *scratch,
                                                   uint32_t scratch_size)
{
    return uaot_fc_simd(p, input, filter, output, scratch, scratch_size, 1, 1);
}
