/*  Formatting helpers the reports and `compare` share, in one place:
 *  names from the profiled program made safe to print, columns,
 *  paragraphs and numbers for people, and JSON values.
 */
#include "mpp_report_priv.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- safe text ---------------------------------------------------------- */

/*  Names come from the profiled program: invalid UTF-8 becomes U+FFFD and
 *  control characters '?', so a name can neither garble the terminal nor
 *  differ from what pstats shows. */
static void
s_txt_n(FILE *out, const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    bool valid;
    for (size_t i = 0, k; i < n; i += k) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        if (!valid) {
            fputs("\xef\xbf\xbd", out);
        }
        else if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
            fputc('?', out);
        }
        else {
            fwrite(p + i, 1, k, out);
        }
    }
}

/* Safe text, "?" for a name never given. */
void
mpp_rep_txt(FILE *out, const char *text)
{
    text = text ? text : "?";
    s_txt_n(out, text, strlen(text));
}

/* pstats.func_std_string: builtins ("~", 0) as {name}, else
 * file:line(name), so our rows equal the ones pstats prints. */
void
mpp_rep_txt_func(FILE *out, const mpp_func_t *f)
{
    size_t n = strlen(f->name);
    if (strcmp(f->file, "~") == 0 && f->line == 0) {
        if (n >= 2 && f->name[0] == '<' && f->name[n - 1] == '>') {
            fputc('{', out);
            s_txt_n(out, f->name + 1, n - 2);
            fputc('}', out);
        }
        else {
            mpp_rep_txt(out, f->name);
        }
        return;
    }
    mpp_rep_txt(out, f->file);
    fprintf(out, ":%" PRId32 "(", f->line);
    mpp_rep_txt(out, f->name);
    fputc(')', out);
}

size_t
mpp_rep_clip(char *buf, size_t size, const char *text, size_t cols)
{
    const unsigned char *p = (const unsigned char *)(text ? text : "?");
    size_t n = strlen((const char *)p), len = 0, used = 0, i = 0;
    bool valid;
    /* Count first, so we know whether the ellipsis is needed. */
    size_t total = 0;
    for (size_t k; i < n; i += k, total++) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
    }
    size_t keep = total > cols ? (cols ? cols - 1 : 0) : total;
    i = 0;
    for (size_t k; i < n && used < keep; i += k, used++) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        const char *rep = NULL;
        size_t rlen = k;
        if (!valid) {
            rep = "\xef\xbf\xbd";
            rlen = 3;
        }
        else if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
            rep = "?";
            rlen = 1;
        }
        if (len + rlen + 4 > size) {
            break;
        }
        memcpy(buf + len, rep ? (const unsigned char *)rep : p + i, rlen);
        len += rlen;
    }
    if (total > cols && cols > 0 && len + 4 <= size) {
        memcpy(buf + len, "\xe2\x80\xa6", 3); /* U+2026 */
        len += 3;
        used++;
    }
    if (size > 0) {
        buf[len < size ? len : size - 1] = '\0';
    }
    return used;
}

/* Characters (code points) of safe UTF-8 text. */
static size_t
s_cols(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        n += (*p & 0xc0) != 0x80;
    }
    return n;
}

/* Safe text in a column of `cols` characters, clipped or padded. */
void
mpp_rep_col(FILE *out, const char *text, size_t cols)
{
    char buf[4 * MPP_REP_WIDTH + 4];
    size_t used = mpp_rep_clip(buf, sizeof(buf), text, cols);
    fputs(buf, out);
    for (; used < cols; used++) {
        fputc(' ', out);
    }
}

void
mpp_rep_short_func(char *buf, size_t size, const mpp_func_t *f, bool line)
{
    size_t n = strlen(f->name);
    if (strcmp(f->file, "~") == 0 && f->line == 0) {
        if (n >= 2 && f->name[0] == '<' && f->name[n - 1] == '>') {
            snprintf(buf, size, "{%.*s}", (int)(n - 2), f->name + 1);
        }
        else {
            snprintf(buf, size, "%s", f->name);
        }
        return;
    }
    const char *base = strrchr(f->file, '/');
    base = base ? base + 1 : f->file;
    if (line) {
        snprintf(buf, size, "%s:%" PRId32 "(%s)", base, f->line, f->name);
    }
    else {
        snprintf(buf, size, "%s:%s", base, f->name);
    }
}

/* "1.62 s", "15 ms", "240 us": headlines are read, not parsed, so three
 * significant digits at most. */
void
mpp_rep_fmt_secs(char *buf, size_t size, double sec)
{
    double mag = sec < 0 ? -sec : sec;
    if (mag == 0) {
        snprintf(buf, size, "0 s");
    }
    else if (mag >= 100) {
        snprintf(buf, size, "%.0f s", sec);
    }
    else if (mag >= 0.9995) {
        snprintf(buf, size, "%.*f s", mag >= 9.95 ? 1 : 2, sec);
    }
    else if (mag >= 0.0009995) {
        snprintf(buf, size, "%.0f ms", sec * 1e3);
    }
    else {
        snprintf(buf, size, "%.0f us", sec * 1e6);
    }
}

/* "240.0 MB", in decimal units as pipe and network sizes are. */
void
mpp_rep_fmt_bytes(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    if (bytes < 1000) {
        snprintf(buf, size, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1000;
    size_t u = 0;
    while (v >= 999.95 && u + 1 < MPP_ARRAY_SIZE(units)) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

void
mpp_rep_para(FILE *out, const char *text, int indent)
{
    size_t col = 0;
    const char *p = text;
    for (; *p == ' '; p++, col++) {
        fputc(' ', out);
    }
    size_t lead = col;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char word[4 * MPP_REP_WIDTH + 4];
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        size_t w = s_cols(word);
        if (col > (size_t)indent && col + 1 + w > MPP_REP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = (size_t)indent;
        }
        else if (col > lead) {
            fputc(' ', out);
            col++;
        }
        for (char *q = word; *q; q++) {
            *q = *q == MPP_REP_NBSP[0] ? ' ' : *q;
        }
        fputs(word, out);
        col += w;
        p += n;
        while (*p == ' ') {
            p++;
        }
        lead = 0;
    }
    fputc('\n', out);
}

/* "22%", "<1%" for a little more than nothing. */
void
mpp_rep_pct(char *buf, size_t size, int64_t part, int64_t whole)
{
    double p = whole > 0 ? 100.0 * (double)part / (double)whole : 0;
    if (part > 0 && p < 0.5) {
        snprintf(buf, size, "<1%%");
    }
    else {
        snprintf(buf, size, "%.0f%%", p);
    }
}

/* Appends to a fixed buffer; output beyond its end is dropped. */
void
mpp_rep_add(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 < size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, size - n, fmt, ap);
        va_end(ap);
    }
}

/* Makes an item of a paragraph unbreakable. */
void
mpp_rep_nbsp(char *item)
{
    for (; *item; item++) {
        *item = *item == ' ' ? MPP_REP_NBSP[0] : *item;
    }
}

/* ---- JSON helpers ------------------------------------------------------- */

void
mpp_rep_json_str(FILE *out, const char *text)
{
    if (text == NULL) {
        fputs("null", out);
        return;
    }
    const unsigned char *p = (const unsigned char *)text;
    size_t n = strlen(text);
    fputc('"', out);
    bool valid;
    for (size_t i = 0, k; i < n; i += k) {
        unsigned char c = p[i];
        /* Printable ASCII, the bulk of every name and path, in one write
         * per run rather than one call per byte. */
        k = 0;
        while (i + k < n && p[i + k] >= 0x20 && p[i + k] < 0x7f &&
               p[i + k] != '"' && p[i + k] != '\\') {
            k++;
        }
        if (k > 0) {
            fwrite(p + i, 1, k, out);
            continue;
        }
        k = mpp_utf8_seq(p + i, n - i, &valid);
        if (!valid) {
            fputs("\\ufffd", out);
        }
        else if (k > 1) {
            fwrite(p + i, 1, k, out);
        }
        else if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        }
        else if (c == '\n') {
            fputs("\\n", out);
        }
        else if (c == '\t') {
            fputs("\\t", out);
        }
        else if (c == '\r') {
            fputs("\\r", out);
        }
        else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        }
        else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

/*  Printed from the integer nanoseconds, so the decimal is exact and
 *  json.loads gives the same float as ns / 1e9 in Python. */
void
mpp_rep_json_secs(FILE *out, int64_t ns)
{
    uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    char frac[16];
    snprintf(frac, sizeof(frac), "%09" PRIu64, mag % 1000000000u);
    for (int i = 8; i > 0 && frac[i] == '0'; i--) {
        frac[i] = '\0';
    }
    fprintf(out, "%s%" PRIu64 ".%s", ns < 0 ? "-" : "", mag / 1000000000u,
            frac);
}

void
mpp_rep_json_num(FILE *out, double x)
{
    char buf[40];
    if (!isfinite(x)) {
        fputs("null", out);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    /* A bare integer would read back as a Python int; keep it a float. */
    fputs(buf, out);
    if (strpbrk(buf, ".en") == NULL) {
        fputs(".0", out);
    }
}
