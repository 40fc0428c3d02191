/* microaot runtime: the on-device RPC server (docs/protocol.md).
 *
 * Frames come in through uaot_rpc_feed(); each complete request is executed and answered through
 * uaot_platform_write() before feed returns. All state is static, sized by the UAOT_RPC_* macros
 * in microaot/rpc.h. Every request field is checked before use; a bad request gets an error reply
 * and never touches memory outside the buffer it names. */
#include <string.h>

#include "microaot/framing.h"
#include "microaot/platform.h"
#include "microaot/rpc.h"

#if defined(__GNUC__)
#define UAOT_NOINLINE __attribute__((noinline))
#else
#define UAOT_NOINLINE
#endif

#define RPC_U32_UNKNOWN 0xFFFFFFFFu
#define RPC_MAX_NAME 48u
#define RPC_RUN_FIXED 36u     /* RUN reply bytes after the header, before the per-run values */
#define RPC_PROFILE_FIXED 24u /* PROFILE reply bytes after the header, before the per-op values */
#define RPC_OPCHECK_FIXED 8u  /* OPCHECK reply bytes after the header, before the per-op hashes */
#define RPC_FNV_BASIS 0x811C9DC5u
#define RPC_FNV_PRIME 0x01000193u

/* ---------------------------------------------------------------- state */

static uint8_t s_rx[UAOT_RPC_MAX_PAYLOAD + UAOT_FRAME_OVERHEAD];
static uint8_t s_tx[UAOT_RPC_MAX_PAYLOAD];
static size_t s_tx_len;
static int s_tx_overflow;
static uaot_frame_decoder_t s_dec;
static int s_initialised;
static uint32_t s_nonce;
static int s_model_ok;

static uint64_t s_prof[UAOT_RPC_MAX_OPS];
static uint64_t s_prof_t0;
static uint64_t s_prof_total;
static uint32_t s_prof_runs;
static uint32_t s_hash[UAOT_RPC_MAX_OPS]; /* OPCHECK: FNV-1a of each operator's outputs */

static uint32_t s_frames_ok;
static uint32_t s_frames_bad;
static uint32_t s_requests_failed;
static uint32_t s_runs_total;

static int s_stack_known;
static uintptr_t s_stack_lo;
static uintptr_t s_stack_hi;
static uintptr_t s_stack_lowest; /* lowest address seen touched since boot / RESET */
static uint32_t s_model_stack;   /* stack used below the RUN handler at the last RUN/PROFILE */

/* ---------------------------------------------------------------- little-endian helpers */

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void set_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

/* ---------------------------------------------------------------- reply building */

static void put_bytes(const void *data, size_t n)
{
    if (s_tx_overflow || n > sizeof s_tx - s_tx_len) {
        s_tx_overflow = 1;
        return;
    }
    if (n > 0u) {
        memcpy(s_tx + s_tx_len, data, n);
        s_tx_len += n;
    }
}

static void put_u8(uint8_t v)
{
    put_bytes(&v, 1u);
}

static void put_u16(uint16_t v)
{
    uint8_t b[2];
    set_u16(b, v);
    put_bytes(b, 2u);
}

static void put_u32(uint32_t v)
{
    uint8_t b[4];
    set_u32(b, v);
    put_bytes(b, 4u);
}

static void put_u64(uint64_t v)
{
    put_u32((uint32_t)(v & 0xFFFFFFFFu));
    put_u32((uint32_t)(v >> 32));
}

static void put_f32(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    put_u32(bits);
}

/* u8 length + bytes; truncated to RPC_MAX_NAME and to the space left. */
static void put_str(const char *s)
{
    size_t n = 0u;
    size_t room;
    if (s != NULL) {
        while (n < RPC_MAX_NAME && s[n] != '\0') {
            ++n;
        }
    }
    room = sizeof s_tx - s_tx_len;
    if (room == 0u) {
        s_tx_overflow = 1;
        return;
    }
    if (n > room - 1u) {
        n = room - 1u;
    }
    put_u8((uint8_t)n);
    put_bytes(s, n);
}

static void reply_begin(uint8_t cmd, uint16_t seq)
{
    s_tx_len = 0u;
    s_tx_overflow = 0;
    put_u8((uint8_t)(cmd | UAOT_RPC_REPLY_BIT));
    put_u8((uint8_t)UAOT_RPC_OK);
    put_u16(seq);
    put_u32(s_nonce);
}

static void tx_sink(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    uaot_platform_write(data, len);
}

static void reply_send(void)
{
    if (s_tx_overflow) {
        /* cannot happen with the sizes checked in the handlers; answer honestly if it does */
        s_tx_len = UAOT_RPC_HEADER_SIZE;
        s_tx[1] = (uint8_t)UAOT_RPC_ERR_INTERNAL;
        s_tx_overflow = 0;
        put_u32(0u);
    }
    if (s_tx[1] != (uint8_t)UAOT_RPC_OK) {
        ++s_requests_failed;
    }
    uaot_frame_encode_to(s_tx, s_tx_len, tx_sink, NULL);
}

static void reply_error(uint8_t cmd, uint16_t seq, uaot_rpc_status_t status, uint32_t detail)
{
    reply_begin(cmd, seq);
    s_tx[1] = (uint8_t)status;
    put_u32(detail);
    reply_send();
}

/* ---------------------------------------------------------------- stack painting */

static UAOT_NOINLINE uintptr_t stack_paint(void)
{
    volatile uint8_t marker = 0u;
    uintptr_t sp = (uintptr_t)&marker;
    uintptr_t a;
    if (!s_stack_known || sp > s_stack_hi || sp < s_stack_lo + UAOT_RPC_STACK_MARGIN) {
        return 0u;
    }
    for (a = s_stack_lo; a < sp - UAOT_RPC_STACK_MARGIN; ++a) {
        *(volatile uint8_t *)a = (uint8_t)UAOT_RPC_STACK_PAINT;
    }
    (void)marker;
    return sp;
}

/* Lowest stack address whose paint was overwritten (s_stack_hi when none). */
static uintptr_t stack_scan(void)
{
    uintptr_t a;
    if (!s_stack_known) {
        return 0u;
    }
    for (a = s_stack_lo; a < s_stack_hi; ++a) {
        if (*(volatile const uint8_t *)a != (uint8_t)UAOT_RPC_STACK_PAINT) {
            break;
        }
    }
    return a;
}

static void stack_note(void)
{
    uintptr_t low = stack_scan();
    if (s_stack_known && low < s_stack_lowest) {
        s_stack_lowest = low;
    }
}

static void stack_init(void)
{
    uint8_t *lo = NULL;
    uint8_t *hi = NULL;
    s_stack_known = 0;
    if (uaot_platform_stack_bounds(&lo, &hi) && lo != NULL && hi != NULL && (uintptr_t)lo < (uintptr_t)hi) {
        s_stack_lo = (uintptr_t)lo;
        s_stack_hi = (uintptr_t)hi;
        s_stack_known = 1;
        s_stack_lowest = s_stack_hi;
        (void)stack_paint();
        stack_note();
    }
}

/* ---------------------------------------------------------------- model binding */

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Bytes a client may access in input/output k: the glue buffer, capped by the descriptor. */
static uint32_t input_bytes(uint16_t k)
{
    uint32_t n = uaot_app_input_sizes[k];
    if (s_model_ok) {
        n = min_u32(n, uaot_app_model->inputs[k].bytes);
    }
    return n;
}

static uint32_t output_bytes(uint16_t k)
{
    uint32_t n = uaot_app_output_sizes[k];
    if (s_model_ok) {
        n = min_u32(n, uaot_app_model->outputs[k].bytes);
    }
    return n;
}

static int model_check(void)
{
    const uaot_model_t *m = uaot_app_model;
    uint16_t k;
    if (m == NULL || m->run == NULL || m->abi_version != (uint32_t)UAOT_ABI_VERSION) {
        return 0;
    }
    if (m->num_inputs != uaot_app_num_inputs || m->num_outputs != uaot_app_num_outputs) {
        return 0;
    }
    if ((m->num_inputs > 0u && m->inputs == NULL) || (m->num_outputs > 0u && m->outputs == NULL)) {
        return 0;
    }
    if (m->workspace_size > uaot_app_workspace_size || m->state_size > uaot_app_state_size) {
        return 0;
    }
    for (k = 0u; k < m->num_inputs; ++k) {
        if (uaot_app_inputs[k] == NULL || m->inputs[k].bytes > uaot_app_input_sizes[k]) {
            return 0;
        }
    }
    for (k = 0u; k < m->num_outputs; ++k) {
        if (uaot_app_outputs[k] == NULL || m->outputs[k].bytes > uaot_app_output_sizes[k]) {
            return 0;
        }
    }
    return 1;
}

static uint16_t model_num_ops(void)
{
    return s_model_ok ? uaot_app_model->num_ops : 0u;
}

static uaot_status_t model_run(const uaot_hooks_t *hooks)
{
    return uaot_app_model->run((const void *const *)uaot_app_inputs, (void *const *)uaot_app_outputs,
                               uaot_app_workspace, uaot_app_state, hooks);
}

static uint8_t timer_unit_u8(void)
{
    uaot_time_unit_t u = uaot_platform_timer_unit();
    return (uint8_t)u;
}

static void prof_begin(void *ctx, uint16_t op)
{
    (void)ctx;
    (void)op;
    s_prof_t0 = uaot_platform_timer_read();
}

static void prof_end(void *ctx, uint16_t op)
{
    uint64_t t = uaot_platform_timer_read();
    (void)ctx;
    if (op < UAOT_RPC_MAX_OPS) {
        s_prof[op] += t - s_prof_t0;
    }
}

static void check_output(void *ctx, uint16_t op, const void *data, uint32_t bytes)
{
    const uint8_t *p = (const uint8_t *)data;
    uint32_t h;
    uint32_t i;
    (void)ctx;
    if (op >= UAOT_RPC_MAX_OPS) {
        return;
    }
    h = s_hash[op];
    for (i = 0u; i < bytes; ++i) {
        h = (h ^ p[i]) * RPC_FNV_PRIME;
    }
    s_hash[op] = h;
}

/* ---------------------------------------------------------------- nonce */

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

static uint32_t make_nonce(void)
{
    volatile uint8_t local = 0u;
    uint32_t cycles = 0u;
    uint64_t t = uaot_platform_timer_read();
    uint32_t x;
    (void)uaot_platform_cycle_counter(&cycles);
    x = mix32((uint32_t)(t & 0xFFFFFFFFu) ^ 0x9E3779B9u);
    x = mix32(x ^ (uint32_t)(t >> 32) ^ cycles);
    x = mix32(x ^ uaot_platform_entropy());
    x = mix32(x ^ (uint32_t)((uintptr_t)&local & 0xFFFFFFFFu));
    (void)local;
    return x == 0u ? 1u : x;
}

/* ---------------------------------------------------------------- handlers */

typedef struct {
    uint8_t cmd;
    uint16_t seq;
    const uint8_t *args;
    size_t nargs;
} request_t;

static void on_hello(const request_t *rq)
{
    const uaot_model_t *m = uaot_app_model;
    uint8_t flags = 0u;
    uint8_t vmin;
    uint8_t vmax;
    uint32_t sram = 0u;
    if (rq->nargs < 2u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 2u);
        return;
    }
    vmin = rq->args[0];
    vmax = rq->args[1];
    if (vmin > vmax || vmax < UAOT_RPC_PROTOCOL_MIN_VERSION || vmin > UAOT_RPC_PROTOCOL_VERSION) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_VERSION,
                    (uint32_t)UAOT_RPC_PROTOCOL_MIN_VERSION | ((uint32_t)UAOT_RPC_PROTOCOL_VERSION << 8));
        return;
    }
    if (s_stack_known) {
        flags |= UAOT_RPC_FLAG_STACK;
    }
    if (s_model_ok && m->num_ops <= UAOT_RPC_MAX_OPS) {
        flags |= UAOT_RPC_FLAG_PROFILE | UAOT_RPC_FLAG_OPCHECK;
    }
    if (s_model_ok) {
        flags |= UAOT_RPC_FLAG_MODEL_OK;
    }
    if (uaot_platform_static_ram(&sram)) {
        flags |= UAOT_RPC_FLAG_STATIC_RAM;
    }
    reply_begin(rq->cmd, rq->seq);
    put_u8((uint8_t)(vmax < UAOT_RPC_PROTOCOL_VERSION ? vmax : UAOT_RPC_PROTOCOL_VERSION));
    put_u8(timer_unit_u8());
    put_u8(flags);
    put_u8((uint8_t)UAOT_ABI_VERSION);
    put_u16((uint16_t)UAOT_RPC_MAX_PAYLOAD);
    put_u16(uaot_app_num_inputs);
    put_u16(uaot_app_num_outputs);
    put_u16(model_num_ops());
    put_u8((uint8_t)UAOT_RUNTIME_VERSION_MAJOR);
    put_u8((uint8_t)UAOT_RUNTIME_VERSION_MINOR);
    put_u8((uint8_t)UAOT_RPC_PROTOCOL_MIN_VERSION);
    put_u8((uint8_t)UAOT_RPC_PROTOCOL_VERSION);
    put_u32(m != NULL ? m->workspace_size : 0u);
    put_u32(m != NULL ? m->weight_bytes : 0u);
    put_str(uaot_platform_board_name());
    put_str(m != NULL ? m->name : "");
    put_str(m != NULL ? m->hash : "");
    if (sizeof s_tx - s_tx_len >= 4u) { /* optional tail (a reply at the smallest max payload may lack it) */
        put_u32(uaot_platform_clock_hz());
    }
    reply_send();
}

static void on_info(const request_t *rq)
{
    uint8_t kind;
    uint16_t index;
    if (rq->nargs != 4u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 4u);
        return;
    }
    kind = rq->args[0];
    index = get_u16(rq->args + 2);
    if (kind == 0u || kind == 1u) {
        uint16_t count = kind == 0u ? uaot_app_num_inputs : uaot_app_num_outputs;
        const uaot_tensor_info_t *ti;
        uint8_t rank;
        uint8_t r;
        if (index >= count) {
            reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_INDEX, count);
            return;
        }
        if (!s_model_ok) {
            reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_MODEL, (uint32_t)UAOT_ERR_INTERNAL);
            return;
        }
        ti = kind == 0u ? &uaot_app_model->inputs[index] : &uaot_app_model->outputs[index];
        rank = ti->rank > UAOT_MAX_RANK ? (uint8_t)UAOT_MAX_RANK : ti->rank;
        reply_begin(rq->cmd, rq->seq);
        put_u8(ti->dtype);
        put_u8(rank);
        put_u16(index);
        put_u32(kind == 0u ? input_bytes(index) : output_bytes(index));
        put_f32(ti->scale);
        put_u32((uint32_t)ti->zero_point);
        for (r = 0u; r < rank; ++r) {
            put_u32((uint32_t)ti->dims[r]);
        }
        put_str(ti->name);
        reply_send();
    } else if (kind == 2u) {
        uint16_t count = model_num_ops();
        if (index >= count) {
            reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_INDEX, count);
            return;
        }
        reply_begin(rq->cmd, rq->seq);
        put_u16(index);
        put_str(uaot_app_model->op_names != NULL ? uaot_app_model->op_names[index] : "");
        reply_send();
    } else {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_ARG, 2u);
    }
}

/* 0 when [offset, offset+len) lies inside a buffer of size bytes */
static int out_of_range(uint32_t offset, uint32_t len, uint32_t size)
{
    return offset > size || len > size - offset;
}

static void on_write_input(const request_t *rq)
{
    uint16_t index;
    uint32_t offset;
    uint32_t len;
    uint32_t size;
    if (rq->nargs < 8u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 8u);
        return;
    }
    index = get_u16(rq->args);
    offset = get_u32(rq->args + 4);
    len = (uint32_t)(rq->nargs - 8u);
    if (index >= uaot_app_num_inputs) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_INDEX, uaot_app_num_inputs);
        return;
    }
    size = input_bytes(index);
    if (out_of_range(offset, len, size)) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_RANGE, size);
        return;
    }
    if (len > 0u) {
        memcpy((uint8_t *)uaot_app_inputs[index] + offset, rq->args + 8, len);
    }
    reply_begin(rq->cmd, rq->seq);
    put_u32(len);
    reply_send();
}

static void on_read_output(const request_t *rq)
{
    uint16_t index;
    uint32_t offset;
    uint32_t len;
    uint32_t size;
    const uint32_t max_chunk = (uint32_t)(UAOT_RPC_MAX_PAYLOAD - UAOT_RPC_HEADER_SIZE);
    if (rq->nargs != 12u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 12u);
        return;
    }
    index = get_u16(rq->args);
    offset = get_u32(rq->args + 4);
    len = get_u32(rq->args + 8);
    if (index >= uaot_app_num_outputs) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_INDEX, uaot_app_num_outputs);
        return;
    }
    if (len > max_chunk) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_ARG, max_chunk);
        return;
    }
    size = output_bytes(index);
    if (out_of_range(offset, len, size)) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_RANGE, size);
        return;
    }
    reply_begin(rq->cmd, rq->seq);
    put_bytes((const uint8_t *)uaot_app_outputs[index] + offset, len);
    reply_send();
}

/* Checks shared by RUN and PROFILE; 1 when the request may go on. */
static int run_checks(const request_t *rq, uint32_t n, int allow_zero)
{
    if ((n == 0u && !allow_zero) || n > UAOT_RPC_MAX_RUNS) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_ARG, UAOT_RPC_MAX_RUNS);
        return 0;
    }
    if (!s_model_ok) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_MODEL, (uint32_t)UAOT_ERR_INTERNAL);
        return 0;
    }
    return 1;
}

/* Checks shared by PROFILE and OPCHECK (n: runs asked for, first: the first per-operator entry to send);
 * 1 when the request may go on. */
static int op_table_checks(const request_t *rq, uint32_t n, uint16_t first)
{
    if (!run_checks(rq, n, 1)) {
        return 0;
    }
    if (uaot_app_model->num_ops > UAOT_RPC_MAX_OPS) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_UNSUPPORTED, UAOT_RPC_MAX_OPS);
        return 0;
    }
    if (first > uaot_app_model->num_ops) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_INDEX, uaot_app_model->num_ops);
        return 0;
    }
    return 1;
}

/* How many per-operator entries (of item bytes, after fixed reply bytes) from first fit one reply. */
static uint16_t op_table_count(uint16_t num_ops, uint16_t first, uint32_t fixed, uint32_t item)
{
    const uint32_t max_count = (UAOT_RPC_MAX_PAYLOAD - UAOT_RPC_HEADER_SIZE - fixed) / item;
    const uint32_t count = (uint32_t)num_ops - first;
    return (uint16_t)(count < max_count ? count : max_count);
}

/* run_sp: the address of a local of the RUN/PROFILE handler (0 when the stack was not painted) */
static void stack_after_run(uintptr_t run_sp)
{
    uintptr_t low = stack_scan();
    if (s_stack_known && low < s_stack_lowest) {
        s_stack_lowest = low;
    }
    if (run_sp != 0u && low < run_sp) {
        s_model_stack = (uint32_t)(run_sp - low);
    }
}

static void on_run(const request_t *rq)
{
    uint32_t n;
    uint32_t i;
    uint32_t kept;
    uint32_t max_kept;
    uint64_t tmin = 0u;
    uint64_t tmax = 0u;
    uint64_t sum = 0u;
    uintptr_t painted;
    size_t times_at;
    volatile uint8_t frame_marker = 0u;
    if (rq->nargs != 4u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 4u);
        return;
    }
    n = get_u32(rq->args);
    if (!run_checks(rq, n, 0)) {
        return;
    }
    max_kept = (uint32_t)((UAOT_RPC_MAX_PAYLOAD - UAOT_RPC_HEADER_SIZE - RPC_RUN_FIXED) / 4u);
    kept = n < max_kept ? n : max_kept;
    /* the per-run values are written straight into the reply buffer */
    reply_begin(rq->cmd, rq->seq);
    times_at = UAOT_RPC_HEADER_SIZE + RPC_RUN_FIXED;
    stack_note();
    painted = stack_paint() != 0u ? (uintptr_t)&frame_marker : 0u;
    for (i = 0u; i < n; ++i) {
        uint64_t t0;
        uint64_t dt;
        uaot_status_t st;
        t0 = uaot_platform_timer_read();
        st = model_run(NULL);
        dt = uaot_platform_timer_read() - t0;
        if (st != UAOT_OK) {
            stack_after_run(painted);
            reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_MODEL, (uint32_t)st);
            return;
        }
        ++s_runs_total;
        if (i == 0u || dt < tmin) {
            tmin = dt;
        }
        if (dt > tmax) {
            tmax = dt;
        }
        sum += dt;
        if (i < kept) {
            set_u32(s_tx + times_at + 4u * i, dt > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)dt);
        }
    }
    stack_after_run(painted);
    (void)frame_marker;
    put_u32(n);
    put_u8(timer_unit_u8());
    put_u8(0u);
    put_u16((uint16_t)kept);
    put_u64(tmin);
    put_u64(tmax);
    put_u64(sum);
    put_u32(0u);
    /* the per-run values are already in place */
    s_tx_len = times_at + 4u * (size_t)kept;
    reply_send();
}

static void on_profile(const request_t *rq)
{
    uint32_t n;
    uint16_t first;
    uint16_t count;
    uint16_t num_ops;
    uint16_t k;
    if (rq->nargs != 8u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 8u);
        return;
    }
    n = get_u32(rq->args);
    first = get_u16(rq->args + 4);
    if (!op_table_checks(rq, n, first)) {
        return;
    }
    num_ops = uaot_app_model->num_ops;
    if (n > 0u) {
        uaot_hooks_t hooks;
        uint32_t i;
        uintptr_t painted;
        volatile uint8_t frame_marker = 0u;
        hooks.op_begin = prof_begin;
        hooks.op_end = prof_end;
        hooks.ctx = NULL;
        hooks.op_output = NULL;
        for (k = 0u; k < UAOT_RPC_MAX_OPS; ++k) {
            s_prof[k] = 0u;
        }
        s_prof_total = 0u;
        s_prof_runs = 0u;
        stack_note();
        painted = stack_paint() != 0u ? (uintptr_t)&frame_marker : 0u;
        for (i = 0u; i < n; ++i) {
            uint64_t t0 = uaot_platform_timer_read();
            uaot_status_t st = model_run(&hooks);
            s_prof_total += uaot_platform_timer_read() - t0;
            if (st != UAOT_OK) {
                stack_after_run(painted);
                reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_MODEL, (uint32_t)st);
                return;
            }
            ++s_prof_runs;
            ++s_runs_total;
        }
        stack_after_run(painted);
        (void)frame_marker;
    }
    count = op_table_count(num_ops, first, RPC_PROFILE_FIXED, 8u);
    reply_begin(rq->cmd, rq->seq);
    put_u16(num_ops);
    put_u16(first);
    put_u16(count);
    put_u8(timer_unit_u8());
    put_u8(0u);
    put_u32(s_prof_runs);
    put_u32(0u);
    put_u64(s_prof_total);
    for (k = 0u; k < count; ++k) {
        put_u64(s_prof[first + k]);
    }
    reply_send();
}

/* OPCHECK run:u8 rsvd:u8 first_op:u16. run != 0: one run on the current inputs that hashes every
 * operator's output tensors (FNV-1a 32, in the order of the op_output hook calls); then (and with
 * run = 0) reply num_ops:u16 first:u16 count:u16 rsvd:u16 hash:u32[count]. */
static void on_opcheck(const request_t *rq)
{
    uint16_t first;
    uint16_t count;
    uint16_t num_ops;
    uint16_t k;
    if (rq->nargs != 4u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 4u);
        return;
    }
    first = get_u16(rq->args + 2);
    if (!op_table_checks(rq, rq->args[0] != 0u ? 1u : 0u, first)) {
        return;
    }
    num_ops = uaot_app_model->num_ops;
    if (rq->args[0] != 0u) {
        uaot_hooks_t hooks;
        uaot_status_t st;
        uintptr_t painted;
        volatile uint8_t frame_marker = 0u;
        hooks.op_begin = NULL;
        hooks.op_end = NULL;
        hooks.ctx = NULL;
        hooks.op_output = check_output;
        for (k = 0u; k < UAOT_RPC_MAX_OPS; ++k) {
            s_hash[k] = RPC_FNV_BASIS;
        }
        stack_note();
        painted = stack_paint() != 0u ? (uintptr_t)&frame_marker : 0u;
        st = model_run(&hooks);
        stack_after_run(painted);
        (void)frame_marker;
        if (st != UAOT_OK) {
            reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_MODEL, (uint32_t)st);
            return;
        }
        ++s_runs_total;
    }
    count = op_table_count(num_ops, first, RPC_OPCHECK_FIXED, 4u);
    reply_begin(rq->cmd, rq->seq);
    put_u16(num_ops);
    put_u16(first);
    put_u16(count);
    put_u16(0u);
    for (k = 0u; k < count; ++k) {
        put_u32(s_hash[first + k]);
    }
    reply_send();
}

static uint32_t rpc_static_bytes(void)
{
    return (uint32_t)(sizeof s_rx + sizeof s_tx + sizeof s_prof + sizeof s_hash + sizeof s_dec);
}

static void on_stats(const request_t *rq)
{
    uint32_t sram = 0u;
    uint32_t io = 0u;
    uint16_t k;
    if (rq->nargs != 0u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 0u);
        return;
    }
    stack_note();
    for (k = 0u; k < uaot_app_num_inputs; ++k) {
        io += uaot_app_input_sizes[k];
    }
    for (k = 0u; k < uaot_app_num_outputs; ++k) {
        io += uaot_app_output_sizes[k];
    }
    reply_begin(rq->cmd, rq->seq);
    put_u32(uaot_app_model != NULL ? uaot_app_model->workspace_size : 0u);
    put_u32(uaot_app_workspace_size);
    put_u32(io);
    put_u32(rpc_static_bytes());
    put_u32(s_stack_known ? (uint32_t)(s_stack_hi - s_stack_lo) : RPC_U32_UNKNOWN);
    put_u32(s_stack_known ? (uint32_t)(s_stack_hi - s_stack_lowest) : RPC_U32_UNKNOWN);
    put_u32(s_stack_known ? s_model_stack : RPC_U32_UNKNOWN);
    put_u32(uaot_platform_static_ram(&sram) ? sram : RPC_U32_UNKNOWN);
    put_u32(s_frames_ok);
    put_u32(s_frames_bad);
    put_u32(s_requests_failed);
    put_u32(s_runs_total);
    reply_send();
}

static void clear_state(void)
{
    uint16_t k;
    for (k = 0u; k < uaot_app_num_inputs; ++k) {
        if (uaot_app_inputs[k] != NULL) {
            memset(uaot_app_inputs[k], 0, uaot_app_input_sizes[k]);
        }
    }
    for (k = 0u; k < uaot_app_num_outputs; ++k) {
        if (uaot_app_outputs[k] != NULL) {
            memset(uaot_app_outputs[k], 0, uaot_app_output_sizes[k]);
        }
    }
    memset(uaot_app_workspace, 0, uaot_app_workspace_size);
    memset(uaot_app_state, 0, uaot_app_state_size);
    if (s_model_ok && uaot_app_model->reset_state != NULL) {
        (void)uaot_app_model->reset_state(uaot_app_state); /* the model's initial state (TFLM's reset) */
    }
    memset(s_prof, 0, sizeof s_prof);
    memset(s_hash, 0, sizeof s_hash);
    s_prof_total = 0u;
    s_prof_runs = 0u;
    s_frames_ok = 0u;
    s_frames_bad = 0u;
    s_requests_failed = 0u;
    s_runs_total = 0u;
    s_model_stack = 0u;
}

static void on_reset(const request_t *rq)
{
    if (rq->nargs != 0u) {
        reply_error(rq->cmd, rq->seq, UAOT_RPC_ERR_BAD_REQUEST, 0u);
        return;
    }
    clear_state();
    stack_init();
    reply_begin(rq->cmd, rq->seq);
    reply_send();
}

static void dispatch(const uint8_t *p, size_t n)
{
    request_t rq;
    uint32_t nonce;
    if (n < UAOT_RPC_HEADER_SIZE) {
        reply_error(n > 0u ? (uint8_t)(p[0] & 0x7Fu) : (uint8_t)UAOT_RPC_CMD_FRAME_ERROR, 0u, UAOT_RPC_ERR_BAD_REQUEST,
                    (uint32_t)UAOT_RPC_HEADER_SIZE);
        return;
    }
    rq.cmd = p[0];
    rq.seq = get_u16(p + 2);
    nonce = get_u32(p + 4);
    rq.args = p + UAOT_RPC_HEADER_SIZE;
    rq.nargs = n - UAOT_RPC_HEADER_SIZE;
    if (rq.cmd < (uint8_t)UAOT_RPC_HELLO || rq.cmd > (uint8_t)UAOT_RPC_OPCHECK) {
        reply_error((uint8_t)(rq.cmd & 0x7Fu), rq.seq, UAOT_RPC_ERR_UNKNOWN_COMMAND, rq.cmd);
        return;
    }
    if (rq.cmd != (uint8_t)UAOT_RPC_HELLO && nonce != s_nonce) {
        reply_error(rq.cmd, rq.seq, UAOT_RPC_ERR_SESSION, 0u);
        return;
    }
    switch (rq.cmd) {
    case UAOT_RPC_HELLO:
        on_hello(&rq);
        break;
    case UAOT_RPC_INFO:
        on_info(&rq);
        break;
    case UAOT_RPC_WRITE_INPUT:
        on_write_input(&rq);
        break;
    case UAOT_RPC_READ_OUTPUT:
        on_read_output(&rq);
        break;
    case UAOT_RPC_RUN:
        on_run(&rq);
        break;
    case UAOT_RPC_PROFILE:
        on_profile(&rq);
        break;
    case UAOT_RPC_STATS:
        on_stats(&rq);
        break;
    case UAOT_RPC_RESET:
        on_reset(&rq);
        break;
    case UAOT_RPC_OPCHECK:
        on_opcheck(&rq);
        break;
    default:
        reply_error(rq.cmd, rq.seq, UAOT_RPC_ERR_UNKNOWN_COMMAND, rq.cmd);
        break;
    }
}

/* ---------------------------------------------------------------- public API */

void uaot_rpc_init(void)
{
    if (s_initialised) {
        return;
    }
    s_initialised = 1;
    uaot_frame_decoder_init(&s_dec, s_rx, sizeof s_rx);
    s_model_ok = model_check();
    s_nonce = make_nonce();
    clear_state();
    stack_init();
}

uint32_t uaot_rpc_nonce(void)
{
    uaot_rpc_init();
    return s_nonce;
}

void uaot_rpc_feed(const uint8_t *data, size_t len)
{
    size_t i;
    if (data == NULL) {
        return;
    }
    uaot_rpc_init();
    for (i = 0u; i < len; ++i) {
        uaot_frame_event_t ev = uaot_frame_decoder_push(&s_dec, data[i]);
        uaot_rpc_status_t st = UAOT_RPC_ERR_FRAME_TOO_LARGE;
        switch (ev) {
        case UAOT_FRAME_NONE:
            continue;
        case UAOT_FRAME_OK:
            ++s_frames_ok;
            dispatch(uaot_frame_payload(&s_dec), s_dec.payload_len);
            continue;
        case UAOT_FRAME_ERR_CRC:
            st = UAOT_RPC_ERR_FRAME_CRC;
            break;
        case UAOT_FRAME_ERR_LENGTH:
            st = UAOT_RPC_ERR_FRAME_LENGTH;
            break;
        case UAOT_FRAME_ERR_ESCAPE:
            st = UAOT_RPC_ERR_FRAME_ESCAPE;
            break;
        case UAOT_FRAME_ERR_TOO_LARGE:
            st = UAOT_RPC_ERR_FRAME_TOO_LARGE;
            break;
        }
        ++s_frames_bad;
        reply_error((uint8_t)UAOT_RPC_CMD_FRAME_ERROR, 0u, st,
                    st == UAOT_RPC_ERR_FRAME_TOO_LARGE ? (uint32_t)UAOT_RPC_MAX_PAYLOAD : 0u);
    }
}

int uaot_rpc_poll(void)
{
    static uint8_t buf[UAOT_RPC_READ_CHUNK];
    int n;
    uaot_rpc_init();
    n = uaot_platform_read(buf, sizeof buf);
    if (n > 0) {
        size_t got = (size_t)n > sizeof buf ? sizeof buf : (size_t)n;
        uaot_rpc_feed(buf, got);
    }
    return n < 0 ? -1 : n;
}

int uaot_rpc_main(void)
{
    uaot_platform_init();
    uaot_rpc_init();
    while (uaot_rpc_poll() >= 0) {
    }
    return 0;
}
