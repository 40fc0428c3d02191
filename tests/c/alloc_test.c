/* Unit test of crt/src/alloc.c (arena + uaot_model_run_alloc), built by tests/test_export_alloc.py
 * with gcc -fsanitize=address,undefined. Exit code 0 = all checks passed; prints the failing line. */
#include <stdio.h>
#include <string.h>

#include "microaot/alloc.h"

static int failures = 0;
#define CHECK(c)                                                           \
    do {                                                                   \
        if (!(c)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #c); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* a fake model: writes workspace address alignment + sum of input into output */
static void *seen_ws;
static uaot_status_t fake_run(const void *const *inputs, void *const *outputs, void *workspace, void *state,
                              const uaot_hooks_t *hooks)
{
    (void)hooks;
    (void)state;
    seen_ws = workspace;
    memset(workspace, 0xAB, 100); /* the whole workspace must be writable (ASan checks) */
    ((uint8_t *)outputs[0])[0] = (uint8_t)(((const uint8_t *)inputs[0])[0] + 1u);
    return UAOT_OK;
}

static const uaot_model_t fake_model = {
    UAOT_ABI_VERSION, "fake", "0000000000000000", 100u, 0u, 0u, 1u, 1u, 0u, NULL, NULL, NULL, fake_run, NULL,
};

/* user hooks backed by a static pool, counting calls */
typedef struct {
    uint8_t pool[512];
    int allocs, frees;
    size_t last_size, last_align;
    void *live;
    int misalign;
} user_ctx_t;

static void *user_alloc(void *ctx, size_t size, size_t align)
{
    user_ctx_t *u = (user_ctx_t *)ctx;
    u->allocs++;
    u->last_size = size;
    u->last_align = align;
    uintptr_t p = ((uintptr_t)u->pool + align - 1u) & ~(uintptr_t)(align - 1u);
    if (u->misalign) {
        p += 1u;
    }
    if (p + size > (uintptr_t)u->pool + sizeof u->pool) {
        return NULL;
    }
    u->live = (void *)p;
    return u->live;
}

static void user_free(void *ctx, void *ptr)
{
    user_ctx_t *u = (user_ctx_t *)ctx;
    CHECK(ptr == u->live);
    u->frees++;
    u->live = NULL;
}

int main(void)
{
    static uint8_t buf[256] __attribute__((aligned(64)));
    uaot_arena_t a;
    void *p = NULL, *q = NULL;

    CHECK(uaot_arena_init(NULL, buf, sizeof buf) == UAOT_ERR_ARG);
    CHECK(uaot_arena_init(&a, NULL, 10) == UAOT_ERR_ARG);
    CHECK(uaot_arena_init(&a, NULL, 0) == UAOT_OK);
    CHECK(uaot_arena_alloc(&a, 1, 1, &p) == UAOT_ERR_NOMEM && p == NULL);

    /* misaligned base: alignment is of the absolute address */
    CHECK(uaot_arena_init(&a, buf + 1, sizeof buf - 1) == UAOT_OK);
    CHECK(uaot_arena_alloc(&a, 10, 16, &p) == UAOT_OK);
    CHECK(p == buf + 16);
    CHECK(uaot_arena_used(&a) == 25u);
    CHECK(uaot_arena_alloc(&a, 3, 0, &q) == UAOT_OK); /* 0 = UAOT_WORKSPACE_ALIGN */
    CHECK(((uintptr_t)q % UAOT_WORKSPACE_ALIGN) == 0u && (uint8_t *)q == buf + 32);
    CHECK(uaot_arena_alloc(&a, 3, 3, &q) == UAOT_ERR_ARG && q == NULL); /* not a power of two */
    CHECK(uaot_arena_alloc(&a, 3, 16, NULL) == UAOT_ERR_ARG);

    /* bounds: exactly fits, one more byte does not, arena unchanged on failure */
    uaot_arena_reset(&a);
    CHECK(uaot_arena_used(&a) == 0u && uaot_arena_remaining(&a) == 255u);
    CHECK(uaot_arena_alloc(&a, 255, 1, &p) == UAOT_OK && p == buf + 1);
    CHECK(uaot_arena_alloc(&a, 0, 1, &q) == UAOT_OK);
    CHECK(uaot_arena_alloc(&a, 1, 1, &q) == UAOT_ERR_NOMEM && q == NULL);
    CHECK(uaot_arena_used(&a) == 255u);
    uaot_arena_reset(&a);
    CHECK(uaot_arena_alloc(&a, 241, 16, &p) == UAOT_ERR_NOMEM); /* 15 pad + 241 > 255 */
    CHECK(uaot_arena_used(&a) == 0u);
    CHECK(uaot_arena_alloc(&a, 240, 16, &p) == UAOT_OK && p == buf + 16); /* 15 pad + 240 = 255 */
    uaot_arena_reset(&a);
    CHECK(uaot_arena_alloc(&a, (size_t)-1, 1, &p) == UAOT_ERR_NOMEM); /* no overflow */
    CHECK(uaot_arena_alloc(&a, (size_t)-8, 16, &p) == UAOT_ERR_NOMEM);

    /* mark / release, high-water (since init) */
    CHECK(uaot_arena_init(&a, buf, sizeof buf) == UAOT_OK);
    CHECK(uaot_arena_alloc(&a, 20, 1, &p) == UAOT_OK);
    uaot_arena_mark_t m = uaot_arena_mark(&a);
    CHECK(uaot_arena_alloc(&a, 100, 1, &q) == UAOT_OK);
    CHECK(uaot_arena_high_water(&a) == 120u);
    CHECK(uaot_arena_release(&a, m) == UAOT_OK && uaot_arena_used(&a) == 20u);
    CHECK(uaot_arena_release(&a, 200) == UAOT_ERR_RANGE);
    CHECK(uaot_arena_high_water(&a) == 120u);

    /* allocator view: LIFO free returns memory, other frees are no-ops */
    uaot_arena_reset(&a);
    uaot_allocator_t al = uaot_arena_allocator(&a);
    void *x = al.alloc(al.ctx, 10, 4);
    void *y = al.alloc(al.ctx, 10, 4);
    CHECK(x != NULL && y != NULL && x != y);
    size_t used = uaot_arena_used(&a);
    al.free(al.ctx, x); /* not the last: no-op */
    CHECK(uaot_arena_used(&a) == used);
    al.free(al.ctx, y);
    CHECK(uaot_arena_used(&a) < used);
    CHECK(al.alloc(al.ctx, 1000, 4) == NULL);

    /* run with the arena allocator: workspace aligned, freed afterwards */
    uint8_t in0 = 41, out0 = 0;
    const void *ins[1] = {&in0};
    void *outs[1] = {&out0};
    uaot_arena_reset(&a);
    al = uaot_arena_allocator(&a);
    CHECK(uaot_model_run_alloc(&fake_model, ins, outs, &al) == UAOT_OK);
    CHECK(out0 == 42u);
    CHECK(((uintptr_t)seen_ws % UAOT_WORKSPACE_ALIGN) == 0u);
    CHECK(uaot_arena_used(&a) == 0u && uaot_arena_high_water(&a) >= 100u);

    /* too small arena -> NOMEM, model not run */
    uaot_arena_t small;
    CHECK(uaot_arena_init(&small, buf, 64) == UAOT_OK);
    uaot_allocator_t sal = uaot_arena_allocator(&small);
    seen_ws = NULL;
    CHECK(uaot_model_run_alloc(&fake_model, ins, outs, &sal) == UAOT_ERR_NOMEM && seen_ws == NULL);

    /* user hooks: called once each with the model's size and alignment */
    static user_ctx_t u;
    uaot_allocator_t ual = {user_alloc, user_free, &u};
    out0 = 0;
    CHECK(uaot_model_run_alloc(&fake_model, ins, outs, &ual) == UAOT_OK && out0 == 42u);
    CHECK(u.allocs == 1 && u.frees == 1 && u.last_size == 100u && u.last_align == UAOT_WORKSPACE_ALIGN);
    u.misalign = 1;
    seen_ws = NULL;
    CHECK(uaot_model_run_alloc(&fake_model, ins, outs, &ual) == UAOT_ERR_ALIGN && seen_ws == NULL);
    CHECK(u.frees == 2); /* the misaligned block was given back */

    /* argument and ABI checks */
    CHECK(uaot_model_run_alloc(NULL, ins, outs, &ual) == UAOT_ERR_ARG);
    CHECK(uaot_model_run_alloc(&fake_model, ins, outs, NULL) == UAOT_ERR_ARG);
    uaot_model_t other = fake_model;
    other.abi_version = UAOT_ABI_VERSION + 1u;
    CHECK(uaot_model_run_alloc(&other, ins, outs, &al) == UAOT_ERR_UNSUPPORTED);

    if (failures == 0) {
        printf("alloc_test: ok\n");
    }
    return failures == 0 ? 0 : 1;
}
