/* cmd_attention.c: `relgrad attention CHECKPOINT [len=N] [example=K]
 * [--out FILE.h5]`: per layer and head, the attention probabilities of one
 * evaluation example (example K of the evaluation set, through the pass
 * evaluation makes: a decoder's cached decoding, an encoder's one forward),
 * at length N (default: the training length) and at 2N, written to FILE.h5
 * (default: attention.h5 beside the checkpoint) and drawn as a grid of
 * heatmaps in FILE.png beside it, with each head's mean attended distance
 * and entropy (an encoder's heads also with which way they look). */
#include "cli.h"
#include "relgrad/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: relgrad attention CHECKPOINT [len=N] [example=K] [--out FILE.h5]\n"
                    "  len: the first length (default: the training length); 2N is drawn too\n"
                    "  example: which example of the evaluation set at that length (default 0)\n"
                    "  writes FILE.h5 (default: attention.h5 beside CHECKPOINT) and FILE.png\n");
    return RG_EXIT_BAD_INPUT;
}

/* "len=16" -> 16 into *v; 0, or 2 with a message */
static int whole(const char *arg, const char *key, int lo, int *v, int num) {
    char *end;
    const char *text = arg + strlen(key) + 1;
    long x = strtol(text, &end, 10);
    if (!*text || *end || x < lo || x > 1000000) {
        fprintf(stderr,
                "relgrad attention: argument %d: key '%s': '%s' is not a whole number >= %d; "
                "write e.g. %s=%d\n",
                num, key, text, lo, key, lo > 0 ? 16 : 0);
        return RG_EXIT_BAD_INPUT;
    }
    *v = (int)x;
    return 0;
}

int rg_cmd_attention(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL;
    int len = 0, example = 0;
    for (int i = 0; i < argc; i++) {
        int num = i + 2;
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) return usage();
            out = argv[++i];
        } else if (!strncmp(argv[i], "len=", 4)) {
            if (whole(argv[i], "len", 1, &len, num)) return RG_EXIT_BAD_INPUT;
        } else if (!strncmp(argv[i], "example=", 8)) {
            if (whole(argv[i], "example", 0, &example, num)) return RG_EXIT_BAD_INPUT;
        } else if (!ckpt && !strchr(argv[i], '=') && strncmp(argv[i], "--", 2)) {
            ckpt = argv[i];
        } else {
            fprintf(stderr,
                    "relgrad attention: argument %d: '%s' is not understood; the keys are len "
                    "and example\n",
                    num, argv[i]);
            return usage();
        }
    }
    if (!ckpt) return usage();
    char h5[RG_PATH_MAX + 32], png[RG_PATH_MAX + 48];
    if (out) {
        snprintf(h5, sizeof h5, "%s", out);
    } else { /* beside the checkpoint */
        const char *slash = strrchr(ckpt, '/');
        snprintf(h5, sizeof h5, "%.*sattention.h5", slash ? (int)(slash - ckpt + 1) : 0, ckpt);
    }
    size_t n = strlen(h5);
    if (n > 3 && !strcmp(h5 + n - 3, ".h5"))
        snprintf(png, sizeof png, "%.*s.png", (int)(n - 3), h5);
    else
        snprintf(png, sizeof png, "%s.png", h5);
    rg_error err;
    if (rg_attention_of_checkpoint(ckpt, len, example, h5, stdout, &err)) {
        fprintf(stderr, "relgrad attention: %s\n", err.msg);
        return RG_EXIT_BAD_INPUT;
    }
    char why[RG_PATH_MAX + 300];
    if (rg_draw_attention(h5, png, ckpt, why, sizeof why)) {
        fprintf(stderr,
                "relgrad attention: wrote %s, but drawing %s failed (%s); install "
                "python3-matplotlib python3-h5py (tools/setup.sh)\n",
                h5, png, why);
        return RG_EXIT_ERROR;
    }
    printf("attention: wrote %s and %s\n", h5, png);
    return RG_EXIT_OK;
}
