/* microaot runtime: arena allocator over a caller's buffer and the allocator-driven model runner.
 * See crt/include/microaot/alloc.h. No malloc, no global state. */
#include "microaot/alloc.h"

static int uaot_is_pow2(size_t x)
{
    return x != 0u && (x & (x - 1u)) == 0u;
}

uaot_status_t uaot_arena_init(uaot_arena_t *arena, void *buffer, size_t capacity)
{
    if (arena == NULL || (buffer == NULL && capacity != 0u)) {
        return UAOT_ERR_ARG;
    }
    /* the end address must be representable */
    if (buffer != NULL && capacity > (size_t)(UINTPTR_MAX - (uintptr_t)buffer)) {
        return UAOT_ERR_RANGE;
    }
    arena->base = (uint8_t *)buffer;
    arena->capacity = capacity;
    arena->used = 0u;
    arena->high_water = 0u;
    arena->last_begin = 0u;
    arena->last_ptr = NULL;
    return UAOT_OK;
}

uaot_status_t uaot_arena_alloc(uaot_arena_t *arena, size_t size, size_t align, void **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (arena == NULL || out == NULL) {
        return UAOT_ERR_ARG;
    }
    if (align == 0u) {
        align = UAOT_WORKSPACE_ALIGN;
    }
    if (!uaot_is_pow2(align)) {
        return UAOT_ERR_ARG;
    }
    if (arena->base == NULL) {
        return UAOT_ERR_NOMEM;
    }
    /* padding so that base + used + pad is aligned (absolute address) */
    uintptr_t cur = (uintptr_t)arena->base + (uintptr_t)arena->used;
    size_t pad = (size_t)((uintptr_t)(0u - cur) & (uintptr_t)(align - 1u));
    size_t avail = arena->capacity - arena->used;
    if (pad > avail || size > avail - pad) {
        return UAOT_ERR_NOMEM;
    }
    arena->last_begin = arena->used;
    arena->used += pad;
    *out = arena->base + arena->used;
    arena->last_ptr = *out;
    arena->used += size;
    if (arena->used > arena->high_water) {
        arena->high_water = arena->used;
    }
    return UAOT_OK;
}

void uaot_arena_reset(uaot_arena_t *arena)
{
    if (arena != NULL) {
        arena->used = 0u;
        arena->last_begin = 0u;
        arena->last_ptr = NULL;
    }
}

uaot_arena_mark_t uaot_arena_mark(const uaot_arena_t *arena)
{
    return arena != NULL ? (uaot_arena_mark_t)arena->used : 0u;
}

uaot_status_t uaot_arena_release(uaot_arena_t *arena, uaot_arena_mark_t mark)
{
    if (arena == NULL) {
        return UAOT_ERR_ARG;
    }
    if (mark > arena->used) {
        return UAOT_ERR_RANGE;
    }
    arena->used = mark;
    if (arena->last_begin > mark) {
        arena->last_ptr = NULL;
    } else if (arena->last_ptr != NULL && (uint8_t *)arena->last_ptr >= arena->base + mark) {
        /* the most recent allocation was released (partially or fully): forget it */
        arena->last_ptr = NULL;
    }
    return UAOT_OK;
}

size_t uaot_arena_used(const uaot_arena_t *arena)
{
    return arena != NULL ? arena->used : 0u;
}

size_t uaot_arena_remaining(const uaot_arena_t *arena)
{
    return arena != NULL ? arena->capacity - arena->used : 0u;
}

size_t uaot_arena_high_water(const uaot_arena_t *arena)
{
    return arena != NULL ? arena->high_water : 0u;
}

static void *uaot_arena_hook_alloc(void *ctx, size_t size, size_t align)
{
    void *p = NULL;
    if (uaot_arena_alloc((uaot_arena_t *)ctx, size, align, &p) != UAOT_OK) {
        return NULL;
    }
    return p;
}

static void uaot_arena_hook_free(void *ctx, void *ptr)
{
    uaot_arena_t *arena = (uaot_arena_t *)ctx;
    if (arena == NULL || ptr == NULL || ptr != arena->last_ptr) {
        return;
    }
    arena->used = arena->last_begin;
    arena->last_ptr = NULL;
}

uaot_allocator_t uaot_arena_allocator(uaot_arena_t *arena)
{
    uaot_allocator_t a;
    a.alloc = uaot_arena_hook_alloc;
    a.free = uaot_arena_hook_free;
    a.ctx = arena;
    return a;
}

uaot_status_t uaot_model_run_alloc_ex(const uaot_model_t *model, const void *const *inputs, void *const *outputs,
                                      const uaot_allocator_t *allocator, const uaot_hooks_t *hooks)
{
    if (model == NULL || model->run == NULL || allocator == NULL || allocator->alloc == NULL) {
        return UAOT_ERR_ARG;
    }
    if (model->abi_version != (uint32_t)UAOT_ABI_VERSION) {
        return UAOT_ERR_UNSUPPORTED;
    }
    if (model->state_size != 0u) {
        return UAOT_ERR_UNSUPPORTED; /* a stateful model needs a state that outlives the call */
    }
    /* a zero-sized workspace still gets a (tiny) allocation so the model sees a valid pointer */
    size_t size = model->workspace_size != 0u ? (size_t)model->workspace_size : 1u;
    void *ws = allocator->alloc(allocator->ctx, size, (size_t)UAOT_WORKSPACE_ALIGN);
    if (ws == NULL) {
        return UAOT_ERR_NOMEM;
    }
    uaot_status_t st;
    if (((uintptr_t)ws & (uintptr_t)(UAOT_WORKSPACE_ALIGN - 1)) != 0u) {
        st = UAOT_ERR_ALIGN;
    } else {
        st = model->run(inputs, outputs, ws, NULL, hooks);
    }
    if (allocator->free != NULL) {
        allocator->free(allocator->ctx, ws);
    }
    return st;
}

uaot_status_t uaot_model_run_alloc(const uaot_model_t *model, const void *const *inputs, void *const *outputs,
                                   const uaot_allocator_t *allocator)
{
    return uaot_model_run_alloc_ex(model, inputs, outputs, allocator, NULL);
}
