/* microaot's QEMU TCG plugin: per-class instruction counts for the cycle estimate of a Cortex-M run.
 *
 * Loaded by `microaot eval` on QEMU boards (microaot.cycles): qemu-system-arm -plugin
 * libuaot_cycles.so,out=FILE,timer=ADDR,run=ADDR[,flash_hi=ADDR][,cache=0|1][,line=16][,ilines=64][,dlines=8]
 *
 * The guest is cut into segments at every entry of `timer` (uaot_platform_timer_read, which the RPC
 * server calls just before and after each timed model run and around each operator when profiling).
 * For each segment one line goes to FILE as soon as it ends:
 *     S <run> <instructions> <count of class 0> ... <count of class N-1>
 * <run> is 1 when the model's run function (`run`) was entered inside the segment. The classes (enum
 * below) are what microaot/cycles/model.py prices per core; besides instruction classes they count
 * dynamic events: taken branches (the next instruction is not the following one), loads/stores that
 * directly follow another single load/store (their address phase overlaps), and accesses that miss the
 * modelled flash line buffer or cache (instruction fetches and data reads below `flash_hi`).
 *
 * The classification reads the disassembly QEMU gives (capstone), once per translated instruction.
 * This file is a host tool (built with the host compiler), not part of the device runtime.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the few declarations of QEMU's plugin API (v1, QEMU 7.x) this plugin uses ---------------- */
typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef uint32_t qemu_plugin_meminfo_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- classes (keep in the order of CLASSES in model.py) ---------------------------------------- */
enum {
    C_ALU,       /* data processing, moves, shifts, compares, extends, saturate, SIMD add/sub, bitfield */
    C_MUL,       /* MUL (32-bit result) */
    C_MLA,       /* MLA, MLS */
    C_MULL,      /* UMULL, SMULL */
    C_MLAL,      /* UMLAL, SMLAL, UMAAL */
    C_DSPMUL,    /* SMLAD/X, SMLSD, SMUAD, SMUSD, SMLA<x><y>, SMUL<x><y>, SMLAW, SMULW, SMMUL/SMMLA/SMMLS */
    C_DSPMULL,   /* SMLALD/X, SMLSLD, SMLAL<x><y> */
    C_DIV,       /* SDIV, UDIV */
    C_LOAD,      /* single load (LDR, LDRB, LDRH, LDRSB, LDRSH, LDREX) */
    C_STORE,     /* single store */
    C_LOADD,     /* LDRD */
    C_STORED,    /* STRD */
    C_LDM,       /* LDM / POP without PC: instructions */
    C_LDM_REGS,  /* ... registers they load */
    C_STM,       /* STM / PUSH: instructions */
    C_STM_REGS,  /* ... registers they store */
    C_POP_PC,    /* POP / LDM that loads PC: instructions (registers in C_LDM_REGS) */
    C_BRANCH,    /* B, Bcc, CBZ/CBNZ, BL, BX, BLX, TBB/TBH */
    C_IT,        /* IT blocks */
    C_NOP,       /* NOP, hints, barriers */
    C_FPU,       /* VADD/VSUB/VMUL/VNMUL/VABS/VNEG/VCMP/VCVT/VMOV/VMRS... */
    C_FPU_MAC,   /* VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS/VFNMA/VFNMS */
    C_FPU_DIV,   /* VDIV, VSQRT */
    C_VLOAD,     /* VLDR */
    C_VSTORE,    /* VSTR */
    C_VLDM,      /* VLDM / VPOP: instructions */
    C_VLDM_REGS, /* ... registers */
    C_VSTM,      /* VSTM / VPUSH */
    C_VSTM_REGS,
    C_OTHER,     /* anything else (system, coprocessor, MVE...) */
    /* dynamic events */
    E_TAKEN,      /* a branch taken (or any other change of flow) */
    E_LS_PIPE,    /* a single load/store right after another single load/store */
    E_IFETCH_MISS, /* an instruction fetch of a flash line not in the line buffer / cache */
    E_DFLASH_MISS, /* a data read from flash that misses */
    N_CLASSES
};

typedef struct {
    uint64_t vaddr;
    uint32_t size;
    uint8_t cls;
    uint8_t regs;  /* registers moved by LDM/STM/PUSH/POP/VLDM/VSTM */
    uint8_t is_ls; /* a single load or store (pipelines with a neighbour) */
    uint8_t is_run; /* the first instruction of the model's run function */
    uint8_t is_timer;
} insn_info_t;

static FILE *s_out;
static uint64_t s_timer_addr;
static uint64_t s_run_addr;
static uint64_t s_flash_hi = 0x20000000u;
static unsigned s_cache; /* 0: one line buffer for fetches, none for data; 1: direct-mapped caches */
static unsigned s_line = 16u, s_ilines = 64u, s_dlines = 8u;
static uint64_t *s_itags, *s_dtags;

static uint64_t s_counts[N_CLASSES];
static uint64_t s_insns;
static int s_run_seen;
static uint64_t s_next_pc = UINT64_MAX;
static int s_prev_ls;

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static unsigned count_regs(const char *ops)
{
    /* "{r4, r5, r6, lr}" or "{r4-r7, pc}" or "{s16-s23}" / "{d8, d9}" */
    const char *lb = strchr(ops, '{');
    const char *rb = lb ? strchr(lb, '}') : NULL;
    unsigned n = 0;
    const char *p;
    if (!lb || !rb) {
        return 1;
    }
    p = lb + 1;
    while (p < rb) {
        const char *e = p;
        long a, b;
        char *end;
        while (e < rb && *e != ',') {
            ++e;
        }
        /* a range "r4-r7" / "s16-s23" */
        {
            const char *dash = memchr(p, '-', (size_t)(e - p));
            if (dash) {
                const char *x = p;
                while (x < dash && (*x < '0' || *x > '9')) {
                    ++x;
                }
                a = strtol(x, &end, 10);
                x = dash + 1;
                while (x < e && (*x < '0' || *x > '9')) {
                    ++x;
                }
                b = strtol(x, &end, 10);
                n += (b >= a) ? (unsigned)(b - a + 1) : 1u;
            } else {
                ++n;
            }
        }
        p = e + 1;
    }
    return n ? n : 1u;
}

static int has_pc(const char *ops)
{
    const char *lb = strchr(ops, '{');
    const char *rb = lb ? strchr(lb, '}') : NULL;
    const char *p = lb;
    while (p && p < rb) {
        if (p[0] == 'p' && p[1] == 'c') {
            return 1;
        }
        ++p;
    }
    return 0;
}

static void classify(const char *dis, insn_info_t *ii)
{
    char m[32];
    size_t k = 0;
    const char *ops;
    while (dis[k] && dis[k] != ' ' && dis[k] != '\t' && k + 1 < sizeof m) {
        m[k] = dis[k];
        ++k;
    }
    m[k] = 0;
    ops = dis + k;
    ii->regs = 0;
    ii->is_ls = 0;
    /* strip a ".w" / ".n" width suffix */
    {
        char *dot = strchr(m, '.');
        if (dot && (strcmp(dot, ".w") == 0 || strcmp(dot, ".n") == 0)) {
            *dot = 0;
        }
    }
    if (m[0] == 'v') {
        if (starts(m, "vldr")) {
            ii->cls = C_VLOAD;
        } else if (starts(m, "vstr")) {
            ii->cls = C_VSTORE;
        } else if (starts(m, "vldm") || starts(m, "vpop")) {
            ii->cls = C_VLDM;
            ii->regs = (uint8_t)count_regs(ops);
        } else if (starts(m, "vstm") || starts(m, "vpush")) {
            ii->cls = C_VSTM;
            ii->regs = (uint8_t)count_regs(ops);
        } else if (starts(m, "vmla") || starts(m, "vmls") || starts(m, "vnmla") || starts(m, "vnmls") ||
                   starts(m, "vfma") || starts(m, "vfms") || starts(m, "vfnma") || starts(m, "vfnms")) {
            ii->cls = C_FPU_MAC;
        } else if (starts(m, "vdiv") || starts(m, "vsqrt")) {
            ii->cls = C_FPU_DIV;
        } else {
            ii->cls = C_FPU;
        }
        return;
    }
    if (starts(m, "push") || starts(m, "stm")) {
        ii->cls = C_STM;
        ii->regs = (uint8_t)count_regs(ops);
        return;
    }
    if (starts(m, "pop") || starts(m, "ldm")) {
        ii->cls = has_pc(ops) ? C_POP_PC : C_LDM;
        ii->regs = (uint8_t)count_regs(ops);
        return;
    }
    if (starts(m, "ldrd")) {
        ii->cls = C_LOADD;
        return;
    }
    if (starts(m, "strd")) {
        ii->cls = C_STORED;
        return;
    }
    if (starts(m, "ldr") || starts(m, "ldrex")) {
        ii->cls = C_LOAD;
        ii->is_ls = 1;
        if (strstr(ops, "pc,") && strstr(ops, "pc,") < strchr(ops, ',') + 1) {
            ii->cls = C_POP_PC; /* ldr pc, [...]: a load and a branch */
            ii->regs = 1;
            ii->is_ls = 0;
        }
        return;
    }
    if (starts(m, "str")) {
        ii->cls = C_STORE;
        ii->is_ls = 1;
        return;
    }
    if (strcmp(m, "sdiv") == 0 || strcmp(m, "udiv") == 0) {
        ii->cls = C_DIV;
        return;
    }
    if (strcmp(m, "mul") == 0 || strcmp(m, "muls") == 0) {
        ii->cls = C_MUL;
        return;
    }
    if (strcmp(m, "mla") == 0 || strcmp(m, "mls") == 0) {
        ii->cls = C_MLA;
        return;
    }
    if (strcmp(m, "umull") == 0 || strcmp(m, "smull") == 0) {
        ii->cls = C_MULL;
        return;
    }
    if (strcmp(m, "umlal") == 0 || strcmp(m, "smlal") == 0 || strcmp(m, "umaal") == 0) {
        ii->cls = C_MLAL;
        return;
    }
    if (starts(m, "smlald") || starts(m, "smlsld") || starts(m, "smlalbb") || starts(m, "smlalbt") ||
        starts(m, "smlaltb") || starts(m, "smlaltt")) {
        ii->cls = C_DSPMULL;
        return;
    }
    if (starts(m, "smla") || starts(m, "smls") || starts(m, "smua") || starts(m, "smus") || starts(m, "smul") ||
        starts(m, "smmul") || starts(m, "smmla") || starts(m, "smmls")) {
        ii->cls = C_DSPMUL;
        return;
    }
    if (m[0] == 'b' && (strcmp(m, "b") == 0 || strcmp(m, "bl") == 0 || strcmp(m, "bx") == 0 ||
                        strcmp(m, "blx") == 0 || (strlen(m) == 3 && m[0] == 'b' && strcmp(m, "bic") != 0 &&
                                                  strcmp(m, "bfc") != 0 && strcmp(m, "bfi") != 0))) {
        ii->cls = C_BRANCH;
        return;
    }
    if (starts(m, "cbz") || starts(m, "cbnz") || starts(m, "tbb") || starts(m, "tbh")) {
        ii->cls = C_BRANCH;
        return;
    }
    if (starts(m, "it")) {
        ii->cls = C_IT;
        return;
    }
    if (strcmp(m, "nop") == 0 || starts(m, "dmb") || starts(m, "dsb") || starts(m, "isb") ||
        starts(m, "wfi") || starts(m, "wfe") || starts(m, "sev") || starts(m, "yield")) {
        ii->cls = C_NOP;
        return;
    }
    if (starts(m, "mrs") || starts(m, "msr") || starts(m, "cps") || starts(m, "svc") || starts(m, "bkpt") ||
        starts(m, "mcr") || starts(m, "mrc") || starts(m, "udf")) {
        ii->cls = C_OTHER;
        return;
    }
    ii->cls = C_ALU;
}

static void flush_segment(void)
{
    unsigned k;
    if (!s_out) {
        return;
    }
    fprintf(s_out, "S %d %llu", s_run_seen, (unsigned long long)s_insns);
    for (k = 0; k < N_CLASSES; ++k) {
        fprintf(s_out, " %llu", (unsigned long long)s_counts[k]);
    }
    fputc('\n', s_out);
    fflush(s_out);
    memset(s_counts, 0, sizeof s_counts);
    s_insns = 0;
    s_run_seen = 0;
}

static int cache_miss(uint64_t *tags, unsigned lines, uint64_t addr)
{
    uint64_t line = addr / s_line;
    unsigned slot = (unsigned)(line % lines);
    if (tags[slot] == line + 1u) {
        return 0;
    }
    tags[slot] = line + 1u;
    return 1;
}

static void on_exec(unsigned int vcpu, void *udata)
{
    const insn_info_t *ii = (const insn_info_t *)udata;
    (void)vcpu;
    if (ii->is_timer) {
        flush_segment();
    }
    if (ii->is_run) {
        s_run_seen = 1;
    }
    if (s_next_pc != UINT64_MAX && ii->vaddr != s_next_pc) {
        ++s_counts[E_TAKEN];
    }
    s_next_pc = ii->vaddr + ii->size;
    ++s_insns;
    ++s_counts[ii->cls];
    switch (ii->cls) {
    case C_LDM:
    case C_POP_PC:
        s_counts[C_LDM_REGS] += ii->regs;
        break;
    case C_STM:
        s_counts[C_STM_REGS] += ii->regs;
        break;
    case C_VLDM:
        s_counts[C_VLDM_REGS] += ii->regs;
        break;
    case C_VSTM:
        s_counts[C_VSTM_REGS] += ii->regs;
        break;
    default:
        break;
    }
    if (ii->is_ls && s_prev_ls) {
        ++s_counts[E_LS_PIPE];
    }
    s_prev_ls = ii->is_ls;
    if (ii->vaddr < s_flash_hi) {
        /* instruction fetch: 32-bit words; a line (s_line bytes) is fetched once while it stays in the
         * line buffer (s_cache = 0: one line) or the cache */
        if (s_cache) {
            s_counts[E_IFETCH_MISS] += (uint64_t)cache_miss(s_itags, s_ilines, ii->vaddr);
        } else {
            s_counts[E_IFETCH_MISS] += (uint64_t)cache_miss(s_itags, 1u, ii->vaddr);
        }
        if (((ii->vaddr + ii->size - 1u) / s_line) != (ii->vaddr / s_line)) {
            s_counts[E_IFETCH_MISS] += (uint64_t)cache_miss(s_itags, s_cache ? s_ilines : 1u,
                                                            ii->vaddr + ii->size - 1u);
        }
    }
}

static void on_mem(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (vaddr >= s_flash_hi || qemu_plugin_mem_is_store(info)) {
        return;
    }
    /* a data read from flash: waits unless the data cache (s_cache = 1) holds the line */
    if (!s_cache || cache_miss(s_dtags, s_dlines, vaddr)) {
        ++s_counts[E_DFLASH_MISS];
    }
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        insn_info_t *ii = calloc(1, sizeof *ii); /* lives as long as the translation: never freed */
        char *dis = qemu_plugin_insn_disas(insn);
        if (!ii) {
            abort();
        }
        ii->vaddr = qemu_plugin_insn_vaddr(insn);
        ii->size = (uint32_t)qemu_plugin_insn_size(insn);
        classify(dis ? dis : "", ii);
        free(dis);
        ii->is_timer = ii->vaddr == s_timer_addr;
        ii->is_run = ii->vaddr == s_run_addr;
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_exec, QEMU_PLUGIN_CB_NO_REGS, ii);
        /* RW and the store filter in on_mem: QEMU 7.2 reports loads only with RW registered */
        qemu_plugin_register_vcpu_mem_cb(insn, on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
    }
}

static void on_exit_cb(qemu_plugin_id_t id, void *p)
{
    (void)id;
    (void)p;
    if (s_out) {
        flush_segment();
        fclose(s_out);
        s_out = NULL;
    }
}

static uint64_t parse_u64(const char *v) { return strtoull(v, NULL, 0); }

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    int i;
    const char *out = NULL;
    (void)info;
    for (i = 0; i < argc; ++i) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        if (!eq) {
            continue;
        }
        if (starts(a, "out=")) {
            out = eq + 1;
        } else if (starts(a, "timer=")) {
            s_timer_addr = parse_u64(eq + 1) & ~(uint64_t)1u;
        } else if (starts(a, "run=")) {
            s_run_addr = parse_u64(eq + 1) & ~(uint64_t)1u;
        } else if (starts(a, "flash_hi=")) {
            s_flash_hi = parse_u64(eq + 1);
        } else if (starts(a, "cache=")) {
            s_cache = (unsigned)parse_u64(eq + 1);
        } else if (starts(a, "line=")) {
            s_line = (unsigned)parse_u64(eq + 1);
        } else if (starts(a, "ilines=")) {
            s_ilines = (unsigned)parse_u64(eq + 1);
        } else if (starts(a, "dlines=")) {
            s_dlines = (unsigned)parse_u64(eq + 1);
        }
    }
    if (!out || !s_timer_addr || !s_line || !s_ilines || !s_dlines) {
        qemu_plugin_outs("uaot_cycles: needs out=FILE,timer=ADDR (and line/ilines/dlines > 0)\n");
        return -1;
    }
    s_out = fopen(out, "w");
    s_itags = calloc(s_ilines, sizeof *s_itags);
    s_dtags = calloc(s_dlines, sizeof *s_dtags);
    if (!s_out || !s_itags || !s_dtags) {
        qemu_plugin_outs("uaot_cycles: cannot open the output file\n");
        return -1;
    }
    fprintf(s_out, "H %d\n", N_CLASSES);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
