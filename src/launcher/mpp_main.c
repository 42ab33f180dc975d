/* STUB: replaced by the launcher unit. */
#include <stdio.h>
int main(void) { fputs("mpprof: not built yet\n", stderr); return 2; }
