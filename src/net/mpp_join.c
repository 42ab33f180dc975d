/*  The join string, and what a run says about its host (see mpp_net.h).
 *
 *  The string carries the secret token, so the collector writes it to a
 *  0600 file as well as to its stdout; a run may take "@FILE" instead of
 *  the string, which keeps the token out of `ps`.
 */
#include "mpp_net.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define S_PREFIX "mpprof1,"
#define S_INSECURE "insecure"

static int
s_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes exactly 2 * n hex characters from `s` into out. */
static bool
s_unhex(const char *s, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = s_hexval(s[2 * i]), lo = s_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Reads the first line of a file, at most cap - 1 bytes of it. */
static int
s_read_line(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n = read(fd, buf, cap - 1);
    int err = errno;
    close(fd);
    if (n < 0) {
        return -err;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int
mpp_join_parse(const char *text, mpp_join_t *out, const char **why)
{
    char line[MPP_NET_MAX_ENDPOINT + 256];
    *why = "not a join string (mpprof1,ENDPOINT,KEY,TOKEN)";
    memset(out, 0, sizeof(*out));
    if (text[0] == '@') {
        int rc = s_read_line(text + 1, line, sizeof(line));
        if (rc != 0) {
            *why = "cannot read the join file";
            return rc;
        }
        text = line;
    }
    if (strncmp(text, S_PREFIX, strlen(S_PREFIX)) != 0) {
        return MPP_EINVAL;
    }
    const char *ep = text + strlen(S_PREFIX);
    const char *key = strchr(ep, ',');
    const char *tok = key != NULL ? strchr(key + 1, ',') : NULL;
    if (tok == NULL || strchr(tok + 1, ',') != NULL) {
        return MPP_EINVAL;
    }
    size_t eplen = (size_t)(key - ep);
    if (eplen == 0 || eplen > MPP_NET_MAX_ENDPOINT ||
        strncmp(ep, "tcp://", 6) != 0) {
        *why = "its endpoint is not tcp://HOST:PORT";
        return MPP_EINVAL;
    }
    memcpy(out->endpoint, ep, eplen);
    key++;
    size_t keylen = (size_t)(tok - key);
    if (keylen == strlen(S_INSECURE) &&
        strncmp(key, S_INSECURE, keylen) == 0) {
        out->secure = false;
    }
    else if (s_unhex(key, keylen, out->key, MPP_NET_KEY_LEN)) {
        out->secure = true;
    }
    else {
        *why = "its server key is not 64 hex characters";
        return MPP_EINVAL;
    }
    tok++;
    uint8_t raw[MPP_TOKEN_LEN / 2];
    if (!s_unhex(tok, strlen(tok), raw, sizeof(raw))) {
        *why = "its token is not 32 hex characters";
        return MPP_EINVAL;
    }
    memcpy(out->token, tok, MPP_TOKEN_LEN);
    for (size_t i = 0; i < MPP_TOKEN_LEN; i++) {
        out->token[i] = (char)tolower((unsigned char)out->token[i]);
    }
    *why = NULL;
    return 0;
}

int
mpp_join_format(const mpp_join_t *j, char *buf, size_t cap)
{
    char key[2 * MPP_NET_KEY_LEN + 1] = S_INSECURE;
    if (j->secure) {
        for (size_t i = 0; i < MPP_NET_KEY_LEN; i++) {
            snprintf(key + 2 * i, 3, "%02x", j->key[i]);
        }
    }
    int n = snprintf(buf, cap, S_PREFIX "%s,%s,%s", j->endpoint, key,
                     j->token);
    return n < 0 || (size_t)n >= cap ? MPP_EINVAL : n;
}

int
mpp_random_hex(char *buf, size_t n)
{
    unsigned char raw[64];
    if (n > sizeof(raw)) {
        return MPP_EINVAL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(raw + got, n - got, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -EIO;
        }
        got += (size_t)r;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

void
mpp_host_name(char *buf, size_t cap)
{
    const char *env = getenv("MPPROF_HOST");
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, cap, "%s", env);
    }
    else if (gethostname(buf, cap) != 0 || buf[0] == '\0') {
        snprintf(buf, cap, "%s", "localhost");
    }
    buf[cap - 1] = '\0';
    /* The name goes into reports: no control characters, no commas. */
    for (char *c = buf; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = '?';
        }
    }
}

bool
mpp_host_rank(int64_t *rank)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK",
                                       "PMIX_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        char *end;
        if (v == NULL || v[0] == '\0') {
            continue;
        }
        errno = 0;
        long long r = strtoll(v, &end, 10);
        if (errno == 0 && *end == '\0' && r >= 0 && r <= INT32_MAX) {
            *rank = r;
            return true;
        }
    }
    return false;
}
