/*  libFuzzer target for the session file reader, the code that reads any
 *  file a user hands to `mpprof report` or `mpprof compare`.
 *
 *  Besides "no crash, no leak, no undefined behaviour" it checks that
 *  whatever the reader accepts is a consistent session: it writes, the
 *  result reads back, and writing that copy gives the same bytes.  And
 *  what `mpprof report` then does with it, the text and JSON reports
 *  (their analysis reads every span and edge the file holds), must not
 *  crash either. */
#include "mpp_output.h"
#include "mpp_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
s_write_or_die(const mpp_session_t *s, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (f == NULL) {
        abort(); /* the machine, not the input */
    }
    if (mpp_sessfile_write(s, f) != 0) {
        __builtin_trap();
    }
    if (fclose(f) != 0) {
        abort();
    }
    return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpp_session_t *s = NULL, *t = NULL;
    if (mpp_sessfile_parse(data, size, &s) != 0) {
        if (s != NULL) {
            __builtin_trap();
        }
        return 0;
    }
    size_t n1, n2;
    char *b1 = s_write_or_die(s, &n1);
    if (mpp_sessfile_parse(b1, n1, &t) != 0) {
        __builtin_trap();
    }
    char *b2 = s_write_or_die(t, &n2);
    FILE *sink = fopen("/dev/null", "w");
    if (sink == NULL) {
        abort();
    }
    (void)mpp_report_text(s, NULL, sink);
    (void)mpp_report_json(s, NULL, sink);
    fclose(sink);
    if (n1 != n2 || memcmp(b1, b2, n1) != 0) {
        __builtin_trap();
    }
    free(b1);
    free(b2);
    mpp_session_destroy(&t);
    mpp_session_destroy(&s);
    return 0;
}
