/*  Finds the ZeroMQ sink's library beside the collector; see
 *  mpp_zsink.h for why it is a library of its own. */
#include "mpp_zsink.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

const mpp_zsink_api_t *
mpp_zsink_load(const char **why)
{
    /* Loaded once and never unloaded: the core may call into it until
     * the process ends. */
    static const mpp_zsink_api_t *api;
    static char err[4096 + 512];
    if (api != NULL) {
        return api;
    }
    Dl_info self;
    if (dladdr((void *)mpp_zsink_load, &self) == 0 ||
        self.dli_fname == NULL) {
        *why = "cannot tell where the collector was loaded from";
        return NULL;
    }
    const char *slash = strrchr(self.dli_fname, '/');
    int dirlen = slash != NULL ? (int)(slash - self.dli_fname) + 1 : 0;
    char path[4096];
    if (snprintf(path, sizeof(path), "%.*s%s", dirlen, self.dli_fname,
                 MPP_ZSINK_FILE) >= (int)sizeof(path)) {
        *why = "the collector's path is too long";
        return NULL;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const mpp_zsink_api_t *found =
        lib != NULL ? dlsym(lib, MPP_ZSINK_API) : NULL;
    if (found == NULL) {
        snprintf(err, sizeof(err), "cannot load %s: %s", path, dlerror());
        *why = err;
        if (lib != NULL) {
            dlclose(lib);
        }
        return NULL;
    }
    api = found;
    return api;
}
