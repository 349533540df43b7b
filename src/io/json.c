/* json.c — strict JSON (RFC 8259) for the safetensors header and the model metadata of src/nn:
 * a parser into a read-only tree and a writer into a growing text buffer (clnn__buf).
 *
 * The parser is iterative (an explicit stack of at most 64 open containers, no recursion) and
 * allocates O(input): every value takes at least one byte of text, decoded strings are never
 * longer than their text. The tree lives in one document: the nodes in one array (the root is
 * node 0, so freeing the root frees everything), the children of every array and object as a
 * contiguous run of node indices (objects: key node, value node, key node, ...), and the decoded
 * strings, NUL-terminated, in one character pool. Strings are validated as UTF-8 (no overlong
 * forms, no encoded surrogates, nothing above U+10FFFF), \u escapes must pair surrogates and may
 * not be \u0000 (the values are C strings); duplicate keys are found per object by sorting its
 * keys when it closes. Numbers follow the JSON grammar; a non-integer is converted by strtod in
 * the C locale (uselocale, so a program's locale with a decimal comma changes nothing), an
 * integer token is also kept exactly when it fits int64. Every error is CLNN_ERR_FORMAT with
 * "<src>: expected ..., got ... at byte N" (N counted from 0 in the text given). */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define JSON_MAX_DEPTH 64

typedef struct json_doc json_doc;

struct clnn__json {
    json_doc *doc;
    unsigned char type;    /* clnn__json_type */
    unsigned char int_ok;  /* an integer that fits int64: u.num.i */
    unsigned char uint_ok; /* a non-negative integer that fits uint64: u.num.u */
    union {
        struct {
            size_t n;  /* array: elements, object: members, string: length */
            size_t at; /* array/object: first index in doc->kids, string: offset in doc->chars */
        } c;
        struct {
            double d;
            int64_t i;
            uint64_t u;
        } num;
    } u;
};

struct json_doc {
    clnn__json *nodes;
    size_t nnodes, cap_nodes;
    size_t *kids; /* node indices, the children of each container contiguous */
    size_t nkids, cap_kids;
    char *chars; /* the strings, each NUL-terminated */
    size_t nchars, cap_chars;
};

/* A finished value waiting for its container to close: its node and where its text began. */
typedef struct pending {
    size_t node, pos;
} pending;

typedef struct frame {
    size_t node;  /* the container */
    size_t first; /* its first entry in the pending stack */
    int object;
} frame;

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    const char *src;
    char *err;
    size_t err_size;
    json_doc *doc;
    pending *pend;
    size_t npend, cap_pend;
    locale_t c_locale; /* created when the first non-integer number is met */
} parser;

/* ---- allocation --------------------------------------------------------------------------- */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return 0;
        ncap *= 2;
    }
    void *n = realloc(*p, ncap * elem);
    if (!n)
        return 0;
    *p = n;
    *cap = ncap;
    return 1;
}

static clnn_status oom(parser *p)
{
    return clnn__io_fail(p->err, p->err_size, CLNN_ERR_NOMEM, "%s: out of host memory", p->src);
}

/* A new node of the given type; its index in *out. */
static clnn_status new_node(parser *p, clnn__json_type type, size_t *out)
{
    json_doc *d = p->doc;
    if (!grow((void **)&d->nodes, &d->cap_nodes, d->nnodes + 1, sizeof *d->nodes))
        return oom(p);
    clnn__json *v = &d->nodes[d->nnodes];
    memset(v, 0, sizeof *v);
    v->doc = d;
    v->type = (unsigned char)type;
    *out = d->nnodes++;
    return CLNN_OK;
}

static int put_chars(json_doc *d, const void *bytes, size_t n)
{
    if (!grow((void **)&d->chars, &d->cap_chars, d->nchars + n, 1))
        return 0;
    memcpy(d->chars + d->nchars, bytes, n);
    d->nchars += n;
    return 1;
}

/* ---- errors ------------------------------------------------------------------------------- */
/* What is at byte pos, for "got ...": "end of input", 'c' or byte 0xNN. */
static const char *describe(const parser *p, size_t pos, char buf[24])
{
    if (pos >= p->len)
        return "end of input";
    unsigned char c = p->s[pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 24, "'%c'", c);
    else
        snprintf(buf, 24, "byte 0x%02X", c);
    return buf;
}

/* "<src>: expected <what>, got <the byte at pos> at byte <pos>" */
static clnn_status fail_at(parser *p, size_t pos, const char *what)
{
    char buf[24];
    return clnn__io_fail(p->err, p->err_size, CLNN_ERR_FORMAT,
                         "%s: expected %s, got %s at byte %zu", p->src, what, describe(p, pos, buf),
                         pos);
}

static clnn_status fail(parser *p, const char *fmt, ...) CLNN__PRINTF(2, 3);
static clnn_status fail(parser *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clnn__io_fail(p->err, p->err_size, CLNN_ERR_FORMAT, "%s: %s", p->src, msg);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

/* ---- strings ------------------------------------------------------------------------------ */
static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if (c >= 'a' && c <= 'f')
            h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            h = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + h;
    }
    *out = v;
    return 1;
}

/* Reads \uXXXX at p->pos (the backslash); the code unit in *u. */
static clnn_status read_u_escape(parser *p, unsigned *u)
{
    size_t at = p->pos;
    if (p->len - at < 6 || !hex4(p->s + at + 2, u)) {
        size_t bad = at + 2;
        unsigned ignored;
        while (bad < p->len && bad < at + 6) {
            unsigned char q[4] = {'0', '0', '0', p->s[bad]};
            if (!hex4(q, &ignored))
                break;
            bad++;
        }
        return fail_at(p, bad, "4 hex digits after \\u");
    }
    p->pos += 6;
    return CLNN_OK;
}

static void put_utf8(unsigned char *out, unsigned cp, size_t *n)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        *n = 1;
    } else if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        *n = 2;
    } else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        *n = 3;
    } else {
        out[0] = (unsigned char)(0xF0 | cp >> 18);
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (unsigned char)(0x80 | (cp & 0x3F));
        *n = 4;
    }
}

/* Checks the UTF-8 sequence starting at p->pos (a byte >= 0x80) and returns its length, or 0
 * after writing the error. */
static size_t utf8_seq(parser *p)
{
    const unsigned char *s = p->s + p->pos;
    size_t left = p->len - p->pos;
    unsigned c = s[0], cp;
    size_t n;
    if (c < 0xC0) {
        fail(p, "expected valid UTF-8, got a stray continuation byte 0x%02X at byte %zu", c,
             p->pos);
        return 0;
    }
    if (c >= 0xF8) {
        fail(p, "expected valid UTF-8, got byte 0x%02X (never used in UTF-8) at byte %zu", c,
             p->pos);
        return 0;
    }
    n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if (i >= left || (s[i] & 0xC0) != 0x80) {
            char buf[24];
            fail(p,
                 "expected valid UTF-8, got a sequence cut short (lead byte 0x%02X, then %s) "
                 "at byte %zu",
                 c, describe(p, p->pos + i, buf), p->pos);
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n]) {
        fail(p, "expected valid UTF-8, got an overlong encoding of U+%04X at byte %zu", cp, p->pos);
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        fail(p, "expected valid UTF-8, got an encoded surrogate U+%04X at byte %zu", cp, p->pos);
        return 0;
    }
    if (cp > 0x10FFFF) {
        fail(p, "expected valid UTF-8, got a code point above U+10FFFF at byte %zu", p->pos);
        return 0;
    }
    return n;
}

/* Parses the string at p->pos (the opening quote) into a new string node. */
static clnn_status parse_string(parser *p, size_t *out)
{
    size_t start = p->pos;
    json_doc *d = p->doc;
    size_t offset = d->nchars;
    p->pos++;
    for (;;) {
        /* copy the run of plain characters at once */
        size_t run = p->pos;
        while (run < p->len && p->s[run] >= 0x20 && p->s[run] < 0x80 && p->s[run] != '"' &&
               p->s[run] != '\\')
            run++;
        if (run > p->pos && !put_chars(d, p->s + p->pos, run - p->pos))
            return oom(p);
        p->pos = run;
        if (p->pos >= p->len)
            return fail(p,
                        "expected a closing '\"' of the string opened at byte %zu, got end of "
                        "input at byte %zu",
                        start, p->pos);
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return fail(p,
                        "expected a control character in a string to be escaped (\\u%04X), got "
                        "byte 0x%02X at byte %zu",
                        c, c, p->pos);
        if (c >= 0x80) {
            size_t n = utf8_seq(p);
            if (!n)
                return CLNN_ERR_FORMAT;
            if (!put_chars(d, p->s + p->pos, n))
                return oom(p);
            p->pos += n;
            continue;
        }
        /* a backslash */
        size_t at = p->pos;
        char e = at + 1 < p->len ? (char)p->s[at + 1] : 0;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            if (!put_chars(d, &to[hit - from], 1))
                return oom(p);
            p->pos += 2;
            continue;
        }
        if (e != 'u')
            return fail_at(p, at + 1,
                           "an escape \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX after '\\'");
        unsigned u, cp;
        clnn_status s = read_u_escape(p, &u);
        if (s != CLNN_OK)
            return s;
        if (u == 0)
            return fail(p,
                        "expected no \\u0000 in a string (strings are C strings here), got "
                        "\\u0000 at byte %zu",
                        at);
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(p,
                        "expected a character, got an unpaired low surrogate \\u%04X at byte %zu",
                        u, at);
        cp = u;
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo = 0;
            size_t at2 = p->pos;
            if (p->len - at2 < 6 || p->s[at2] != '\\' || p->s[at2 + 1] != 'u' ||
                !hex4(p->s + at2 + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return fail(p,
                            "expected a low surrogate \\uDC00-\\uDFFF after the high surrogate "
                            "\\u%04X at byte %zu, got none at byte %zu",
                            u, at, at2);
            p->pos += 6;
            cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        unsigned char enc[4];
        size_t n;
        put_utf8(enc, cp, &n);
        if (!put_chars(d, enc, n))
            return oom(p);
    }
    if (!put_chars(d, "", 1))
        return oom(p);
    clnn_status s = new_node(p, CLNN__JSON_STRING, out);
    if (s != CLNN_OK)
        return s;
    d->nodes[*out].u.c.n = d->nchars - 1 - offset;
    d->nodes[*out].u.c.at = offset;
    return CLNN_OK;
}

/* ---- numbers ------------------------------------------------------------------------------ */
static int is_digit(const parser *p, size_t i)
{
    return i < p->len && p->s[i] >= '0' && p->s[i] <= '9';
}

static clnn_status parse_number(parser *p, size_t *out)
{
    size_t start = p->pos, i = p->pos;
    int neg = 0, integer = 1;
    if (p->s[i] == '-') {
        neg = 1;
        i++;
    }
    if (!is_digit(p, i))
        return fail_at(p, i, "a digit after '-'");
    if (p->s[i] == '0' && is_digit(p, i + 1))
        return fail(p,
                    "expected no leading zeros in a number, got a '0' followed by a digit at "
                    "byte %zu",
                    i);
    while (is_digit(p, i))
        i++;
    if (i < p->len && p->s[i] == '.') {
        integer = 0;
        i++;
        if (!is_digit(p, i))
            return fail_at(p, i, "a digit after the '.' of a number");
        while (is_digit(p, i))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integer = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (!is_digit(p, i))
            return fail_at(p, i, "a digit in the exponent of a number");
        while (is_digit(p, i))
            i++;
    }
    p->pos = i;
    clnn_status s = new_node(p, CLNN__JSON_NUMBER, out);
    if (s != CLNN_OK)
        return s;
    clnn__json *v = &p->doc->nodes[*out];
    if (integer) {
        /* exact when it fits int64, or uint64 when not negative (seeds are uint64) */
        uint64_t m = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : UINT64_MAX;
        int fits = 1;
        for (size_t k = start + (size_t)neg; k < i && fits; k++) {
            unsigned dgt = p->s[k] - '0';
            if (m > (limit - dgt) / 10)
                fits = 0;
            else
                m = m * 10 + dgt;
        }
        if (fits) {
            v->uint_ok = !neg;
            v->u.num.u = neg ? 0 : m;
            v->int_ok = neg || m <= (uint64_t)INT64_MAX;
            if (neg)
                v->u.num.i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
            else if (v->int_ok)
                v->u.num.i = (int64_t)m;
            v->u.num.d = v->int_ok ? (double)v->u.num.i : (double)m;
            if (neg && m == 0)
                v->u.num.d = -0.0;
            return CLNN_OK;
        }
    }
    /* strtod on a NUL-terminated copy, in the C locale whatever the program's locale */
    size_t n = i - start;
    char small[64], *tok = n < sizeof small ? small : malloc(n + 1);
    if (!tok)
        return oom(p);
    memcpy(tok, p->s + start, n);
    tok[n] = '\0';
    if (!p->c_locale) {
        p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!p->c_locale) {
            if (tok != small)
                free(tok);
            return oom(p);
        }
    }
    locale_t old = uselocale(p->c_locale);
    errno = 0;
    double dv = strtod(tok, NULL);
    int range = errno == ERANGE;
    uselocale(old);
    if (tok != small)
        free(tok);
    if (range && fabs(dv) > 1.0) /* an underflow to 0 or a subnormal is fine */
        return fail(p, "expected a number within the range of a double, got %.*s%s at byte %zu",
                    (int)(n > 40 ? 40 : n), (const char *)p->s + start, n > 40 ? "..." : "", start);
    v = &p->doc->nodes[*out];
    v->u.num.d = dv;
    return CLNN_OK;
}

/* ---- containers --------------------------------------------------------------------------- */
static clnn_status push_pending(parser *p, size_t node, size_t pos)
{
    if (!grow((void **)&p->pend, &p->cap_pend, p->npend + 1, sizeof *p->pend))
        return oom(p);
    p->pend[p->npend].node = node;
    p->pend[p->npend].pos = pos;
    p->npend++;
    return CLNN_OK;
}

typedef struct key_ref {
    const char *key;
    size_t len, pos;
} key_ref;

static int cmp_key(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The members of an object are pend[first ..] (key, value, key, value, ...): any key twice? */
static clnn_status check_duplicates(parser *p, size_t first, size_t members)
{
    if (members < 2)
        return CLNN_OK;
    key_ref small[16], *keys = members <= 16 ? small : malloc(members * sizeof *keys);
    if (!keys)
        return oom(p);
    json_doc *d = p->doc;
    for (size_t m = 0; m < members; m++) {
        const pending *k = &p->pend[first + 2 * m];
        const clnn__json *kn = &d->nodes[k->node];
        keys[m].key = d->chars + kn->u.c.at;
        keys[m].len = kn->u.c.n;
        keys[m].pos = k->pos;
    }
    qsort(keys, members, sizeof *keys, cmp_key);
    size_t dup = SIZE_MAX, first_pos = 0;
    const char *name = NULL;
    for (size_t m = 1; m < members; m++)
        if (keys[m].len == keys[m - 1].len && !memcmp(keys[m].key, keys[m - 1].key, keys[m].len) &&
            keys[m].pos < dup) {
            dup = keys[m].pos;
            first_pos = keys[m - 1].pos;
            name = keys[m].key;
        }
    clnn_status s = CLNN_OK;
    if (name)
        s = fail(p,
                 "expected unique keys in an object, got \"%.80s\" again at byte %zu (first at "
                 "byte %zu)",
                 name, dup, first_pos);
    if (keys != small)
        free(keys);
    return s;
}

/* Closes the container of the top frame: its pending children become a run of doc->kids. */
static clnn_status close_container(parser *p, const frame *f)
{
    json_doc *d = p->doc;
    size_t count = p->npend - f->first;
    if (f->object) {
        clnn_status s = check_duplicates(p, f->first, count / 2);
        if (s != CLNN_OK)
            return s;
    }
    if (!grow((void **)&d->kids, &d->cap_kids, d->nkids + count, sizeof *d->kids))
        return oom(p);
    for (size_t k = 0; k < count; k++)
        d->kids[d->nkids + k] = p->pend[f->first + k].node;
    clnn__json *v = &d->nodes[f->node];
    v->u.c.at = d->nkids;
    v->u.c.n = f->object ? count / 2 : count;
    d->nkids += count;
    p->npend = f->first;
    return CLNN_OK;
}

static clnn_status literal(parser *p, const char *word, clnn__json_type type, size_t *out)
{
    size_t n = strlen(word);
    for (size_t k = 0; k < n; k++)
        if (p->pos + k >= p->len || p->s[p->pos + k] != (unsigned char)word[k]) {
            char what[32];
            snprintf(what, sizeof what, "the literal '%s'", word);
            return fail_at(p, p->pos + k, what);
        }
    p->pos += n;
    return new_node(p, type, out);
}

static clnn_status parse(parser *p)
{
    frame stack[JSON_MAX_DEPTH];
    int depth = 0;
    clnn_status s;
    size_t v, vpos;
    for (;;) {
        /* a value */
        skip_ws(p);
        vpos = p->pos;
        if (p->pos >= p->len)
            return fail_at(p, p->pos, "a JSON value");
        unsigned char c = p->s[p->pos];
        if (c == '{' || c == '[') {
            if (depth == JSON_MAX_DEPTH)
                return fail(p,
                            "expected arrays and objects nested at most %d deep, got a "
                            "deeper '%c' at byte %zu",
                            JSON_MAX_DEPTH, c, p->pos);
            s = new_node(p, c == '{' ? CLNN__JSON_OBJECT : CLNN__JSON_ARRAY, &v);
            if (s != CLNN_OK)
                return s;
            stack[depth].node = v;
            stack[depth].first = p->npend;
            stack[depth].object = c == '{';
            depth++;
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == (c == '{' ? '}' : ']')) {
                p->pos++;
                depth--;
                s = close_container(p, &stack[depth]);
                if (s != CLNN_OK)
                    return s;
                goto value_done;
            }
            if (c == '[')
                continue; /* the first element */
            goto key;
        }
        if (c == '"')
            s = parse_string(p, &v);
        else if (c == '-' || (c >= '0' && c <= '9'))
            s = parse_number(p, &v);
        else if (c == 't')
            s = literal(p, "true", CLNN__JSON_TRUE, &v);
        else if (c == 'f')
            s = literal(p, "false", CLNN__JSON_FALSE, &v);
        else if (c == 'n')
            s = literal(p, "null", CLNN__JSON_NULL, &v);
        else
            return fail_at(p, p->pos, "a JSON value");
        if (s != CLNN_OK)
            return s;

    value_done:
        /* v (which began at vpos) is complete */
        if (depth == 0) {
            skip_ws(p);
            if (p->pos < p->len)
                return fail_at(p, p->pos, "the end of the JSON text (only whitespace after it)");
            return CLNN_OK;
        }
        s = push_pending(p, v, vpos);
        if (s != CLNN_OK)
            return s;
        skip_ws(p);
        {
            frame *f = &stack[depth - 1];
            char close = f->object ? '}' : ']';
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                if (!f->object)
                    continue; /* the next element */
                goto key;
            }
            if (p->pos < p->len && p->s[p->pos] == (unsigned char)close) {
                p->pos++;
                depth--;
                s = close_container(p, f);
                if (s != CLNN_OK)
                    return s;
                v = f->node;
                vpos = 0; /* unused: containers are never keys */
                goto value_done;
            }
            return fail_at(p, p->pos,
                           f->object ? "',' or '}' after an object member"
                                     : "',' or ']' after an array element");
        }

    key:
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"')
            return fail_at(p, p->pos, "a string key of an object member");
        vpos = p->pos;
        s = parse_string(p, &v);
        if (s != CLNN_OK)
            return s;
        s = push_pending(p, v, vpos);
        if (s != CLNN_OK)
            return s;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return fail_at(p, p->pos, "':' after an object key");
        p->pos++;
    }
}

clnn_status clnn__json_parse(const char *text, size_t len, const char *src, clnn__json **out,
                             char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!src)
        src = "<json>";
    if (!out || (!text && len))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn__json_parse: expected text and an out pointer, given NULL");
    *out = NULL;
    parser p = {
        .s = (const unsigned char *)text, .len = len, .src = src, .err = err, .err_size = err_size};
    p.doc = calloc(1, sizeof *p.doc);
    if (!p.doc)
        return oom(&p);
    clnn_status s = parse(&p);
    free(p.pend);
    if (p.c_locale)
        freelocale(p.c_locale);
    if (s != CLNN_OK) {
        free(p.doc->nodes);
        free(p.doc->kids);
        free(p.doc->chars);
        free(p.doc);
        return s;
    }
    *out = &p.doc->nodes[0];
    return CLNN_OK;
}

void clnn__json_free(clnn__json *v)
{
    if (!v)
        return;
    json_doc *d = v->doc;
    free(d->nodes);
    free(d->kids);
    free(d->chars);
    free(d);
}

clnn__json_type clnn__json_type_of(const clnn__json *v)
{
    return v ? (clnn__json_type)v->type : CLNN__JSON_NULL;
}

size_t clnn__json_len(const clnn__json *v)
{
    return v && (v->type == CLNN__JSON_ARRAY || v->type == CLNN__JSON_OBJECT) ? v->u.c.n : 0;
}

const clnn__json *clnn__json_at(const clnn__json *v, size_t i)
{
    if (!v || i >= clnn__json_len(v))
        return NULL;
    size_t k = v->u.c.at + (v->type == CLNN__JSON_OBJECT ? 2 * i + 1 : i);
    return &v->doc->nodes[v->doc->kids[k]];
}

const char *clnn__json_key_at(const clnn__json *obj, size_t i)
{
    if (!obj || obj->type != CLNN__JSON_OBJECT || i >= obj->u.c.n)
        return NULL;
    return clnn__json_string(&obj->doc->nodes[obj->doc->kids[obj->u.c.at + 2 * i]]);
}

const clnn__json *clnn__json_get(const clnn__json *obj, const char *key)
{
    if (!obj || !key || obj->type != CLNN__JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->u.c.n; i++)
        if (!strcmp(clnn__json_key_at(obj, i), key))
            return clnn__json_at(obj, i);
    return NULL;
}

const char *clnn__json_string(const clnn__json *v)
{
    return v && v->type == CLNN__JSON_STRING ? v->doc->chars + v->u.c.at : NULL;
}

double clnn__json_number(const clnn__json *v)
{
    return v && v->type == CLNN__JSON_NUMBER ? v->u.num.d : 0.0;
}

int64_t clnn__json_int(const clnn__json *v, int *ok)
{
    int good = v && v->type == CLNN__JSON_NUMBER && v->int_ok;
    if (ok)
        *ok = good;
    return good ? v->u.num.i : 0;
}

uint64_t clnn__json_uint(const clnn__json *v, int *ok)
{
    int good = v && v->type == CLNN__JSON_NUMBER && v->uint_ok;
    if (ok)
        *ok = good;
    return good ? v->u.num.u : 0;
}

/* ---- the writer --------------------------------------------------------------------------- */
static void buf_append(clnn__buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= SIZE_MAX - b->len || !grow((void **)&b->data, &b->cap, b->len + n + 1, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void clnn__buf_printf(clnn__buf *b, const char *fmt, ...)
{
    if (!b || b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t avail = b->data ? b->cap - b->len : 0;
    int n = vsnprintf(b->data ? b->data + b->len : NULL, avail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n >= avail) {
        if ((size_t)n >= SIZE_MAX - b->len ||
            !grow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1)) {
            b->oom = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void clnn__buf_json_string(clnn__buf *b, const char *s)
{
    if (!b)
        return;
    if (!s) {
        buf_append(b, "null", 4);
        return;
    }
    buf_append(b, "\"", 1);
    while (*s) {
        size_t run = 0;
        while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
            run++;
        buf_append(b, s, run);
        s += run;
        if (!*s)
            break;
        unsigned char c = (unsigned char)*s++;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            buf_append(b, e, 2);
        } else {
            char e[8];
            snprintf(e, sizeof e, "\\u%04X", c);
            buf_append(b, e, 6);
        }
    }
    buf_append(b, "\"", 1);
}

void clnn__buf_free(clnn__buf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

const char *clnn__json_type_name(const clnn__json *v)
{
    switch (clnn__json_type_of(v)) {
    case CLNN__JSON_NULL:
        return "null";
    case CLNN__JSON_FALSE:
    case CLNN__JSON_TRUE:
        return "a boolean";
    case CLNN__JSON_NUMBER:
        return "a number";
    case CLNN__JSON_STRING:
        return "a string";
    case CLNN__JSON_ARRAY:
        return "an array";
    case CLNN__JSON_OBJECT:
        return "an object";
    }
    return "something else";
}
