/* The three memory modes of a stateful exported model (tests/test_state.py): a static state buffer with
 * NAME_reset_state + NAME_run, the arena (uaot_model_state_init + uaot_model_run_state) and user allocator
 * hooks, each over the same sequence of steps, twice (the state reset in between).
 *
 * Build: gcc -DMODEL_HEADER='"acc.h"' -DMODEL=acc ... ; run: state_modes STEPS INPUT_FILE
 * INPUT_FILE holds STEPS x MODEL_INPUT0_SIZE bytes (one input). Prints, per mode, pass and step,
 * "mode=M pass=P step=K status=S out=HEX" (every output, concatenated), then the refusals, then "done ok". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microaot/alloc.h"
#include MODEL_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define SYM(x) CAT(MODEL, x)

#define NOUT SYM(_NUM_OUTPUTS)
#define MAX_STEPS 16
#define MAX_OUT 4096

static int failures = 0;
#define CHECK(c)                                                           \
    do {                                                                   \
        if (!(c)) {                                                        \
            fprintf(stdout, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #c); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static uint8_t inputs[MAX_STEPS][SYM(_INPUT0_SIZE)];
static uint8_t outbuf[NOUT][MAX_OUT] __attribute__((aligned(16)));

static void print_step(const char *mode, int pass, int step, uaot_status_t st)
{
    int k;
    uint32_t i;
    printf("mode=%s pass=%d step=%d status=%d out=", mode, pass, step, (int)st);
    for (k = 0; k < NOUT; ++k) {
        for (i = 0; i < SYM(_model).outputs[k].bytes; ++i) {
            printf("%02x", outbuf[k][i]);
        }
    }
    printf("\n");
}

typedef struct {
    uint8_t pool[1 << 16];
    size_t used;
    int allocs, frees;
} user_ctx_t;

static void *user_alloc(void *ctx, size_t size, size_t align)
{
    user_ctx_t *u = (user_ctx_t *)ctx;
    uintptr_t p = ((uintptr_t)u->pool + u->used + align - 1u) & ~(uintptr_t)(align - 1u);
    if (p + size > (uintptr_t)u->pool + sizeof u->pool) {
        return NULL;
    }
    u->used = (size_t)(p + size - (uintptr_t)u->pool);
    u->allocs++;
    return (void *)p;
}

static void user_free(void *ctx, void *ptr)
{
    user_ctx_t *u = (user_ctx_t *)ctx;
    (void)ptr;
    u->frees++;
}

int main(int argc, char **argv)
{
    static uint8_t ws[SYM(_WORKSPACE_SIZE) + 1] __attribute__((aligned(SYM(_WORKSPACE_ALIGN))));
    static uint8_t st[SYM(_STATE_SIZE) + 1] __attribute__((aligned(SYM(_STATE_ALIGN))));
    static uint8_t pool[UAOT_ARENA_BYTES_FOR(SYM(_STATE_SIZE), SYM(_STATE_ALIGN)) +
                        UAOT_ARENA_BYTES_FOR(SYM(_WORKSPACE_SIZE), SYM(_WORKSPACE_ALIGN))];
    static user_ctx_t u;
    const void *in[1];
    void *out[NOUT];
    int steps, pass, step, k;
    FILE *f;
    uaot_arena_t arena;
    uaot_allocator_t a;
    uaot_allocator_t ua = {user_alloc, user_free, &u};
    void *state = NULL;

    if (argc != 3) {
        return 2;
    }
    steps = atoi(argv[1]);
    if (steps < 1 || steps > MAX_STEPS) {
        return 2;
    }
    f = fopen(argv[2], "rb");
    if (f == NULL || fread(inputs, SYM(_INPUT0_SIZE), (size_t)steps, f) != (size_t)steps) {
        return 2;
    }
    fclose(f);
    for (k = 0; k < NOUT; ++k) {
        out[k] = outbuf[k];
    }

    /* 1. buffers: NAME_reset_state + NAME_run(in, out, ws, st) */
    for (pass = 0; pass < 2; ++pass) {
        CHECK(SYM(_reset_state)(st) == UAOT_OK);
        for (step = 0; step < steps; ++step) {
            in[0] = inputs[step];
            print_step("buffer", pass, step, SYM(_run)(in, out, ws, st));
        }
    }
    CHECK(SYM(_run)(in, out, ws, NULL) == UAOT_ERR_ARG);
    CHECK(SYM(_reset_state)(NULL) == UAOT_ERR_ARG);

    /* 2. the arena: the state first, then a workspace per run above it */
    CHECK(uaot_arena_init(&arena, pool, sizeof pool) == UAOT_OK);
    a = uaot_arena_allocator(&arena);
    CHECK(uaot_model_run_alloc(&SYM(_model), in, out, &a) == UAOT_ERR_STATE); /* refuses: no state */
    CHECK(uaot_arena_used(&arena) == 0u);
    CHECK(uaot_model_state_init(&SYM(_model), &a, &state) == UAOT_OK && state != NULL);
    for (pass = 0; pass < 2; ++pass) {
        if (pass > 0) {
            CHECK(uaot_model_state_reset(&SYM(_model), state) == UAOT_OK);
        }
        for (step = 0; step < steps; ++step) {
            in[0] = inputs[step];
            print_step("arena", pass, step, uaot_model_run_state(&SYM(_model), in, out, state, &a));
        }
    }
    CHECK(uaot_model_run_state(&SYM(_model), in, out, NULL, &a) == UAOT_ERR_ARG);
    CHECK(uaot_model_run_state(&SYM(_model), in, out, (uint8_t *)state + 1, &a) == UAOT_ERR_ALIGN);
    CHECK(uaot_arena_high_water(&arena) <= sizeof pool);

    /* 3. user hooks: one state allocation kept, one workspace per run */
    CHECK(uaot_model_state_init(&SYM(_model), &ua, &state) == UAOT_OK && state != NULL);
    CHECK(u.allocs == 1);
    for (pass = 0; pass < 2; ++pass) {
        if (pass > 0) {
            CHECK(uaot_model_state_reset(&SYM(_model), state) == UAOT_OK);
        }
        for (step = 0; step < steps; ++step) {
            in[0] = inputs[step];
            print_step("hooks", pass, step, uaot_model_run_state(&SYM(_model), in, out, state, &ua));
        }
    }
    CHECK(u.allocs == 1 + 2 * steps && u.frees == 2 * steps);
    uaot_model_state_free(&SYM(_model), &ua, state);
    CHECK(u.frees == 2 * steps + 1);
    CHECK(SYM(_model).state_size == SYM(_STATE_SIZE) && SYM(_model).reset_state == SYM(_reset_state));

    printf(failures == 0 ? "done ok\n" : "done FAILED\n");
    return failures == 0 ? 0 : 1;
}
