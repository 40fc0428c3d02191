/* microaot example: ship a model as a C library.
 *
 * A plain C application linking the library written by
 *     microaot export kws_dscnn_int8.tflite --name kws -o lib/kws --target generic
 * It runs the keyword-spotting model once in each of the three memory modes and prints the output
 * bytes (hex) of each run:
 *   1. a static workspace buffer of kws_WORKSPACE_SIZE bytes,
 *   2. the arena allocator over a static pool,
 *   3. the application's own alloc/free hooks (here a one-block pool, as an RTOS pool would be).
 * No malloc, no printf: the only output function is app_print() from the port (host/ or arm/). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kws.h"
#include "microaot/alloc.h"

void app_print(const char *s); /* port: write a NUL-terminated string */

/* --- the input: replace with your feature extractor; here a deterministic pseudo-random pattern
 * (a 32-bit LCG; tests/test_export_ship.py generates the same bytes for the reference) --- */
static int8_t input[kws_INPUT0_SIZE];
static int8_t out_buffer[kws_OUTPUT0_SIZE], out_arena[kws_OUTPUT0_SIZE], out_hooks[kws_OUTPUT0_SIZE];

static void make_input(uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < sizeof input; ++i) {
        x = x * 1103515245u + 12345u;
        input[i] = (int8_t)(uint8_t)(x >> 16);
    }
}

/* --- mode 1: the workspace as a static buffer --- */
static uint8_t workspace[kws_WORKSPACE_SIZE] __attribute__((aligned(kws_WORKSPACE_ALIGN)));

/* --- mode 2: an arena over a pool (sized for the workspace plus worst-case alignment padding) --- */
static uint8_t arena_pool[UAOT_ARENA_BYTES_FOR(kws_WORKSPACE_SIZE, kws_WORKSPACE_ALIGN)];

/* --- mode 3: the application's own allocator: one block, handed out once at a time --- */
typedef struct {
    uint8_t *block;
    size_t size;
    int in_use;
    unsigned allocs, frees;
} one_block_pool_t;

static uint8_t user_block[kws_WORKSPACE_SIZE + 64u];

static void *pool_alloc(void *ctx, size_t size, size_t align)
{
    one_block_pool_t *pool = (one_block_pool_t *)ctx;
    uintptr_t p = ((uintptr_t)pool->block + (align - 1u)) & ~(uintptr_t)(align - 1u);
    if (pool->in_use || p + size > (uintptr_t)pool->block + pool->size) {
        return NULL;
    }
    pool->in_use = 1;
    pool->allocs++;
    return (void *)p;
}

static void pool_free(void *ctx, void *ptr)
{
    one_block_pool_t *pool = (one_block_pool_t *)ctx;
    if (ptr != NULL) {
        pool->in_use = 0;
        pool->frees++;
    }
}

/* --- printing without printf --- */
static void print_uint(uint32_t v)
{
    char buf[11];
    size_t i = sizeof buf - 1u;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + (v % 10u));
        v /= 10u;
    } while (v != 0u && i > 0u);
    app_print(&buf[i]);
}

static void print_result(const char *mode, uaot_status_t st, const int8_t *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char line[2u * kws_OUTPUT0_SIZE + 2u];
    for (size_t i = 0; i < n; ++i) {
        uint8_t b = (uint8_t)out[i];
        line[2u * i] = hex[b >> 4];
        line[2u * i + 1u] = hex[b & 15u];
    }
    line[2u * n] = '\n';
    line[2u * n + 1u] = '\0';
    app_print("mode=");
    app_print(mode);
    app_print(" status=");
    print_uint((uint32_t)st);
    app_print(" out=");
    app_print(line);
}

int main(void)
{
    int failures = 0;
    make_input(1u);
    const void *inputs[kws_NUM_INPUTS] = {input};

    /* 1. workspace buffer */
    void *outputs1[kws_NUM_OUTPUTS] = {out_buffer};
    uaot_status_t st = kws_run(inputs, outputs1, workspace);
    print_result("buffer", st, out_buffer, sizeof out_buffer);
    failures += st != UAOT_OK;

    /* 2. arena allocator */
    uaot_arena_t arena;
    void *outputs2[kws_NUM_OUTPUTS] = {out_arena};
    st = uaot_arena_init(&arena, arena_pool, sizeof arena_pool);
    if (st == UAOT_OK) {
        uaot_allocator_t a = uaot_arena_allocator(&arena);
        st = uaot_model_run_alloc(&kws_model, inputs, outputs2, &a);
    }
    print_result("arena", st, out_arena, sizeof out_arena);
    app_print("arena_high_water=");
    print_uint((uint32_t)uaot_arena_high_water(&arena));
    app_print(" arena_used_after=");
    print_uint((uint32_t)uaot_arena_used(&arena));
    app_print("\n");
    failures += st != UAOT_OK;

    /* 3. the application's own hooks */
    one_block_pool_t pool = {user_block, sizeof user_block, 0, 0u, 0u};
    uaot_allocator_t hooks = {pool_alloc, pool_free, &pool};
    void *outputs3[kws_NUM_OUTPUTS] = {out_hooks};
    st = uaot_model_run_alloc(&kws_model, inputs, outputs3, &hooks);
    print_result("hooks", st, out_hooks, sizeof out_hooks);
    app_print("hooks_allocs=");
    print_uint(pool.allocs);
    app_print(" hooks_frees=");
    print_uint(pool.frees);
    app_print("\n");
    failures += st != UAOT_OK;

    /* the three modes run the same code: identical outputs */
    failures += memcmp(out_buffer, out_arena, sizeof out_buffer) != 0;
    failures += memcmp(out_buffer, out_hooks, sizeof out_buffer) != 0;
    app_print(failures == 0 ? "done ok\n" : "done FAILED\n");
    return failures == 0 ? 0 : 1;
}
