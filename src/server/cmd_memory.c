/*
 * cmd_memory.c - MEMORY USAGE / PURGE / DOCTOR / MALLOC-STATS / HELP: the
 * memory introspection tools such as redis-cli --memkeys rely on.
 */
#include "server.h"
#include "cmds.h"
#include "db.h"

#include <malloc.h>
#include <string.h>

/* Bytes held by one key: its dict entry (with the name), the object and a
 * string's separate buffer, as the allocator sized them, plus the bucket
 * slot and, for a volatile key, its entry in the expires table. */
static size_t key_memory(const hr_dict_entry *e)
{
    const hr_obj *o = e->val;
    size_t n = malloc_usable_size((void *)e) + malloc_usable_size((void *)o) + sizeof(void *);
    if (o->enc == HR_ENC_RAW) n += malloc_usable_size(o->v.ptr);
    if (e->aux) n += sizeof(hr_dict_entry) + e->klen + 1 + sizeof(void *);
    return n;
}

HR_CMD(memory_usage)
{
    /* [SAMPLES count]: accepted for compatibility; strings have nothing to
     * sample. */
    for (int i = 3; i < argc; i++) {
        long long samples;
        if (hr_arg_eq(&argv[i], "samples") && i + 1 < argc) {
            if (!hr_arg_ll(&argv[i + 1], &samples)) {
                hr_reply_error(c, "ERR value is not an integer or out of range");
                return;
            }
            i++;
        } else {
            hr_reply_syntax_error(c);
            return;
        }
    }
    hr_dict_entry *e = hr_db_lookup_entry(c->srv, hr_conn_db(c), argv[2].ptr, argv[2].len,
                                          HR_LOOKUP_NOTOUCH | HR_LOOKUP_NONOTIFY |
                                              HR_LOOKUP_NOSTATS);
    if (!e) {
        hr_reply_null(c);
        return;
    }
    hr_reply_int(c, (long long)key_memory(e));
}

HR_CMD(memory_purge)
{
    malloc_trim(0);
    hr_reply_ok(c);
}

HR_CMD(memory_doctor)
{
    static const char text[] = "herald keeps no memory diagnostics beyond INFO memory; nothing to "
                               "report.";
    hr_reply_verbatim(c, text, sizeof(text) - 1);
}

HR_CMD(memory_malloc_stats)
{
    static const char text[] = "Stats not supported for the current allocator";
    hr_reply_verbatim(c, text, sizeof(text) - 1);
}

HR_CMD(memory_help)
{
    static const char *help[] = {
        "DOCTOR",
        "    Describe memory problems (herald has no report beyond INFO memory).",
        "MALLOC-STATS",
        "    Return the allocator's own statistics, when it has any.",
        "PURGE",
        "    Ask the allocator to give unused memory back to the system.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return the bytes used by <key> and its value (SAMPLES is accepted and has",
        "    no effect on strings).",
        NULL,
    };
    hr_reply_help(c, "MEMORY", help);
}
