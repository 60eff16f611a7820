/* none.c: NoPE, no positional information at all (Kazemnejad et al. 2023).
 * The causal mask alone lets a decoder tell positions apart; scores are the
 * content term q_i . k_j / sqrt(dh) and nothing is added. */
#include "scheme.h"

const rg_scheme rg_scheme_none = {
    .name = "none",
    .summary = "NoPE: no positional information; order comes only from the causal mask "
               "(Kazemnejad et al. 2023)",
    .flags = RG_SCHEME_RELATIVE | RG_SCHEME_ANY_ORDER | RG_SCHEME_NO_POSITIONS,
};
