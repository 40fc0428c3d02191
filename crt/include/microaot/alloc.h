/**
 * @file alloc.h
 * @brief microaot runtime: memory modes for running a compiled model without malloc.
 *
 * A generated model needs one workspace of NAME_WORKSPACE_SIZE bytes aligned to
 * NAME_WORKSPACE_ALIGN (== UAOT_WORKSPACE_ALIGN), and a stateful model (NAME_STATE_SIZE > 0: LSTM, SVDF,
 * resource variables, stateful signal operators) also a state buffer of NAME_STATE_SIZE bytes aligned to
 * NAME_STATE_ALIGN that persists between runs (reset with NAME_reset_state before each new sequence).
 * The caller brings that memory in one of three ways:
 *
 *   1. a buffer:     static uint8_t ws[NAME_WORKSPACE_SIZE] __attribute__((aligned(NAME_WORKSPACE_ALIGN)));
 *                    NAME_run(inputs, outputs, ws);                    (stateless)
 *                    static uint8_t st[NAME_STATE_SIZE] __attribute__((aligned(NAME_STATE_ALIGN)));
 *                    NAME_reset_state(st); NAME_run(inputs, outputs, ws, st);   (stateful)
 *   2. an arena:     uaot_arena_t arena; uaot_arena_init(&arena, buf, sizeof buf);
 *                    uaot_allocator_t a = uaot_arena_allocator(&arena);
 *                    uaot_model_run_alloc(&NAME_model, inputs, outputs, &a);       (stateless)
 *                    void *st; uaot_model_state_init(&NAME_model, &a, &st);      (stateful: once)
 *                    uaot_model_run_state(&NAME_model, inputs, outputs, st, &a);  (every step)
 *   3. your hooks:   uaot_allocator_t a = { my_alloc, my_free, my_ctx };
 *                    then as for the arena.
 *
 * Nothing here calls malloc/free or keeps global state; the arena only ever hands out memory from
 * the caller's buffer.
 */
#ifndef MICROAOT_ALLOC_H
#define MICROAOT_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "microaot/model.h"
#include "microaot/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A caller-provided allocator.
 *   alloc(ctx, size, align): return `size` bytes aligned to `align` (a power of two), or NULL.
 *   free(ctx, ptr):          give back a pointer returned by alloc; may be NULL (nothing to free).
 * ctx is passed through untouched. The caller owns the struct; the runtime only calls the hooks
 * (once alloc, once free per uaot_model_run_alloc call) and keeps no pointer to them afterwards.
 */
typedef struct {
    void *(*alloc)(void *ctx, size_t size, size_t align); /**< required: size bytes aligned to align, or NULL */
    void (*free)(void *ctx, void *ptr);                   /**< optional (NULL): release a pointer from alloc */
    void *ctx;                                            /**< passed untouched to alloc and free */
} uaot_allocator_t;

/**
 * Bump allocator over a caller's buffer. Treat the fields as private; use the functions below.
 * The caller owns both the uaot_arena_t and the buffer (the arena never frees the buffer); not
 * thread-safe: one user at a time.
 */
typedef struct {
    uint8_t *base;     /**< start of the caller's buffer */
    size_t capacity;   /**< bytes of the buffer */
    size_t used;       /**< bytes consumed from base, including alignment padding */
    size_t high_water; /**< largest `used` seen since init */
    size_t last_begin; /**< `used` before the most recent allocation (for LIFO free) */
    void *last_ptr;    /**< most recent allocation, NULL when none or already freed */
} uaot_arena_t;

/** Opaque position in an arena, from uaot_arena_mark(). */
typedef size_t uaot_arena_mark_t;

/**
 * Start an arena over buffer[0..capacity). buffer may be NULL only when capacity is 0.
 * Any alignment of buffer is accepted (allocations align absolute addresses).
 * @return UAOT_OK; UAOT_ERR_ARG when arena is NULL or buffer is NULL with capacity > 0;
 *         UAOT_ERR_RANGE when buffer + capacity overflows the address space.
 */
uaot_status_t uaot_arena_init(uaot_arena_t *arena, void *buffer, size_t capacity);

/**
 * Allocate size bytes aligned to align (a power of two; 0 means UAOT_WORKSPACE_ALIGN). The
 * alignment is of the absolute address. On success *out points into the buffer and UAOT_OK is
 * returned; UAOT_ERR_NOMEM when the buffer is too small (the arena is unchanged), UAOT_ERR_ARG for a
 * NULL pointer or an alignment that is not a power of two. size 0 yields a valid, unique-enough
 * aligned pointer that must not be dereferenced. The memory stays valid until reset or release
 * past it; it is not zeroed.
 */
uaot_status_t uaot_arena_alloc(uaot_arena_t *arena, size_t size, size_t align, void **out);

/** Release everything allocated since init (the high-water mark is kept). */
void uaot_arena_reset(uaot_arena_t *arena);

/** Remember the current position; uaot_arena_release(arena, mark) frees everything allocated after. */
uaot_arena_mark_t uaot_arena_mark(const uaot_arena_t *arena);
/**
 * Free everything allocated after mark (from uaot_arena_mark() on this arena).
 * @return UAOT_OK; UAOT_ERR_ARG when arena is NULL; UAOT_ERR_RANGE when mark is beyond the current
 *         position (i.e. not a mark of this arena's past).
 */
uaot_status_t uaot_arena_release(uaot_arena_t *arena, uaot_arena_mark_t mark);

/** Bytes consumed from the buffer now, alignment padding included. */
size_t uaot_arena_used(const uaot_arena_t *arena);
/** Bytes left in the buffer (capacity - used); an aligned allocation may need padding on top. */
size_t uaot_arena_remaining(const uaot_arena_t *arena);
/** Largest uaot_arena_used() seen since uaot_arena_init(): the buffer size this use really needed. */
size_t uaot_arena_high_water(const uaot_arena_t *arena);

/**
 * Bytes an arena needs to serve one allocation of `size` bytes aligned to `align` from a buffer
 * with any alignment (size + align - 1). Use it to size the buffer for a model:
 * UAOT_ARENA_BYTES_FOR(NAME_WORKSPACE_SIZE, NAME_WORKSPACE_ALIGN).
 */
#define UAOT_ARENA_BYTES_FOR(size, align) ((size_t)(size) + (size_t)(align)-1u)

/**
 * An allocator whose alloc hook allocates from `arena` and whose free hook releases the most
 * recent allocation (LIFO); freeing anything else is a no-op until uaot_arena_reset().
 * The returned struct holds `arena` as its ctx: the arena must outlive every use of it.
 */
uaot_allocator_t uaot_arena_allocator(uaot_arena_t *arena);

/**
 * Run `model` with a workspace obtained from `allocator`: allocate model->workspace_size bytes
 * aligned to UAOT_WORKSPACE_ALIGN, run, free. Returns UAOT_ERR_NOMEM when alloc returns NULL,
 * UAOT_ERR_ALIGN when it returns a misaligned pointer (which is then freed), UAOT_ERR_UNSUPPORTED
 * when the model was generated for another UAOT_ABI_VERSION, UAOT_ERR_ARG when model, model->run,
 * allocator or allocator->alloc is NULL, UAOT_ERR_STATE for a stateful model (model->state_size > 0:
 * its state must persist between runs, use uaot_model_state_init + uaot_model_run_state; nothing is
 * allocated or run), otherwise the model's status.
 * inputs / outputs are as for NAME_run (model->num_inputs / num_outputs caller buffers of
 * inputs[k].bytes / outputs[k].bytes); the workspace is held only for the duration of the call.
 */
uaot_status_t uaot_model_run_alloc(const uaot_model_t *model, const void *const *inputs, void *const *outputs,
                                   const uaot_allocator_t *allocator);
/** uaot_model_run_alloc() with per-operator hooks (may be NULL; see uaot_hooks_t). */
uaot_status_t uaot_model_run_alloc_ex(const uaot_model_t *model, const void *const *inputs, void *const *outputs,
                                      const uaot_allocator_t *allocator, const uaot_hooks_t *hooks);

/**
 * Allocate the persistent state of `model` from `allocator` (model->state_size bytes aligned to
 * UAOT_WORKSPACE_ALIGN) and reset it (model->reset_state), once, before the first run of a sequence; keep
 * it for every later run. A stateless model (state_size 0) allocates nothing: *state = NULL and UAOT_OK.
 * With the arena allocator, allocate the state before any workspace (the arena frees LIFO: the
 * workspace of each run is released above it). Returns UAOT_ERR_ARG (a NULL model, allocator, alloc hook
 * or state), UAOT_ERR_UNSUPPORTED (another ABI version), UAOT_ERR_NOMEM, UAOT_ERR_ALIGN (the block is then
 * freed), or the status of reset_state; on an error *state is NULL.
 */
uaot_status_t uaot_model_state_init(const uaot_model_t *model, const uaot_allocator_t *allocator, void **state);
/** Put `state` back to the model's initial state (before a new sequence): model->reset_state(state). */
uaot_status_t uaot_model_state_reset(const uaot_model_t *model, void *state);
/** Give a state from uaot_model_state_init back to `allocator` (nothing for NULL or a NULL free hook). */
void uaot_model_state_free(const uaot_model_t *model, const uaot_allocator_t *allocator, void *state);
/**
 * One step of a (stateful or stateless) model: a workspace from `allocator` for the call, as
 * uaot_model_run_alloc(), and the caller's persistent `state` (from uaot_model_state_init, or any
 * model->state_size bytes aligned to UAOT_WORKSPACE_ALIGN and reset with model->reset_state; may be NULL
 * only for a stateless model), which the run reads and advances. UAOT_ERR_ARG for a NULL state of a
 * stateful model, UAOT_ERR_ALIGN for a misaligned one, otherwise as uaot_model_run_alloc().
 */
uaot_status_t uaot_model_run_state(const uaot_model_t *model, const void *const *inputs, void *const *outputs,
                                   void *state, const uaot_allocator_t *allocator);
/** uaot_model_run_state() with per-operator hooks (may be NULL; see uaot_hooks_t). */
uaot_status_t uaot_model_run_state_ex(const uaot_model_t *model, const void *const *inputs, void *const *outputs,
                                      void *state, const uaot_allocator_t *allocator, const uaot_hooks_t *hooks);

#ifdef __cplusplus
}
#endif

#endif
