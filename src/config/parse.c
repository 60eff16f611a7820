/* parse.c: setting keys from text: one value (rg_config_set), every
 * default (rg_config_defaults: each key's default text through the same
 * parser), INI files (through inih) and key=value arguments; the lists
 * (lengths, seeds, schemes, tasks) and what is derived from them (the
 * evaluation lengths, one run of a grid). Calls keys.c, never validate.c.
 *
 * Every error message has the form
 *     WHERE: key 'KEY': WHAT IS WRONG; HOW TO FIX
 * where WHERE is "file:line" or "argument N". Each key remembers where it was
 * last set (rg_config.where), so a combination error found later by
 * validate.c still points at the line to edit.
 *
 * Decisions worth knowing:
 *   - Duplicate keys in one file are errors; repeated key=value arguments are
 *     not (the last one wins, so scripts can append overrides).
 *   - Lists: `eval_lens` and `seeds` take whole numbers and ranges a..b or
 *     a..b:s; `pos` takes one scheme or a per-layer list (entries separated
 *     by ',' or '+'); `positions` is a comma list whose entries are schemes
 *     or '+' lists, each optionally followed by its own settings
 *     ":key=value:key=value" (a method that needs more than a scheme:
 *     "rope:coupled_positions=1"); each setting is checked as the key's
 *     value when the list is read, and a run of the grid takes them.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- small helpers ---------------------------------------------------------------- */

/* The default value of key k, for "e.g. d_model = 64" hints. */
static const char *default_text(int k) {
    const char *d = rg_config_key(k)->def;
    return d[0] ? d : "\"\"";
}

/* Remember where key k was set. A long path keeps its end ("...dir/x.ini:3"),
 * which holds the file name and line. */
static void set_where(rg_config *c, int k, const char *where) {
    char *dst = c->where[k];
    size_t len = strlen(where);
    if (len < RG_WHERE_MAX) {
        memcpy(dst, where, len + 1);
    } else {
        const char *tail = where + len - (RG_WHERE_MAX - 4);
        memcpy(dst, "...", 3);
        memcpy(dst + 3, tail, RG_WHERE_MAX - 3); /* includes the '\0' */
    }
}

/* Optimal string alignment distance (edits, with swaps of neighbours counted
 * as one), case-insensitive. Names longer than 63 characters are too far
 * from every name anyway. */
static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                cb == tolower((unsigned char)a[i - 2]) && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* 1 edit for names up to 4 characters, 2 up to 8, 3 beyond. */
const char *rg_closest_name(const char *s, const char *const *names, int n) {
    const char *best = NULL;
    int best_d = 99;
    for (int i = 0; i < n; i++) {
        int dist = edit_distance(s, names[i]);
        if (dist < best_d) best_d = dist, best = names[i];
    }
    if (!best) return NULL;
    int len = (int)strlen(best), allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best_d <= allowed ? best : NULL;
}

static int fail_unknown_key(rg_error *err, const char *where, const char *name) {
    const char *names[RG_MAX_KEYS] = {0};
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++) names[k] = rg_config_key(k)->name;
    const char *near = rg_closest_name(name, names, n);
    if (near)
        return rg_fail(err, "%.200s: unknown key '%.64s'; did you mean '%s'?", where, name, near);
    char list[900] = "";
    for (int k = 0; k < n; k++) {
        strcat(list, names[k]);
        if (k + 1 < n) strcat(list, ", ");
    }
    return rg_fail(err, "%.200s: unknown key '%.64s'; valid keys are %s", where, name, list);
}

/* " (did you mean 'learned'?)" or "" */
static const char *did_you_mean(const char *s, const char *const *names, int n, char *buf,
                                size_t len) {
    const char *near = rg_closest_name(s, names, n);
    snprintf(buf, len, near ? " (did you mean '%s'?)" : "%s", near ? near : "");
    return buf;
}

/* ---- numbers ---------------------------------------------------------------------- */

bool rg_parse_int(const char *s, int *out, char *why, size_t n) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || isspace((unsigned char)*s)) {
        snprintf(why, n, "'%.40s' is not a whole number", s);
        return false;
    }
    if (*end) {
        if (*end == '.' || *end == 'e' || *end == 'E')
            snprintf(why, n, "'%.40s' is not a whole number (no fractions or exponents)", s);
        else
            snprintf(why, n, "'%.40s' is not a whole number (unexpected '%.20s' after %.*s)", s,
                     end, (int)(end - s), s);
        return false;
    }
    if (errno == ERANGE || v < INT_MIN || v > INT_MAX) {
        snprintf(why, n, "%.40s is outside the int range %d .. %d", s, INT_MIN, INT_MAX);
        return false;
    }
    *out = (int)v;
    return true;
}

bool rg_parse_real(const char *s, double *out, char *why, size_t n) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || isspace((unsigned char)*s)) {
        snprintf(why, n, "'%.40s' is not a number", s);
        return false;
    }
    if (*end) {
        snprintf(why, n, "'%.40s' is not a number (unexpected '%.20s' after %.*s)", s, end,
                 (int)(end - s), s);
        return false;
    }
    if (errno == ERANGE) {
        snprintf(why, n, "%.40s is outside the range of a double (about 1e-308 .. 1e308)", s);
        return false;
    }
    if (!isfinite(v)) {
        snprintf(why, n, "'%.40s' is not a finite number", s);
        return false;
    }
    *out = v;
    return true;
}

/* Copy s without leading and trailing white space into buf (n bytes);
 * false when it does not fit. */
static bool trimmed(const char *s, char *buf, size_t n) {
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
    if (len >= n) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

/* The next item of a list separated by any of `seps`: copied (trimmed) into
 * item; returns the rest after the separator, or NULL after the last item. */
static const char *next_item(const char *p, const char *seps, char *item, size_t n, bool *fits) {
    size_t len = strcspn(p, seps);
    char raw[512];
    *fits = len < sizeof raw && len < n;
    if (*fits) {
        memcpy(raw, p, len);
        raw[len] = '\0';
        *fits = trimmed(raw, item, n);
    }
    return p[len] ? p + len + 1 : NULL;
}

/* ---- lists of whole numbers: n, a..b, a..b:s ---------------------------------------- */

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* One item into lo..hi by step; false with why. */
static bool parse_range(const char *item, int *a, int *b, int *step, char *why, size_t n) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", item);
    *step = 1;
    char *dots = strstr(buf, "..");
    if (!dots) {
        if (!rg_parse_int(buf, a, why, n)) return false;
        *b = *a;
        return true;
    }
    *dots = '\0';
    char *hi = dots + 2, *colon = strchr(hi, ':');
    if (colon) {
        *colon = '\0';
        if (!rg_parse_int(colon + 1, step, why, n)) return false;
        if (*step < 1) {
            snprintf(why, n, "range '%.40s': step %d must be >= 1", item, *step);
            return false;
        }
    }
    if (!rg_parse_int(buf, a, why, n) || !rg_parse_int(hi, b, why, n)) return false;
    if (*b < *a) {
        snprintf(why, n, "range '%.40s' runs backwards; write it as %d..%d", item, *b, *a);
        return false;
    }
    return true;
}

int rg_expand_ints(const char *text, int lo, int hi, int **out, int *count, char *why,
                   size_t nwhy) {
    int cap = 64, n = 0, *v = rg_xmalloc((size_t)cap * sizeof(int), "a list of lengths");
    const char *p = text;
    for (int item_no = 1; p; item_no++) {
        char item[128];
        bool fits;
        p = next_item(p, ",", item, sizeof item, &fits);
        if (!fits || !item[0]) {
            snprintf(why, nwhy, "entry %d is %s; separate entries by single commas", item_no,
                     fits ? "empty" : "too long");
            return free(v), -1;
        }
        int a, b, step;
        char what[160];
        if (!parse_range(item, &a, &b, &step, what, sizeof what)) {
            snprintf(why, nwhy, "entry %d: %s; write numbers n, ranges a..b or a..b:s", item_no,
                     what);
            return free(v), -1;
        }
        if (a < lo || b > hi) {
            snprintf(why, nwhy, "entry %d ('%s') is outside %d .. %d", item_no, item, lo, hi);
            return free(v), -1;
        }
        for (long x = a; x <= b; x += step) {
            if (n == cap) cap *= 2, v = rg_xrealloc(v, (size_t)cap * sizeof(int), "a list");
            v[n++] = (int)x;
        }
    }
    int *sorted = rg_xmalloc((size_t)n * sizeof(int), "a list");
    memcpy(sorted, v, (size_t)n * sizeof(int));
    qsort(sorted, (size_t)n, sizeof(int), compare_ints);
    for (int i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1]) {
            snprintf(why, nwhy, "%d is listed twice; list each once", sorted[i]);
            return free(sorted), free(v), -1;
        }
    free(sorted);
    *out = v, *count = n;
    return 0;
}

/* ---- schemes and tasks ----------------------------------------------------------------- */

/* "A,A,B" for messages, from the registry: A the relative scheme registered
 * last, B the first scheme registered. */
static const char *list_example(char *buf, size_t n) {
    int newest = 0;
    for (int id = 0; id < rg_scheme_count(); id++)
        if (rg_scheme_is_relative(id)) newest = id;
    snprintf(buf, n, "%s,%s,%s", rg_scheme_name(newest), rg_scheme_name(newest), rg_scheme_name(0));
    return buf;
}

int rg_scheme_list_parse(const char *text, rg_scheme_list *out, char *why, size_t n) {
    const char *names[RG_MAX_SCHEMES];
    for (int i = 0; i < rg_scheme_count(); i++) names[i] = rg_scheme_name(i);
    rg_scheme_list list = {0};
    const char *p = text;
    for (int entry = 1; p; entry++) {
        char item[64], hint[64], all[300];
        bool fits;
        p = next_item(p, ",+", item, sizeof item, &fits);
        if (!fits || !item[0]) {
            char like[200];
            snprintf(why, n, "entry %d is %s; write a scheme, or a list like %s", entry,
                     fits ? "empty" : "too long", list_example(like, sizeof like));
            return -1;
        }
        int id = rg_scheme_find(item);
        if (id < 0) {
            snprintf(why, n, "unknown scheme '%.40s'%s; valid schemes: %s", item,
                     did_you_mean(item, names, rg_scheme_count(), hint, sizeof hint),
                     rg_scheme_names_text(all, sizeof all));
            return -1;
        }
        if (list.n == RG_MAX_SCHEME_LIST) {
            snprintf(why, n,
                     "more than %d entries; a per-layer list repeats, so a shorter one "
                     "usually says the same",
                     RG_MAX_SCHEME_LIST);
            return -1;
        }
        list.id[list.n++] = (unsigned char)id;
    }
    *out = list;
    return 0;
}

/* "sort" or "sort:5" (a task and its own alphabet size) in an experiment's list. */
static int parse_task_entry(const char *item, rg_task *task, int *symbols, char *why, size_t n);

static int parse_task(const char *item, rg_task *out, char *why, size_t n) {
    const char *names[RG_TASK_COUNT];
    for (int i = 0; i < RG_TASK_COUNT; i++) names[i] = rg_task_name((rg_task)i);
    int t = rg_task_find(item);
    if (t < 0) {
        char hint[64];
        snprintf(why, n, "unknown task '%.40s'%s; valid tasks: %s", item,
                 did_you_mean(item, names, RG_TASK_COUNT, hint, sizeof hint), rg_task_list_text());
        return -1;
    }
    *out = (rg_task)t;
    return 0;
}

static int parse_task_entry(const char *item, rg_task *task, int *symbols, char *why, size_t n) {
    char name[64];
    const char *colon = strchr(item, ':');
    size_t len = colon ? (size_t)(colon - item) : strlen(item);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, item, len);
    name[len] = '\0';
    trimmed(name, name, sizeof name);
    if (parse_task(name, task, why, n)) return -1;
    *symbols = 0;
    if (!colon) return 0;
    char what[160], text[64];
    trimmed(colon + 1, text, sizeof text);
    if (!rg_parse_int(text, symbols, what, sizeof what) || *symbols < 2 ||
        *symbols > RG_MAX_SYMBOLS) {
        snprintf(why, n,
                 "'%.40s': the alphabet after ':' must be a whole number 2 .. %d (e.g. sort:5)",
                 item, RG_MAX_SYMBOLS);
        return -1;
    }
    return 0;
}

/* Keys a positions entry may not set: the grid's own and what names a run. */
static bool entry_may_set(const rg_key_info *key) {
    static const char *const RUN[] = {"pos", "task", "seed", "out_dir"};
    if (key->flags & RG_KEY_EXPERIMENT) return false;
    for (size_t i = 0; i < sizeof RUN / sizeof RUN[0]; i++)
        if (!strcmp(key->name, RUN[i])) return false;
    return true;
}

/* One positions entry: schemes ('+' list), then its own settings
 * ":key=value:key=value" into keys (trimmed, in the same form), each a key
 * an entry may set with a value that key takes (tried on a copy of c). */
static int parse_positions_entry(const rg_config *c, const char *item, rg_scheme_list *pos,
                                 char *keys, char *why, size_t n) {
    const char *colon = strchr(item, ':');
    char schemes[256];
    size_t len = colon ? (size_t)(colon - item) : strlen(item);
    if (len >= sizeof schemes) len = sizeof schemes - 1;
    memcpy(schemes, item, len);
    schemes[len] = '\0';
    trimmed(schemes, schemes, sizeof schemes);
    if (rg_scheme_list_parse(schemes, pos, why, n)) return -1;
    keys[0] = '\0';
    if (!colon) return 0;
    rg_config *scratch = rg_xmalloc(sizeof *scratch, "a config");
    *scratch = *c;
    size_t used = 0;
    int rc = 0;
    for (const char *p = colon + 1; p && rc == 0;) {
        char setting[RG_ENTRY_MAX], name[128];
        bool fits;
        p = next_item(p, ":", setting, sizeof setting, &fits);
        const char *eq = fits ? strchr(setting, '=') : NULL;
        size_t klen = eq ? (size_t)(eq - setting) : 0;
        if (!eq || klen == 0 || klen >= sizeof name) {
            snprintf(why, n,
                     "'%.60s': after the schemes, each ':' must be followed by key=value, e.g. "
                     "%s:coupled_positions=1",
                     item, schemes);
            rc = -1;
            break;
        }
        memcpy(name, setting, klen);
        name[klen] = '\0';
        trimmed(name, name, sizeof name);
        const char *value = eq + 1;
        while (isspace((unsigned char)*value)) value++;
        int k = rg_config_key_find(name);
        rg_error e;
        if (k < 0) {
            fail_unknown_key(&e, "positions entry", name);
            snprintf(why, n, "%.500s", e.msg);
            rc = -1;
        } else if (!entry_may_set(rg_config_key(k))) {
            snprintf(why, n,
                     "'%s' cannot be set by one entry (the grid sets pos, task, seed and out_dir "
                     "of each run, and the experiment keys are the grid's own); set it for the "
                     "whole experiment",
                     name);
            rc = -1;
        } else if (rg_config_set(scratch, name, value, "positions entry", &e)) {
            snprintf(why, n, "%.500s", e.msg);
            rc = -1;
        } else {
            int m = snprintf(keys + used, RG_ENTRY_MAX - used, ":%s=%s", name, value);
            if (m < 0 || (size_t)m >= RG_ENTRY_MAX - used) {
                snprintf(why, n, "'%.60s': its settings are longer than %d characters", item,
                         RG_ENTRY_MAX - 1);
                rc = -1;
            } else {
                used += (size_t)m;
            }
        }
    }
    free(scratch);
    return rc;
}

/* tasks, positions: comma lists of names (positions entries may be '+' lists
 * followed by ":key=value" settings). */
static int parse_name_list(rg_config *c, int k, const char *text, const char *where,
                           rg_error *err) {
    const rg_key_info *key = rg_config_key(k);
    int count = 0;
    const char *p = text;
    while (p) {
        char item[512], why[600];
        bool fits;
        p = next_item(p, ",", item, sizeof item, &fits);
        if (!fits || !item[0])
            return rg_fail_key(err, where, k,
                               "entry %d is %s; write the entries separated by single commas, "
                               "e.g. %s = %s",
                               count + 1, fits ? "empty" : "too long", key->name, key->def);
        if (count == RG_MAX_LIST)
            return rg_fail_key(err, where, k, "more than %d entries; keep at most %d", RG_MAX_LIST,
                               RG_MAX_LIST);
        int bad =
            key->kind == RG_V_TASK_LIST
                ? parse_task_entry(item, &c->tasks[count], &c->task_symbols[count], why, sizeof why)
                : parse_positions_entry(c, item, &c->positions[count], c->position_keys[count], why,
                                        sizeof why);
        if (bad) return rg_fail_key(err, where, k, "entry %d: %s", count + 1, why);
        count++;
    }
    *(int *)((char *)c + key->count_offset) = count;
    return 0;
}

/* One of the names of an RG_V_CHOICE key, stored as its index. */
static int parse_choice(const rg_key_info *key, const char *text, int *out, char *why, size_t n) {
    const char *const *names = rg_key_choices(key);
    int count = 0;
    for (; names[count]; count++)
        if (!strcmp(text, names[count])) {
            *out = count;
            return 0;
        }
    char hint[64], all[200] = "";
    for (int i = 0; i < count; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s = %s", i ? " or " : "",
                 key->name, names[i]);
    snprintf(why, n, "unknown value '%.40s'%s; write %s", text,
             did_you_mean(text, names, count, hint, sizeof hint), all);
    return -1;
}

/* A task that fixes its alphabet sets n_symbols, unless the config set
 * n_symbols itself (then validation checks that the two agree); any other
 * task leaves n_symbols at its default. */
static void follow_task_alphabet(rg_config *c) {
    int k = rg_config_key_find("n_symbols");
    if (c->where[k][0]) return;
    int fixed = rg_task_alphabet(c->task);
    if (fixed) {
        c->model.n_symbols = fixed;
        return;
    }
    char why[160];
    if (!rg_parse_int(rg_config_key(k)->def, &c->model.n_symbols, why, sizeof why))
        rg_die("config: the default of n_symbols does not parse: %s", why);
}

/* ---- one key --------------------------------------------------------------------------- */

int rg_config_set(rg_config *c, const char *key, const char *value, const char *where,
                  rg_error *err) {
    if (!where) where = "";
    const char *shown = where[0] ? where : "config";
    char name[128];
    if (!trimmed(key, name, sizeof name) || !name[0])
        return rg_fail(err,
                       "%.200s: missing key name before '='; write key = value, e.g. d_model = 64",
                       shown);
    int k = rg_config_key_find(name);
    if (k < 0) return fail_unknown_key(err, shown, name);
    const rg_key_info *info = rg_config_key(k);

    char text[RG_TEXT_MAX], why[600];
    if (!trimmed(value, text, sizeof text))
        return rg_fail_key(err, shown, k, "the value is longer than %d characters; shorten it",
                           (int)sizeof text - 1);
    bool may_be_empty = info->kind == RG_V_PATH && info->lo == 0;
    if (!text[0] && !may_be_empty)
        return rg_fail_key(err, shown, k, "missing value; write e.g. %s = %s", name,
                           default_text(k));
    /* An inline comment must start with ';' after white space; '#' only works
     * at the start of a line. Say so when a value looks like "64 # width". */
    const char *comment_hint =
        strstr(text, " #")
            ? " (a comment after a value starts with ' ;': '#' only starts a whole-line comment)"
            : "";

    rg_config tmp = *c;
    void *at = rg_key_ptr(&tmp, k);
    switch (info->kind) {
    case RG_V_INT:
        if (!rg_parse_int(text, at, why, sizeof why))
            return rg_fail_key(err, shown, k, "%s; write a whole number, e.g. %s = %s%s", why, name,
                               default_text(k), comment_hint);
        break;
    case RG_V_REAL:
        if (!rg_parse_real(text, at, why, sizeof why))
            return rg_fail_key(err, shown, k, "%s; write a number such as %s = %s%s", why, name,
                               default_text(k), comment_hint);
        break;
    case RG_V_PATH:
        if (strlen(text) >= RG_PATH_MAX)
            return rg_fail_key(err, shown, k, "longer than %d bytes; use a shorter path",
                               RG_PATH_MAX - 1);
        strcpy(at, text);
        break;
    case RG_V_TASK:
        if (parse_task(text, at, why, sizeof why)) return rg_fail_key(err, shown, k, "%s", why);
        follow_task_alphabet(&tmp);
        break;
    case RG_V_CHOICE:
        if (parse_choice(info, text, at, why, sizeof why))
            return rg_fail_key(err, shown, k, "%s", why);
        break;
    case RG_V_POS:
        if (rg_scheme_list_parse(text, at, why, sizeof why))
            return rg_fail_key(err, shown, k, "%s", why);
        break;
    case RG_V_LENGTHS: {
        int *lens, n;
        if (rg_expand_ints(text, (int)info->lo, (int)info->hi, &lens, &n, why, sizeof why))
            return rg_fail_key(err, shown, k, "%s; e.g. %s = %s%s", why, name, default_text(k),
                               comment_hint);
        free(lens);
        strcpy(at, text);
        break;
    }
    case RG_V_INT_LIST: {
        int *v, n;
        if (rg_expand_ints(text, (int)info->lo, (int)info->hi, &v, &n, why, sizeof why))
            return rg_fail_key(err, shown, k, "%s; e.g. %s = %s%s", why, name, default_text(k),
                               comment_hint);
        if (n > RG_MAX_LIST) {
            free(v);
            return rg_fail_key(err, shown, k, "%d entries; keep at most %d", n, RG_MAX_LIST);
        }
        memcpy(at, v, (size_t)n * sizeof(int));
        *(int *)((char *)&tmp + info->count_offset) = n;
        free(v);
        break;
    }
    case RG_V_TASK_LIST:
    case RG_V_POS_LISTS:
        if (parse_name_list(&tmp, k, text, shown, err)) return 2;
        break;
    }
    if (rg_config_check_key(&tmp, k, shown, err)) return 2;
    *c = tmp;
    set_where(c, k, where);
    return 0;
}

/* ---- INI files ------------------------------------------------------------------------
 * inih's line-number macro (INI_HANDLER_LINENO) does not tell the handler
 * which line it is on. So we hand inih the file ourselves, one line per call
 * of the reader: inih calls the reader exactly once per line and handles that
 * line (calling the handler for a key = value line) before asking for the
 * next, so the number of reader calls so far is the line number of every
 * handler call. Before passing a line on, the reader
 *   - strips leading white space (and a UTF-8 byte order mark on line 1), so
 *     that inih never takes an indented line for a continuation of the
 *     previous value: every key line is handled on its own line;
 *   - rejects lines inih would reject without telling us why (no '=', a
 *     section without ']') and lines longer than inih's buffer;
 *   - stops the parse (returns NULL) once an error has been recorded, so the
 *     first error is the one reported.
 */

typedef struct ini_state {
    FILE *file;
    const char *path;
    rg_config *cfg;
    rg_error *err;
    bool failed;
    int line;                /* number of the line inih is handling */
    int set_at[RG_MAX_KEYS]; /* line where each key was set in this file, 0 = not */
    char *buf;               /* getline buffer                                     */
    size_t cap;
} ini_state;

static int fail_line(ini_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_line(ini_state *st, const char *fmt, ...) {
    char what[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(st->err->msg, sizeof st->err->msg, "%.300s:%d: %s", st->path, st->line, what);
    st->failed = true;
    return 0;
}

static char *ini_reader_fn(char *str, int num, void *stream) {
    ini_state *st = stream;
    if (st->failed) return NULL;
    ssize_t got = getline(&st->buf, &st->cap, st->file);
    if (got < 0) return NULL;
    st->line++;
    char *s = st->buf;
    if (st->line == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF)
        s += 3;
    while (*s == ' ' || *s == '\t') s++;
    size_t body = strlen(s); /* without the line end: */
    while (body > 0 && (s[body - 1] == '\n' || s[body - 1] == '\r')) body--;
    if (body + 3 > (size_t)num) {
        fail_line(st, "line is %zu characters long; lines may hold at most %d; shorten it", body,
                  num - 3);
        return NULL;
    }
    if (body > 0 && s[0] != ';' && s[0] != '#') {
        if (s[0] == '[') {
            if (!memchr(s, ']', body)) {
                fail_line(st, "section header '%.*s' has no closing ']'; write e.g. [model]",
                          (int)(body < 40 ? body : 40), s);
                return NULL;
            }
        } else if (!memchr(s, '=', body) && !memchr(s, ':', body)) {
            /* "d_model 64": when the first word is a key, show the fix. */
            size_t w = strcspn(s, " \t\r\n");
            char first[64] = "";
            if (w < sizeof first) memcpy(first, s, w), first[w] = '\0';
            const char *rest = s + w + strspn(s + w, " \t");
            int restlen = (int)(body - (size_t)(rest - s));
            if (first[0] && rg_config_key_find(first) >= 0 && restlen > 0)
                fail_line(st, "'%.*s' is not of the form key = value; write %s = %.*s",
                          (int)(body < 60 ? body : 60), s, first, restlen < 60 ? restlen : 60,
                          rest);
            else
                fail_line(st,
                          "'%.*s' is not of the form key = value; write e.g. d_model = 64, or "
                          "start a comment with ';' or '#'",
                          (int)(body < 60 ? body : 60), s);
            return NULL;
        }
    }
    memcpy(str, s, body); /* body + 3 <= num: room for "\n\0" */
    str[body] = '\n';
    str[body + 1] = '\0';
    return str;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value) {
    (void)section; /* sections only group keys */
    ini_state *st = user;
    if (st->failed) return 0;
    if (!name[0])
        return fail_line(st, "missing key name before '='; write key = value, e.g. d_model = 64");
    int k = rg_config_key_find(name);
    if (k < 0) {
        char where[RG_WHERE_MAX + 16];
        snprintf(where, sizeof where, "%.140s:%d", st->path, st->line);
        fail_unknown_key(st->err, where, name);
        st->failed = true;
        return 0;
    }
    if (st->set_at[k])
        return fail_line(st, "key '%s' is set twice (first at line %d); keep one of the two lines",
                         name, st->set_at[k]);
    char where[RG_PATH_MAX + 16];
    snprintf(where, sizeof where, "%s:%d", st->path, st->line);
    if (rg_config_set(st->cfg, name, value, where, st->err)) {
        st->failed = true;
        return 0;
    }
    st->set_at[k] = st->line;
    return 1;
}

int rg_config_load(rg_config *c, const char *path, rg_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        const char *fix = e == ENOENT   ? "check the path (relative paths start from the current "
                                          "directory)"
                          : e == EACCES ? "make the file readable (chmod u+r) or copy it"
                                        : "check the path and the file";
        return rg_fail(err, "%.300s: cannot open the config file: %s; %s", path, strerror(e), fix);
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return rg_fail(
            err, "%.300s: is a directory, not a config file; give the path of an INI file", path);
    }
    rg_config *tmp = rg_xmalloc(sizeof *tmp, "a config");
    *tmp = *c;
    ini_state st = {.file = f, .path = path, .cfg = tmp, .err = err};
    int rc = ini_parse_stream(ini_reader_fn, &st, ini_handler_fn, &st);
    bool read_error = ferror(f) != 0;
    int e = errno;
    free(st.buf);
    fclose(f);
    int status = 0;
    if (st.failed)
        status = 2;
    else if (read_error)
        status = rg_fail(err, "%.300s: error reading the config file: %s; check the file", path,
                         strerror(e));
    else if (rc == -2)
        status = rg_fail(err, "%.300s: out of memory while parsing", path);
    else if (rc != 0) /* inih found a fault our reader did not: say where */
        status =
            rg_fail(err, "%.300s:%d: malformed line; write key = value, [section] or a ';' comment",
                    path, rc);
    if (status == 0) *c = *tmp;
    free(tmp);
    return status;
}

/* ---- arguments ---------------------------------------------------------------- */

int rg_config_override(rg_config *c, int argc, char **argv, int first_arg, rg_error *err) {
    rg_config *tmp = rg_xmalloc(sizeof *tmp, "a config");
    *tmp = *c;
    int status = 0;
    for (int i = 0; i < argc && status == 0; i++) {
        char where[32];
        snprintf(where, sizeof where, "argument %d", first_arg + i);
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (!eq) {
            int k = rg_config_key_find(arg);
            if (k >= 0)
                status = rg_fail(err, "%s: '%s' has no value; write %s=VALUE, e.g. %s=%s", where,
                                 arg, arg, arg, default_text(k));
            else
                status =
                    rg_fail(err, "%s: '%.64s' is not of the form key=value; write e.g. d_model=64",
                            where, arg);
            break;
        }
        char key[128];
        size_t klen = (size_t)(eq - arg);
        if (klen >= sizeof key) {
            status = fail_unknown_key(err, where, "(a very long name)");
            break;
        }
        memcpy(key, arg, klen);
        key[klen] = '\0';
        status = rg_config_set(tmp, key, eq + 1, where, err);
    }
    if (status == 0) *c = *tmp;
    free(tmp);
    return status;
}

/* ---- defaults ----------------------------------------------------------------------- */

void rg_config_defaults(rg_config *c) {
    memset(c, 0, sizeof *c); /* also: every where[] record empty */
    int n = rg_config_key_count();
    for (int k = 0; k < n; k++) {
        const rg_key_info *key = rg_config_key(k);
        rg_error err;
        if (rg_config_set(c, key->name, key->def, "", &err))
            rg_die("config: the default of %s does not parse: %s", key->name, err.msg);
        c->where[k][0] = '\0'; /* a default was not set anywhere */
    }
}

/* ---- derived values ------------------------------------------------------------------ */

int *rg_config_eval_lens(const rg_config *c, int *n) {
    int *out = NULL;
    char why[200];
    if (rg_expand_ints(c->eval_lens, 1, RG_MAX_LEN, &out, n, why, sizeof why))
        rg_die("eval_lens '%s': %s (the config was not validated)", c->eval_lens, why);
    return out;
}

int rg_config_longest_eval(const rg_config *c) {
    int n, *lens = rg_config_eval_lens(c, &n), most = 0;
    for (int i = 0; i < n; i++) most = lens[i] > most ? lens[i] : most;
    free(lens);
    return most;
}

/* ---- one run of a grid ------------------------------------------------------------------ */

void rg_config_grid_run(const rg_config *base, int t, int p, int s, rg_config *out) {
    *out = *base;
    out->task = base->tasks[t];
    /* the entry's own alphabet ("sort:5"), else the one its task fixes */
    if (base->task_symbols[t])
        out->model.n_symbols = base->task_symbols[t];
    else if (rg_task_alphabet(out->task))
        out->model.n_symbols = rg_task_alphabet(out->task);
    out->model.schemes = base->positions[p];
    out->seed = base->seeds[s];
    /* the entry's own settings, checked when the list was read */
    snprintf(out->entry_keys, sizeof out->entry_keys, "%s", base->position_keys[p]);
    char where[RG_WHERE_MAX];
    snprintf(where, sizeof where, "positions entry %d (%.100s)", p + 1,
             rg_key_origin(base, rg_config_key_find("positions"), "default"));
    for (const char *q = base->position_keys[p]; *q == ':';) {
        char setting[RG_ENTRY_MAX];
        size_t len = strcspn(q + 1, ":");
        memcpy(setting, q + 1, len);
        setting[len] = '\0';
        char *eq = strchr(setting, '=');
        if (!eq) rg_die("grid: positions entry %d has a setting without '=': %s", p + 1, setting);
        *eq = '\0';
        rg_error err;
        if (rg_config_set(out, setting, eq + 1, where, &err))
            rg_die("grid: positions entry %d: %s (it was accepted when read)", p + 1, err.msg);
        q += 1 + len;
    }
}
