/* keyfile.c — the small text files clnn keeps per device in its cache directory (the tuning
 * files of gemm.c and tune_own.c): a head of key lines (the format's magic line, then what the
 * file is valid for: platform, device, driver), a body, and a last line "checksum <FNV-1a 64 of
 * every byte before it>". Written to a temporary file, flushed, synced and renamed over the
 * old one, so a crash never leaves half a file; read back only when the head matches this
 * device exactly and the checksum holds. What the body means is the caller's business. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

void clnn__make_dirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    mkdir(path, 0755);
}

void clnn__keyfile_head(const clnn_ctx *ctx, const char *magic, const char *extra, char *buf,
                        size_t size)
{
    snprintf(buf, size, "%s\nplatform %s\ndevice %s\ndriver %s\ndevice-version %s\n%s", magic,
             ctx->info.platform_name, ctx->info.name, ctx->info.driver_version,
             ctx->info.device_version, extra ? extra : "");
}

int clnn__keyfile_path(const clnn_ctx *ctx, const char *prefix, const char *head, char *path,
                       size_t size)
{
    path[0] = 0;
    if (!ctx->cache_dir)
        return -1;
    /* the hash covers the key lines after the magic line: the device the file is valid for */
    const char *key = strchr(head, '\n');
    key = key ? key + 1 : head;
    uint64_t h = clnn__fnv1a(CLNN__FNV_INIT, key, strlen(key));
    int w =
        snprintf(path, size, "%s/%s-%016llx.tune", ctx->cache_dir, prefix, (unsigned long long)h);
    return w > 0 && (size_t)w < size ? 0 : -1;
}

clnn_status clnn__keyfile_write(clnn_ctx *ctx, const char *path, const char *head, const char *body,
                                const char *what)
{
    size_t cap = strlen(head) + strlen(body) + 64;
    if (cap > CLNN__KEYFILE_MAX_BYTES)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: %zu bytes, more than the %d a file may hold",
                          what, cap, CLNN__KEYFILE_MAX_BYTES);
    char *text = malloc(cap);
    if (!text)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory for the %s", what);
    int len = snprintf(text, cap, "%s%s", head, body);
    snprintf(text + len, cap - (size_t)len, "checksum %016llx\n",
             (unsigned long long)clnn__fnv1a(CLNN__FNV_INIT, text, (size_t)len));
    size_t n = strlen(text);

    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        clnn__make_dirs(dir);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    errno = 0;
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int ok = f && fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (f)
        ok = (fclose(f) == 0) && ok;
    else if (fd >= 0)
        close(fd);
    free(text);
    if (ok && rename(tmp, path) == 0)
        return CLNN_OK;
    err = errno ? errno : err;
    if (fd >= 0)
        unlink(tmp);
    return clnn__fail(ctx, CLNN_ERR_IO, "cannot write the %s '%s': %s", what, path,
                      strerror(err ? err : EIO));
}

int clnn__keyfile_read(const char *path, const char *head, char **body, char *why, size_t why_size)
{
    *body = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, why_size, "cannot open it: %s", strerror(errno));
        return -1;
    }
    char *text = malloc(CLNN__KEYFILE_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, CLNN__KEYFILE_MAX_BYTES + 1, f) : 0;
    int bad_read = ferror(f);
    fclose(f);
    if (!text || bad_read || len > CLNN__KEYFILE_MAX_BYTES) {
        snprintf(why, why_size, "%s",
                 !text      ? "out of host memory"
                 : bad_read ? "read error"
                            : "it is too large to be one");
        free(text);
        return -1;
    }
    text[len] = 0;
    /* the checksum line is the last one and covers everything before it */
    char *cs = len >= 2 ? text + len - 2 : text;
    while (cs > text && cs[-1] != '\n')
        cs--;
    size_t magic_len = strcspn(head, "\n") + 1;
    unsigned long long sum = 0;
    int n = 0, r = -1;
    if (strlen(text) != len)
        snprintf(why, why_size, "it holds a NUL byte: not a tuning file");
    else if (strncmp(text, head, magic_len))
        snprintf(why, why_size,
                 "it does not start with '%.*s': not a tuning file of this clnn version",
                 (int)magic_len - 1, head);
    else if (len == 0 || text[len - 1] != '\n' || sscanf(cs, "checksum %16llx%n", &sum, &n) != 1 ||
             cs[n] != '\n')
        snprintf(why, why_size, "it is truncated (no checksum line at the end)");
    else if (sum != clnn__fnv1a(CLNN__FNV_INIT, text, (size_t)(cs - text)))
        snprintf(why, why_size, "its checksum does not match (damaged or edited)");
    else if (strncmp(text, head, strlen(head))) {
        /* name the first key line that differs */
        const char *a = text, *b = head;
        while (*a == *b && *a) {
            const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');
            if (!na || !nb || na - a != nb - b || strncmp(a, b, (size_t)(na - a)))
                break;
            a = na + 1;
            b = nb + 1;
        }
        snprintf(why, why_size,
                 "it was made for another device or driver: file says '%.*s', this is '%.*s'",
                 (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
    } else {
        size_t hl = strlen(head);
        *cs = 0; /* the body ends before the checksum line */
        memmove(text, text + hl, (size_t)(cs - text) - hl + 1);
        *body = text;
        return 1;
    }
    free(text);
    return r;
}
