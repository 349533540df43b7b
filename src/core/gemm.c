/* gemm.c — the one place that calls CLBlast: row-major (strided-batched) SGEMM on the context's
 * own command queue, with CLBlast status codes mapped to clnn statuses; and CLBlast's kernel
 * parameters: the names and constraints of a parameter set, applying one to a device (CLBlast
 * keeps them per device for the whole process, so clnn mirrors what it applied in a small
 * process-wide table), and the per-device tuning file in the cache directory (format, atomic
 * write, validated read, applied before a context's first GEMM). The search that writes the file
 * lives in tune.c. */
#include <clblast_c.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- parameter sets ----------------------------------------------------------------------- */
enum { G_XGEMM, G_DIRECT, G_ROUTINE, G_COUNT };

/* CLBlast's kernel names of the groups, and the fields of each group in CLBlast's names */
static const char *const GROUP_KERNEL[G_COUNT] = {"Xgemm", "XgemmDirect", "GemmRoutine"};
static const char *const GROUP_LABEL[G_COUNT] = {"Xgemm", "XgemmDirect", "XGEMM_MIN_INDIRECT_SIZE"};

typedef struct param_field {
    const char *name;
    size_t offset;
    int group;
} param_field;

#define F(name, field, group)                                                                      \
    {                                                                                              \
        name, offsetof(clnn_gemm_params, field), group                                             \
    }
static const param_field FIELDS[] = {
    F("GEMMK", gemmk, G_XGEMM),
    F("KREG", kreg, G_XGEMM),
    F("KWG", kwg, G_XGEMM),
    F("KWI", kwi, G_XGEMM),
    F("MDIMA", mdima, G_XGEMM),
    F("MDIMC", mdimc, G_XGEMM),
    F("MWG", mwg, G_XGEMM),
    F("NDIMB", ndimb, G_XGEMM),
    F("NDIMC", ndimc, G_XGEMM),
    F("NWG", nwg, G_XGEMM),
    F("SA", sa, G_XGEMM),
    F("SB", sb, G_XGEMM),
    F("STRM", strm, G_XGEMM),
    F("STRN", strn, G_XGEMM),
    F("VWM", vwm, G_XGEMM),
    F("VWN", vwn, G_XGEMM),
    F("KWID", kwid, G_DIRECT),
    F("MDIMAD", mdimad, G_DIRECT),
    F("MDIMCD", mdimcd, G_DIRECT),
    F("NDIMBD", ndimbd, G_DIRECT),
    F("NDIMCD", ndimcd, G_DIRECT),
    F("PADA", pada, G_DIRECT),
    F("PADB", padb, G_DIRECT),
    F("VWMD", vwmd, G_DIRECT),
    F("VWND", vwnd, G_DIRECT),
    F("WGD", wgd, G_DIRECT),
    F("XGEMM_MIN_INDIRECT_SIZE", min_indirect, G_ROUTINE),
};
#undef F
#define NFIELDS (sizeof FIELDS / sizeof *FIELDS)
_Static_assert(NFIELDS == 27, "16 Xgemm + 10 XgemmDirect + 1 routine parameter");

static unsigned field(const clnn_gemm_params *p, size_t i)
{
    return *(const unsigned *)(const void *)((const char *)p + FIELDS[i].offset);
}

static unsigned *field_ptr(clnn_gemm_params *p, size_t i)
{
    return (unsigned *)(void *)((char *)p + FIELDS[i].offset);
}

/* The field that says whether a group is set (0: CLBlast's own values). */
static int group_set(const clnn_gemm_params *p, int g)
{
    return g == G_XGEMM ? p->kwg != 0 : g == G_DIRECT ? p->wgd != 0 : p->min_indirect != 0;
}

int clnn__gemm_params_set(const clnn_gemm_params *p)
{
    return group_set(p, G_XGEMM) || group_set(p, G_DIRECT) || group_set(p, G_ROUTINE);
}

size_t clnn_gemm_params_format(const clnn_gemm_params *p, char *buf, size_t size)
{
    char none[1];
    if (!buf || !size) {
        buf = none;
        size = 1;
    }
    buf[0] = 0;
    if (!p || !clnn__gemm_params_set(p))
        return (size_t)snprintf(buf, size, "default");
    size_t len = 0;
    for (size_t i = 0; i < NFIELDS; i++) {
        if (!group_set(p, FIELDS[i].group))
            continue;
        size_t at = len < size ? len : size - 1;
        int w =
            snprintf(buf + at, size - at, "%s%s=%u", len ? " " : "", FIELDS[i].name, field(p, i));
        len += w > 0 ? (size_t)w : 0;
    }
    return len;
}

static int is_pow2(unsigned v)
{
    return v && !(v & (v - 1));
}

/* x % y == 0 with y != 0 */
static int multiple(unsigned x, unsigned y)
{
    return y && x % y == 0;
}

/* The kernels' constraints (CLBlast's tuners state the same ones): -1 with a message when p
 * breaks one. */
int clnn__gemm_params_check(const clnn_gemm_params *p, char *msg, size_t size)
{
#define BAD(...) return snprintf(msg, size, __VA_ARGS__), -1
    for (size_t i = 0; i < NFIELDS; i++)
        if (group_set(p, FIELDS[i].group) && field(p, i) > 4096)
            BAD("%s=%u is out of range (at most 4096)", FIELDS[i].name, field(p, i));
    if (group_set(p, G_XGEMM)) {
        const unsigned must_be_positive[] = {p->kreg,  p->kwg,   p->kwi, p->mdima, p->mdimc, p->mwg,
                                             p->ndimb, p->ndimc, p->nwg, p->vwm,   p->vwn};
        for (size_t i = 0; i < sizeof must_be_positive / sizeof *must_be_positive; i++)
            if (!must_be_positive[i])
                BAD("Xgemm: a size is 0 (every one of KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC "
                    "NWG VWM VWN must be positive)");
        if (p->gemmk > 1 || p->sa > 1 || p->sb > 1 || p->strm > 1 || p->strn > 1)
            BAD("Xgemm: GEMMK, SA, SB, STRM and STRN are 0 or 1");
        if (!is_pow2(p->vwm) || p->vwm > 16 || !is_pow2(p->vwn) || p->vwn > 16)
            BAD("Xgemm: VWM=%u and VWN=%u must be 1, 2, 4, 8 or 16", p->vwm, p->vwn);
        if (!multiple(p->kwg, p->kwi))
            BAD("Xgemm: KWG=%u must be a multiple of KWI=%u", p->kwg, p->kwi);
        if (!multiple(p->mwg, p->mdimc * p->vwm))
            BAD("Xgemm: MWG=%u must be a multiple of MDIMC*VWM=%u", p->mwg, p->mdimc * p->vwm);
        if (!multiple(p->nwg, p->ndimc * p->vwn))
            BAD("Xgemm: NWG=%u must be a multiple of NDIMC*VWN=%u", p->nwg, p->ndimc * p->vwn);
        if (!multiple(p->mwg, p->mdima * p->vwm))
            BAD("Xgemm: MWG=%u must be a multiple of MDIMA*VWM=%u", p->mwg, p->mdima * p->vwm);
        if (!multiple(p->nwg, p->ndimb * p->vwn))
            BAD("Xgemm: NWG=%u must be a multiple of NDIMB*VWN=%u", p->nwg, p->ndimb * p->vwn);
        unsigned threads = p->mdimc * p->ndimc;
        if (p->gemmk == 0) {
            if (p->kreg != 1)
                BAD("Xgemm: KREG=%u must be 1 with GEMMK=0", p->kreg);
            if (!multiple(threads, p->mdima) || !multiple(threads, p->ndimb) ||
                !multiple(p->kwg, threads / p->mdima) || !multiple(p->kwg, threads / p->ndimb))
                BAD("Xgemm: KWG=%u must be a multiple of MDIMC*NDIMC/MDIMA and of "
                    "MDIMC*NDIMC/NDIMB (%u threads, MDIMA=%u, NDIMB=%u)",
                    p->kwg, threads, p->mdima, p->ndimb);
        } else {
            if (!multiple(p->kreg, p->vwn))
                BAD("Xgemm: KREG=%u must be a multiple of VWN=%u with GEMMK=1", p->kreg, p->vwn);
            if (p->mdimc != p->mdima || p->ndimc != p->ndimb || p->sa || p->sb)
                BAD("Xgemm: GEMMK=1 needs MDIMA=MDIMC, NDIMB=NDIMC and SA=SB=0");
        }
    }
    if (group_set(p, G_DIRECT)) {
        const unsigned must_be_positive[] = {p->kwid,   p->mdimad, p->mdimcd, p->ndimbd,
                                             p->ndimcd, p->vwmd,   p->vwnd,   p->wgd};
        for (size_t i = 0; i < sizeof must_be_positive / sizeof *must_be_positive; i++)
            if (!must_be_positive[i])
                BAD("XgemmDirect: a size is 0 (every one of KWID MDIMAD MDIMCD NDIMBD NDIMCD "
                    "VWMD VWND WGD must be positive)");
        if (p->pada > 1 || p->padb > 1)
            BAD("XgemmDirect: PADA and PADB are 0 or 1");
        if (!is_pow2(p->vwmd) || p->vwmd > 16 || !is_pow2(p->vwnd) || p->vwnd > 16)
            BAD("XgemmDirect: VWMD=%u and VWND=%u must be 1, 2, 4, 8 or 16", p->vwmd, p->vwnd);
        unsigned threads = p->mdimcd * p->ndimcd;
        if (!multiple(p->wgd, p->kwid) || !multiple(p->wgd, p->mdimcd * p->vwmd) ||
            !multiple(p->wgd, p->ndimcd * p->vwnd) || !multiple(p->wgd, p->mdimad * p->vwmd) ||
            !multiple(p->wgd, p->ndimbd * p->vwnd) || !multiple(threads, p->mdimad) ||
            !multiple(threads, p->ndimbd) || !multiple(p->wgd, threads / p->mdimad) ||
            !multiple(p->wgd, threads / p->ndimbd))
            BAD("XgemmDirect: WGD=%u must be a multiple of KWID, MDIMCD*VWMD, NDIMCD*VWND, "
                "MDIMAD*VWMD, NDIMBD*VWND, MDIMCD*NDIMCD/MDIMAD and MDIMCD*NDIMCD/NDIMBD",
                p->wgd);
    }
    return 0;
#undef BAD
}

/* Sets that CLBlast 1.5.3 runs wrongly or crashes on, although its tuners accept them: -1 with
 * the reason. Checked before a set is used. */
int clnn__gemm_params_known_bad(const clnn_gemm_params *p, char *msg, size_t size)
{
#if CLBLAST_VERSION_MAJOR == 1 && CLBLAST_VERSION_MINOR <= 5
    if (group_set(p, G_XGEMM) && p->gemmk == 1 && p->mwg != p->nwg)
        return snprintf(
                   msg, size,
                   "GEMMK=1 with MWG != NWG gives wrong results or crashes in CLBlast %d.%d.%d",
                   CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR, CLBLAST_VERSION_PATCH),
               -1;
#else
    (void)p;
    (void)msg;
    (void)size;
#endif
    return 0;
}

clnn_status clnn_gemm_params_parse(const char *text, clnn_gemm_params *out, char *msg,
                                   size_t msg_size)
{
    char scratch[8];
    if (!msg || !msg_size) {
        msg = scratch;
        msg_size = sizeof scratch;
    }
    msg[0] = 0;
    if (!text || !out) {
        snprintf(msg, msg_size, "clnn_gemm_params_parse: text and out must not be NULL");
        return CLNN_ERR_INVALID;
    }
    clnn_gemm_params p;
    memset(&p, 0, sizeof p);
    int seen[NFIELDS] = {0}, any = 0;
    const char *s = text;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, " \t\r\n");
        if (len == 7 && !strncmp(s, "default", 7)) {
            s += len;
            continue;
        }
        const char *eq = memchr(s, '=', len);
        size_t i = 0;
        while (eq && i < NFIELDS &&
               (strlen(FIELDS[i].name) != (size_t)(eq - s) || strncmp(FIELDS[i].name, s, eq - s)))
            i++;
        char *end = NULL;
        unsigned long v = 0;
        if (eq && i < NFIELDS && eq[1] >= '0' && eq[1] <= '9') {
            errno = 0;
            v = strtoul(eq + 1, &end, 10);
        }
        if (!eq || i == NFIELDS || !end || end != s + len || errno || v > 4096) {
            snprintf(msg, msg_size,
                     "'%.*s' is not NAME=VALUE with a CLBlast SGEMM parameter name (e.g. MWG=64) "
                     "and a value of at most 4096",
                     (int)(len > 60 ? 60 : len), s);
            return CLNN_ERR_INVALID;
        }
        if (seen[i]++) {
            snprintf(msg, msg_size, "%s is given twice", FIELDS[i].name);
            return CLNN_ERR_INVALID;
        }
        *field_ptr(&p, i) = (unsigned)v;
        any = 1;
        s += len;
    }
    /* a group is all or nothing: one marker of 0 must not silently drop the others */
    for (int g = 0; g < G_COUNT && any; g++) {
        size_t given = 0, total = 0;
        const char *missing = NULL;
        for (size_t i = 0; i < NFIELDS; i++)
            if (FIELDS[i].group == g) {
                total++;
                given += seen[i] != 0;
                if (!seen[i] && !missing)
                    missing = FIELDS[i].name;
            }
        if (given && given != total) {
            snprintf(msg, msg_size, "%s parameters are incomplete: %s is missing", GROUP_LABEL[g],
                     missing);
            return CLNN_ERR_INVALID;
        }
        if (given && !group_set(&p, g)) {
            snprintf(msg, msg_size, "%s: %s must not be 0", GROUP_LABEL[g],
                     g == G_XGEMM    ? "KWG"
                     : g == G_DIRECT ? "WGD"
                                     : "XGEMM_MIN_INDIRECT_SIZE");
            return CLNN_ERR_INVALID;
        }
    }
    if (clnn__gemm_params_check(&p, msg, msg_size))
        return CLNN_ERR_INVALID;
    *out = p;
    return CLNN_OK;
}

/* ---- applying a set: CLBlast's state is per device and process-wide ------------------------ */
/* What clnn applied per device. CLBlast's own state is process-wide, so this mirror is too; it
 * lets a context see that another one (or a search) changed its device's parameters. */
#define APPLIED_MAX 16
typedef struct applied_entry {
    cl_device_id device;
    clnn_gemm_params params; /* union of the groups applied so far */
} applied_entry;
static applied_entry applied_table[APPLIED_MAX];
static size_t applied_count;
static atomic_flag applied_lock = ATOMIC_FLAG_INIT;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&applied_lock, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&applied_lock, memory_order_release);
}

int clnn__gemm_applied(const clnn_ctx *ctx, clnn_gemm_params *out)
{
    int found = 0;
    memset(out, 0, sizeof *out);
    lock();
    for (size_t i = 0; i < applied_count; i++)
        if (applied_table[i].device == ctx->device) {
            *out = applied_table[i].params;
            found = clnn__gemm_params_set(out);
        }
    unlock();
    return found;
}

clnn_status clnn__gemm_apply(clnn_ctx *ctx, const clnn_gemm_params *p)
{
    char why[256];
    if (clnn__gemm_params_check(p, why, sizeof why))
        return clnn__fail(ctx, CLNN_ERR_INVALID, "GEMM parameters: %s", why);
    lock();
    clnn_status st = CLNN_OK;
    for (int g = 0; g < G_COUNT && st == CLNN_OK; g++) {
        if (!group_set(p, g))
            continue;
        const char *names[NFIELDS];
        size_t values[NFIELDS], n = 0;
        for (size_t i = 0; i < NFIELDS; i++)
            if (FIELDS[i].group == g) {
                names[n] = FIELDS[i].name;
                values[n++] = field(p, i);
            }
        CLBlastStatusCode s = CLBlastOverrideParameters(ctx->device, GROUP_KERNEL[g],
                                                        CLBlastPrecisionSingle, n, names, values);
        if (s != CLBlastSuccess) {
            char what[64];
            snprintf(what, sizeof what, "CLBlastOverrideParameters (%s)", GROUP_KERNEL[g]);
            st = clnn__clblast_fail(ctx, s, what);
            break;
        }
        size_t e = 0;
        while (e < applied_count && applied_table[e].device != ctx->device)
            e++;
        if (e == applied_count && applied_count < APPLIED_MAX)
            applied_table[applied_count++] = (applied_entry){.device = ctx->device};
        if (e < applied_count)
            for (size_t i = 0; i < NFIELDS; i++)
                if (FIELDS[i].group == g)
                    *field_ptr(&applied_table[e].params, i) = field(p, i);
    }
    unlock();
    return st;
}

/* ---- the tuning file ---------------------------------------------------------------------- */
/* Text, one "key value" per line, in this order:
 *   clnn-gemm-tuning 1
 *   platform <name>  device <name>  driver <version>  device-version <CL_DEVICE_VERSION>
 *   clblast <major.minor.patch>
 *   params <clnn_gemm_params_format text, or "default">
 *   # comments (the search's figures)
 *   checksum <FNV-1a 64 of every byte before this line, 16 hex digits>
 * Any difference in the key lines, a bad checksum, a missing line or parameters that break the
 * constraints make the file ignored (with a warning). */
#define TUNE_MAGIC "clnn-gemm-tuning 1"
#define TUNE_WHAT  "GEMM tuning file"

/* The key lines of ctx's device, as the file holds them (keyfile.c adds the CLBlast version). */
static void tune_head(const clnn_ctx *ctx, char *buf, size_t size)
{
    char v[48];
    snprintf(v, sizeof v, "clblast %d.%d.%d\n", CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
             CLBLAST_VERSION_PATCH);
    clnn__keyfile_head(ctx, TUNE_MAGIC, v, buf, size);
}

int clnn__tune_path(const clnn_ctx *ctx, char *path, size_t size)
{
    char head[2048];
    tune_head(ctx, head, sizeof head);
    return clnn__keyfile_path(ctx, "gemm", head, path, size);
}

clnn_status clnn__tune_write(clnn_ctx *ctx, const clnn_gemm_params *p, const char *comments,
                             char *path, size_t path_size)
{
    if (clnn__tune_path(ctx, path, path_size))
        return clnn__fail(ctx, CLNN_ERR_IO,
                          "cannot store GEMM tuning: the context has no cache directory "
                          "(options.no_cache or CLNN_NO_CACHE=1)");
    size_t cap = 1024 + (comments ? 2 * strlen(comments) : 0);
    char *body = malloc(cap), head[2048];
    if (!body)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory for the " TUNE_WHAT);
    size_t len = (size_t)snprintf(body, cap, "params ");
    len += clnn_gemm_params_format(p, body + len, cap - len);
    len += (size_t)snprintf(body + len, cap - len, "\n");
    if (comments)
        for (const char *c = comments; *c && len + 4 < cap;) {
            size_t n = strcspn(c, "\n");
            len += (size_t)snprintf(body + len, cap - len, "# %.*s\n", (int)n, c);
            c += n + (c[n] == '\n');
        }
    tune_head(ctx, head, sizeof head);
    clnn_status st = clnn__keyfile_write(ctx, path, head, body, TUNE_WHAT);
    free(body);
    return st;
}

/* Reads and validates the file at path: 1 with *out on success, 0 when it does not exist, -1
 * with the reason in why when it is unreadable or rejected. The body is one "params" line, then
 * comments. */
static int tune_read(const clnn_ctx *ctx, const char *path, clnn_gemm_params *out, char *why,
                     size_t why_size)
{
    char head[2048], *body = NULL, msg[256];
    tune_head(ctx, head, sizeof head);
    int r = clnn__keyfile_read(path, head, &body, why, why_size);
    if (r <= 0)
        return r;
    r = -1;
    clnn_gemm_params p;
    char *eol = strchr(body, '\n');
    if (strncmp(body, "params ", 7) || !eol)
        snprintf(why, why_size, "the 'params' line is missing");
    else {
        *eol = 0;
        if (clnn_gemm_params_parse(body + 7, &p, msg, sizeof msg) != CLNN_OK)
            snprintf(why, why_size, "bad parameters: %s", msg);
        else if (clnn__gemm_params_known_bad(&p, msg, sizeof msg))
            snprintf(why, why_size, "parameters known to be wrong: %s", msg);
        else
            r = 1;
        for (char *l = eol + 1; r == 1 && *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
            if (*l != '#') {
                size_t n = strcspn(l, "\n");
                snprintf(why, why_size, "unexpected line '%.*s'", (int)(n > 60 ? 60 : n), l);
                r = -1;
            }
    }
    if (r == 1)
        *out = p;
    free(body);
    return r;
}

void clnn__tune_load(clnn_ctx *ctx)
{
    if (ctx->gemm_ready)
        return;
    ctx->gemm_ready = 1;
    char path[1024];
    const char *nt = getenv("CLNN_NO_TUNE");
    clnn_gemm_params p;
    memset(&p, 0, sizeof p);
    if (nt && *nt && strcmp(nt, "0")) {
        snprintf(ctx->tune_status, sizeof ctx->tune_status, "not loaded: CLNN_NO_TUNE=%s", nt);
        return;
    }
    if (clnn__tune_path(ctx, path, sizeof path)) {
        snprintf(ctx->tune_status, sizeof ctx->tune_status,
                 "not loaded: no cache directory (options.no_cache or CLNN_NO_CACHE=1)");
        return;
    }
    char why[512];
    int r = tune_read(ctx, path, &p, why, sizeof why);
    if (r == 0) {
        snprintf(ctx->tune_status, sizeof ctx->tune_status, "no tuning file (clnn-bench --tune)");
        return;
    }
    if (r < 0) {
        snprintf(ctx->tune_status, sizeof ctx->tune_status, "ignored %.1000s: %.280s", path, why);
        clnn__log(ctx, CLNN_LOG_WARN, "GEMM tuning file ignored: %s: %s", path, why);
        return;
    }
    char text[600];
    clnn_gemm_params_format(&p, text, sizeof text);
    if (!clnn__gemm_params_set(&p)) {
        snprintf(ctx->tune_status, sizeof ctx->tune_status,
                 "%s: CLBlast's own parameters were best", path);
        clnn__log(ctx, CLNN_LOG_INFO, "GEMM tuning %s: CLBlast's own parameters were best", path);
        return;
    }
    /* a refused file is a warning, not the context's last error */
    clnn_status saved = ctx->last_status;
    int saved_raw = ctx->last_raw;
    char *saved_error = ctx->last_error;
    ctx->last_error = NULL;
    clnn_status st = clnn__gemm_apply(ctx, &p);
    if (st != CLNN_OK) {
        snprintf(ctx->tune_status, sizeof ctx->tune_status,
                 "ignored %s: CLBlast refused it: %.200s", path, clnn_ctx_last_error(ctx));
        clnn__log(ctx, CLNN_LOG_WARN, "GEMM tuning file ignored: %s", ctx->tune_status);
    }
    free(ctx->last_error);
    ctx->last_error = saved_error;
    ctx->last_status = saved;
    ctx->last_raw = saved_raw;
    if (st != CLNN_OK)
        return;
    ctx->tune_applied = 1;
    snprintf(ctx->tune_status, sizeof ctx->tune_status, "applied from %s", path);
    clnn__log(ctx, CLNN_LOG_INFO, "GEMM tuning applied from %s: %s", path, text);
}

clnn_status clnn_gemm_tuning_get(clnn_ctx *ctx, clnn_gemm_tuning *out)
{
    if (!ctx || !out) {
        if (ctx)
            clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_gemm_tuning_get: out must not be NULL");
        return CLNN_ERR_INVALID;
    }
    memset(out, 0, sizeof *out);
    if (!ctx->usable)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "clnn_gemm_tuning_get: the context is not usable (its creation failed)");
    clnn__tune_load(ctx);
    clnn__tune_path(ctx, out->path, sizeof out->path);
    out->applied = clnn__gemm_applied(ctx, &out->params);
    if (out->applied && !ctx->tune_applied)
        snprintf(out->status, sizeof out->status,
                 "parameters applied by clnn elsewhere in this process (another context or a "
                 "search); this context: %s",
                 ctx->tune_status);
    else
        snprintf(out->status, sizeof out->status, "%s", ctx->tune_status);
    return CLNN_OK;
}

/* ---- clnn's own SGEMM (kernels/gemm.cl) ---------------------------------------------------- */
int clnn__gemm_own(const clnn_ctx *ctx)
{
    const char *env = getenv("CLNN_GEMM");
    if (env && !strcmp(env, "clblast"))
        return 0;
    if (env && !strcmp(env, "own"))
        return 1;
    return clnn__cpu_path(ctx);
}

int clnn__gemm_tm_valid(int tm)
{
    return tm == 4 || tm == 6 || tm == 8 || tm == 10 || tm == 12;
}

#define GEMM_TM_DEFAULT 8 /* gemm.cl's default */

/* The GEMM_TM of ctx's own SGEMM: $CLNN_GEMM_TM (a test and benchmark override), else
 * ctx->own_gemm_tm (the tuned value, tune_own.c), else 8; a value that is not valid counts as
 * unset. */
static int gemm_tm(clnn_ctx *ctx)
{
    if (!ctx->own_ready)
        clnn__own_tune_load(ctx); /* the tuned value lives in the own-kernel tuning file */
    const char *env = getenv("CLNN_GEMM_TM");
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (end && !*end && v > 0 && v < 64 && clnn__gemm_tm_valid((int)v))
            return (int)v;
    }
    return clnn__gemm_tm_valid(ctx->own_gemm_tm) ? ctx->own_gemm_tm : GEMM_TM_DEFAULT;
}

/* The build options of gemm.cl for tm (NULL for the default: one program variant fewer). */
static const char *gemm_options(int tm, char *buf, size_t size)
{
    if (tm == GEMM_TM_DEFAULT)
        return NULL;
    snprintf(buf, size, "-DGEMM_TM=%d", tm);
    return buf;
}

/* The epilogue code of gemm.cl (bit 0: bias, bits 1..: the activation) */
static int epilogue_code(const clnn__gemm_args *a)
{
    return (a->bias != NULL) | (a->act << 1);
}

/* The last element (+ 1) a strided batch of rows x cols (row pitch ld) reaches from off. */
static size_t extent(size_t off, size_t rows, size_t cols, size_t ld, size_t stride, size_t batch)
{
    return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

/* Sets the arguments first .. first + n - 1 of k from (size, pointer) pairs. */
static cl_int set_args(cl_kernel k, int n, const size_t *sizes, const void *const *values)
{
    cl_int err = CL_SUCCESS;
    for (int i = 0; i < n && err == CL_SUCCESS; i++)
        err = clSetKernelArg(k, (cl_uint)i, sizes[i], values[i]);
    return err;
}

/* Whether the kernels, which index with int, reach every element of a's operands. */
static int own_fits(const clnn__gemm_args *a)
{
    size_t lim = (size_t)INT_MAX;
    size_t ea = a->trans_a ? extent(a->a_off, a->k, a->m, a->lda, a->a_stride, a->batch)
                           : extent(a->a_off, a->m, a->k, a->lda, a->a_stride, a->batch);
    size_t eb = a->trans_b ? extent(a->b_off, a->n, a->k, a->ldb, a->b_stride, a->batch)
                           : extent(a->b_off, a->k, a->n, a->ldb, a->b_stride, a->batch);
    size_t ec = extent(a->c_off, a->m, a->n, a->ldc, a->c_stride, a->batch);
    return a->m && a->n && a->batch && ea < lim && eb < lim && ec < lim &&
           /* the packing buffer: B's panels, then A's (row tiles of at most 12) */
           a->k * ((a->n + 31) / 32 * 32 + a->m + 12) * a->batch < lim && a->m < lim &&
           a->n < lim && (!a->bias || a->bias_off + a->n < lim);
}

/* ctx->gemm_pack with room for bytes, referenced by node: one packing buffer for every own GEMM
 * of the context (the in-order queue runs them one after another; a smaller one is released, and
 * the queue keeps it while a GEMM still uses it). It goes when its last node does, so destroying
 * every graph and model leaves no buffer behind (clnn_live_objects_get). */
static clnn_status pack_buffer(clnn_ctx *ctx, clnn_tensor *node, size_t bytes)
{
    if (!node->gemm_packs) {
        node->gemm_packs = true;
        ctx->gemm_pack_users++;
    }
    return clnn__buffer_reserve(ctx, &ctx->gemm_pack, bytes, "the packed GEMM operands", NULL);
}

void clnn__gemm_pack_drop(clnn_tensor *node)
{
    if (!node->gemm_packs)
        return;
    node->gemm_packs = false;
    clnn_ctx *ctx = node->ctx;
    if (--ctx->gemm_pack_users == 0 && ctx->gemm_pack) {
        clReleaseMemObject(ctx->gemm_pack); /* the in-order queue keeps it while in use */
        ctx->gemm_pack = NULL;
    }
}

/* Whether the own SGEMM reads op(B) from panels: always for B^T (the kernel needs contiguous
 * columns), and for B when a work-item runs at least PANEL_MIN_ROW_TILES row tiles against its
 * panel (measured on POCL: 1.3-2x faster from 3 row tiles on, slower for 1). */
#define PANEL_MIN_ROW_TILES 3
#define PACK_SPLIT_FLOATS   ((size_t)1 << 24) /* 64 MiB of panel copies when row tiles split */
static int use_panels(const clnn__gemm_args *a, size_t row_tiles)
{
    return a->k > 0 && (a->trans_b || row_tiles >= PANEL_MIN_ROW_TILES);
}

/* node's own-SGEMM kernels (gemm_tile, gemm_pack) for GEMM_TM tm in *kernels: made again when
 * the GEMM_TM they were built with is no longer ctx's (a tuner switches it between runs). */
static clnn_status own_kernels(clnn_ctx *ctx, clnn_tensor *node, int tm, cl_kernel **out)
{
    static const char *const names[2] = {"gemm_tile", "gemm_pack"};
    cl_kernel *kernels = node->kernels + CLNN__GEMM_SLOT;
    if (node->gemm_tm != tm)
        for (int i = 0; i < 2; i++)
            if (kernels[i]) { /* the in-order queue keeps a kernel while it is in use */
                clReleaseKernel(kernels[i]);
                kernels[i] = NULL;
            }
    char options[32];
    for (int i = 0; i < 2; i++)
        if (!kernels[i]) {
            clnn_status st = clnn__kernel_create(
                ctx, "gemm", gemm_options(tm, options, sizeof options), names[i], &kernels[i]);
            if (st)
                return st;
        }
    node->gemm_tm = tm;
    *out = kernels;
    return CLNN_OK;
}

#define PACK_WG 16 /* the work-group of gemm_pack on CPU devices */

/* gemm_pack's operand: the rows x cols matrix op(X) (X stored cols x rows when trans), rows ld
 * apart, stride per batch, cut into panels of `width` columns */
typedef struct pack_args {
    cl_mem x;
    int rows, cols, trans, off, ld, stride, width;
} pack_args;

/* Enqueues gemm_pack (kernel k): x's panels into dst from the float offset off. */
static clnn_status enqueue_pack(clnn_ctx *ctx, cl_kernel k, const pack_args *x, size_t batch,
                                cl_mem dst, size_t off)
{
    int op = (int)off;
    const size_t sizes[10] = {sizeof x->cols, sizeof x->rows, sizeof x->trans,  sizeof x->x,
                              sizeof x->off,  sizeof x->ld,   sizeof x->stride, sizeof(cl_mem),
                              sizeof op,      sizeof x->width};
    const void *const values[10] = {&x->cols, &x->rows,   &x->trans, &x->x, &x->off,
                                    &x->ld,   &x->stride, &dst,      &op,   &x->width};
    size_t panels = ((size_t)x->cols + (size_t)x->width - 1) / (size_t)x->width;
    /* gemm.cl: with trans, 16 x 16 blocks (width 32) */
    size_t items = x->trans ? ((size_t)x->rows + 15) / 16 : (size_t)x->rows;
    /* on CPU devices one fixed work-group shape (the kernel checks its range): POCL compiles a
     * kernel once per local size, and leaving it to POCL made ~40 variants of gemm_pack */
    const int fixed = clnn__cpu_path(ctx);
    size_t local[3] = {PACK_WG, 1, 1};
    size_t global[3] = {fixed ? (items + PACK_WG - 1) / PACK_WG * PACK_WG : items,
                        x->trans ? panels * (size_t)x->width / 16 : panels, batch};
    cl_int err = set_args(k, 10, sizes, values);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, global, fixed ? local : NULL, 0, NULL,
                                     NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "gemm_pack of a %dx%d operand (batch %zu)", x->rows, x->cols,
                             batch);
    return CLNN_OK;
}

/* op(B) of a as gemm_pack's input: K rows of N columns, 32-column panels */
static pack_args pack_of_b(const clnn__gemm_args *a)
{
    pack_args x = {a->b,
                   (int)a->k,
                   (int)a->n,
                   a->trans_b,
                   (int)a->b_off,
                   (int)a->ldb,
                   a->batch > 1 ? (int)a->b_stride : 0,
                   32};
    return x;
}

/* op(A)^T of a GEMM with trans_a (A stored K x M) as gemm_pack's input: K rows of M columns,
 * panels of tm (the kernel's row tiles) */
static pack_args pack_of_a(const clnn__gemm_args *a, int tm)
{
    pack_args x = {a->a,
                   (int)a->k,
                   (int)a->m,
                   0,
                   (int)a->a_off,
                   (int)a->lda,
                   a->batch > 1 ? (int)a->a_stride : 0,
                   tm};
    return x;
}

int clnn__gemm_panels_ok(const clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *a)
{
    return node && clnn__gemm_own(ctx) && own_fits(a) && a->k > 0;
}

size_t clnn__gemm_panel_floats(size_t k, size_t n)
{
    return k * ((n + 31) / 32 * 32);
}

clnn_status clnn__gemm_pack_b(clnn_ctx *ctx, clnn_tensor *node, const clnn__gemm_args *a,
                              cl_mem dst, size_t off)
{
    if (!clnn__gemm_panels_ok(ctx, node, a) || a->batch != 1 ||
        off + clnn__gemm_panel_floats(a->k, a->n) > (size_t)INT_MAX)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "gemm_pack of a %zux%zu operand: only for one GEMM on the own SGEMM",
                          a->k, a->n);
    cl_kernel *kernels = NULL;
    clnn_status st = own_kernels(ctx, node, gemm_tm(ctx), &kernels);
    pack_args x = pack_of_b(a);
    return st ? st : enqueue_pack(ctx, kernels[1], &x, 1, dst, off);
}

/* C = act(alpha op(A) op(B) + beta C + bias) with gemm_tile (after gemm_pack for op(A)'s row
 * panels with trans_a) on node's kernels and ctx's packing buffer; the event of the last kernel in
 * *last when asked (profiling). The kernels are made again when the GEMM_TM they were built with
 * is no longer ctx's (a tuner switches it between runs). */
static clnn_status own_gemm(clnn_ctx *ctx, clnn_tensor *node, const clnn__gemm_args *a,
                            cl_event *last)
{
    cl_kernel *kernels = NULL;
    const int tm = gemm_tm(ctx);
    clnn_status st = own_kernels(ctx, node, tm, &kernels);
    if (st)
        return st;
    int M = (int)a->m, N = (int)a->n, K = (int)a->k, trans_a = a->trans_a;
    int one = a->batch > 1; /* the strides of a single GEMM may be anything */
    int oa = (int)a->a_off, lda = (int)a->lda, sa = one ? (int)a->a_stride : 0;
    int ob = (int)a->b_off, ldb = (int)a->ldb, sb = one ? (int)a->b_stride : 0;
    int oc = (int)a->c_off, ldc = (int)a->ldc, sc = one ? (int)a->c_stride : 0;
    size_t tiles = (a->n + 31) / 32, rows = (a->m + (size_t)tm - 1) / (size_t)tm;
    /* a work-item: one column tile down rpw row tiles (its panel stays in the cache). With fewer
     * column tiles than compute units (N <= 32: one work-item, so one core) the row tiles are
     * split into as many parts as that takes; each part packs its own copy of the panel. */
    size_t cu = ctx->info.compute_units ? ctx->info.compute_units : 1;
    size_t parts = tiles * a->batch < cu ? (cu + tiles * a->batch - 1) / (tiles * a->batch) : 1;
    parts = parts < rows ? parts : rows;
    size_t rpw = (rows + parts - 1) / parts;
    parts = (rows + rpw - 1) / rpw;
    /* A^T with its rows lda apart: op(A) in row panels, (ceil(M / tm), K, tm) per batch, after
     * B's panels in the packing buffer, where several column tiles read them (with one, the
     * packing pass costs more than it saves) */
    const int apanel = trans_a && a->k > 0 && tiles >= 2;
    const size_t afloats = apanel ? a->k * rows * (size_t)tm * a->batch : 0;
    int panel = a->b_panels ? 1 : use_panels(a, rpw) ? 2 + a->trans_b : 0;
    /* each part's copy of the panels: at most PACK_SPLIT_FLOATS in all (a tall, thin GEMM on
     * many cores would otherwise hold cores x K x 32 floats), and oa, an int, must reach past them
     * (one part per column tile: own_fits bounds that) */
    const size_t set = panel >= 2 ? a->k * 32 * tiles * a->batch : 0;
    if (set && parts > 1) {
        size_t cap = PACK_SPLIT_FLOATS / set, room = ((size_t)INT_MAX - afloats) / set;
        cap = cap < room ? cap : room;
        if (parts > cap) {
            parts = cap ? cap : 1;
            rpw = (rows + parts - 1) / parts;
            parts = (rows + rpw - 1) / rpw;
        }
    }
    const size_t bfloats = set * parts;
    if (bfloats + afloats && (st = pack_buffer(ctx, node, (bfloats + afloats) * sizeof(float))))
        return st;
    if (panel == 1) /* packed by the caller (clnn__gemm_pack_b) */
        ldb = 32;
    cl_mem amem = a->a;
    if (apanel) {
        pack_args x = pack_of_a(a, tm);
        if ((st = enqueue_pack(ctx, kernels[1], &x, a->batch, ctx->gemm_pack, bfloats)))
            return st;
        amem = ctx->gemm_pack;
        oa = (int)bfloats;
        sa = (int)(a->k * rows * (size_t)tm);
        trans_a = 2; /* gemm.cl: A in row panels */
    }
    cl_kernel k = kernels[0];
    float alpha = a->alpha, beta = a->beta;
    /* without a bias the kernel's bias argument is C (never read), without panels P is C too */
    int obias = a->bias ? (int)a->bias_off : 0, epi = epilogue_code(a), per = (int)rpw;
    cl_mem bias = a->bias ? a->bias : a->c, scratch = bfloats ? ctx->gemm_pack : a->c;
    const size_t sizes[25] = {
        sizeof M,       sizeof N,       sizeof K,       sizeof alpha, sizeof beta,
        sizeof trans_a, sizeof(cl_mem), sizeof oa,      sizeof lda,   sizeof sa,
        sizeof(cl_mem), sizeof ob,      sizeof ldb,     sizeof sb,    sizeof panel,
        sizeof(cl_mem), sizeof oc,      sizeof ldc,     sizeof sc,    sizeof(cl_mem),
        sizeof obias,   sizeof epi,     sizeof(cl_mem), sizeof per,   sizeof a->act_alpha};
    const void *const values[25] = {&M,     &N,       &K,   &alpha,       &beta, &trans_a, &amem,
                                    &oa,    &lda,     &sa,  &a->b,        &ob,   &ldb,     &sb,
                                    &panel, &a->c,    &oc,  &ldc,         &sc,   &bias,    &obias,
                                    &epi,   &scratch, &per, &a->act_alpha};
    /* work-groups of one work-item on CPU devices: POCL compiles a kernel once per local size */
    size_t global[3] = {parts, tiles, a->batch}, local[3] = {1, 1, 1};
    const int fixed = clnn__cpu_path(ctx);
    cl_int err;
    if ((err = set_args(k, 25, sizes, values)) != CL_SUCCESS ||
        (err = clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, global, fixed ? local : NULL, 0, NULL,
                                      last)) != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "gemm_tile %zux%zux%zu (batch %zu)", a->m, a->n, a->k,
                             a->batch);
    return CLNN_OK;
}

/* The epilogue of a (CLBlast) GEMM as a pass of its own: C = act(C + bias) with gemm.cl's
 * gemm_epilogue. A rare path (a fused GEMM that the own kernels cannot index, or $CLNN_GEMM
 * changed after the graph was built: the builders fuse only where the own kernels run), so the
 * kernel is made per call and released once enqueued (the queue keeps it until it ran). */
static clnn_status epilogue_pass(clnn_ctx *ctx, const clnn__gemm_args *a, cl_event *last)
{
    if (a->m > INT_MAX || a->n > INT_MAX || (a->bias && a->bias_off + a->n > (size_t)INT_MAX) ||
        extent(a->c_off, a->m, a->n, a->ldc, a->c_stride, a->batch) > (size_t)INT_MAX)
        return clnn__fail(ctx, CLNN_ERR_UNSUPPORTED,
                          "GEMM epilogue (bias / activation) of a %zux%zu output (batch %zu): "
                          "larger than its int indexing reaches",
                          a->m, a->n, a->batch);
    cl_kernel k;
    clnn_status st = clnn__kernel_create(ctx, "gemm", NULL, "gemm_epilogue", &k);
    if (st)
        return st;
    int M = (int)a->m, N = (int)a->n, oc = (int)a->c_off, ldc = (int)a->ldc;
    int sc = a->batch > 1 ? (int)a->c_stride : 0, epi = epilogue_code(a);
    int obias = a->bias ? (int)a->bias_off : 0;
    cl_mem bias = a->bias ? a->bias : a->c;
    const size_t sizes[10] = {sizeof M,   sizeof N,           sizeof(cl_mem), sizeof oc,
                              sizeof ldc, sizeof sc,          sizeof(cl_mem), sizeof obias,
                              sizeof epi, sizeof a->act_alpha};
    const void *const values[10] = {&M,  &N,    &a->c,  &oc,  &ldc,
                                    &sc, &bias, &obias, &epi, &a->act_alpha};
    size_t global[3] = {a->n, a->m, a->batch};
    cl_int err = set_args(k, 10, sizes, values);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(ctx->queue, k, 3, NULL, global, NULL, 0, NULL, last);
    clReleaseKernel(k);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "gemm_epilogue of a %zux%zu output (batch %zu)", a->m, a->n,
                             a->batch);
    return CLNN_OK;
}

/* ---- GEMM --------------------------------------------------------------------------------- */
/* C = act(alpha op(A) op(B) + beta C + bias) on clnn's own kernels (own = 1) or CLBlast (then the
 * epilogue as a pass of its own), profiled as one span of node. */
static clnn_status gemm_with(clnn_ctx *ctx, clnn_tensor *node, const clnn__gemm_args *a, int own)
{
    if (!ctx->gemm_ready)
        clnn__tune_load(ctx);
    cl_event ev = NULL, before = NULL;
    cl_event *evp = ctx->profile ? &ev : NULL;
    /* CLBlast returns the event of its last kernel only: a marker before the call lets the
     * profile cover every kernel of the GEMM (the queue is in order) */
    if (ctx->profile && clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &before) != CL_SUCCESS)
        before = NULL;
    if (own) {
        clnn_status st = own_gemm(ctx, node, a, evp);
        if (st == CLNN_OK && ev)
            clnn__prof_record_span(ctx, node, before, ev);
        else if (before)
            clReleaseEvent(before);
        return st;
    }
    CLBlastTranspose ta = a->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = a->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode s;
    const int epilogue = epilogue_code(a) != 0;
    cl_event *gemm_evp = epilogue ? NULL : evp; /* the epilogue's event ends the span */
    if (a->batch <= 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, a->m, a->n, a->k, a->alpha, a->a, a->a_off,
                         a->lda, a->b, a->b_off, a->ldb, a->beta, a->c, a->c_off, a->ldc,
                         &ctx->queue, gemm_evp);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, a->m, a->n, a->k, a->alpha,
                                       a->a, a->a_off, a->lda, a->a_stride, a->b, a->b_off, a->ldb,
                                       a->b_stride, a->beta, a->c, a->c_off, a->ldc, a->c_stride,
                                       a->batch, &ctx->queue, gemm_evp);
    if (s == CLBlastSuccess && epilogue) {
        clnn_status st = epilogue_pass(ctx, a, evp);
        if (st != CLNN_OK) {
            if (before)
                clReleaseEvent(before);
            return st;
        }
    }
    if (s != CLBlastSuccess) {
        if (before)
            clReleaseEvent(before);
        char what[160];
        snprintf(what, sizeof what, "CLBlast SGEMM %zux%zux%zu (batch %zu)", a->m, a->n, a->k,
                 a->batch);
        return clnn__clblast_fail(ctx, s, what);
    }
    if (ev)
        clnn__prof_record_span(ctx, node, before, ev);
    else if (before)
        clReleaseEvent(before);
    return CLNN_OK;
}

clnn_status clnn__gemm(clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *a)
{
    /* the node owns the own kernels' objects: a node's GEMMs are enqueued one after another */
    clnn_tensor *owner = (clnn_tensor *)node;
    int own = node && clnn__gemm_own(ctx) && own_fits(a);
    if (a->b_panels && !own) /* only the own kernels read panels */
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "GEMM %zux%zux%zu: B is in panels, which CLBlast cannot read", a->m, a->n,
                          a->k);
    return gemm_with(ctx, owner, a, own);
}

clnn_status clnn__gemm_clblast(clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *a)
{
    if (a->b_panels)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "GEMM %zux%zux%zu: B is in panels, which CLBlast cannot read", a->m, a->n,
                          a->k);
    return gemm_with(ctx, (clnn_tensor *)node, a, 0);
}
