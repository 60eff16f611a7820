/* placeholder */
#include "cli.h"
int rg_cmd_attention(int argc, char **argv) {
    (void)argc, (void)argv;
    return 1;
}
