/*
 * cmd_command.c - COMMAND and its subcommands: COUNT, INFO, DOCS, LIST, HELP.
 *
 * Everything is built from hr_command_table (commands.c), the same table
 * dispatch uses, so what COMMAND reports cannot drift from what runs. The
 * reply shapes are those of Redis 7.0:
 *
 *  COMMAND INFO entry: [name, arity, flags, first key, last key, key step,
 *    ACL categories, tips, key specs, subcommands]. flags and categories are
 *    sets of status strings, tips a set of bulk strings, key specs a set of
 *    maps, subcommands an array of entries of the same shape (named
 *    "parent|sub") or an empty set when the command has none. Sets and maps
 *    are RESP3 types that degrade to arrays in RESP2.
 *  COMMAND DOCS: a map of name -> map of summary, since, group, complexity
 *    and (for containers) subcommands (a map of the same shape). Argument
 *    descriptions are not kept in the table and are left out.
 *
 * Names may be given as "parent|sub" to address a subcommand, matched case
 * insensitively, as Redis does.
 */
#include "server.h"
#include "cmds.h"
#include "glob.h"
#include "util.h"

#include <string.h>
#include <strings.h>

/* --- helpers ------------------------------------------------------------- */

/* Calls fn on each space separated word of s (NULL is the empty list);
 * returns the number of words. */
static long long words_each(const char *s, hr_conn *c, void (*fn)(hr_conn *, const char *, size_t))
{
    long long n = 0;
    if (!s) return 0;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        if (fn) fn(c, s, (size_t)(e - s));
        n++;
        s = e;
    }
    return n;
}

static void emit_status(hr_conn *c, const char *w, size_t len)
{
    char tmp[128];
    if (len >= sizeof(tmp)) len = sizeof(tmp) - 1;
    memcpy(tmp, w, len);
    tmp[len] = '\0';
    hr_reply_simple(c, tmp);
}

static void emit_bulk(hr_conn *c, const char *w, size_t len)
{
    hr_reply_bulk(c, w, len);
}

/* A set of status strings (flags, ACL categories). */
static void reply_status_set(hr_conn *c, const char *words)
{
    hr_reply_set(c, words_each(words, NULL, NULL));
    words_each(words, c, emit_status);
}

/* True when the space separated list contains word (case-insensitive). */
static bool words_contain(const char *list, const char *word, size_t len)
{
    if (!list || len == 0) return false;
    const char *s = list;
    while (*s) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - s) == len && strncasecmp(s, word, len) == 0) return true;
        s = e;
    }
    return false;
}

static size_t subcommand_count(const hr_command *cmd)
{
    size_t n = 0;
    if (cmd->subcommands)
        while (cmd->subcommands[n].name)
            n++;
    return n;
}

/* Looks up "name" or "parent|sub" (case-insensitive); NULL when unknown. */
static const hr_command *lookup_fullname(const hr_server *s, const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (!bar) return hr_command_lookup(s, name, len);
    const hr_command *parent = hr_command_lookup(s, name, (size_t)(bar - name));
    if (!parent || !parent->subcommands) return NULL;
    const char *sub = bar + 1;
    size_t sublen = len - (size_t)(sub - name);
    if (memchr(sub, '|', sublen)) return NULL;
    for (const hr_command *c = parent->subcommands; c->name; c++)
        if (hr_streq_nocase(sub, sublen, c->name)) return c;
    return NULL;
}

static const char *group_of(const hr_command *cmd)
{
    if (cmd->group) return cmd->group;
    if (cmd->parent && cmd->parent->group) return cmd->parent->group;
    return "generic";
}

/* --- COMMAND INFO -------------------------------------------------------- */

static void reply_key_spec(hr_conn *c, const hr_key_spec *ks)
{
    hr_reply_map(c, ks->notes ? 4 : 3);
    if (ks->notes) {
        hr_reply_bulk_str(c, "notes");
        hr_reply_bulk_str(c, ks->notes);
    }
    hr_reply_bulk_str(c, "flags");
    reply_status_set(c, ks->flags);
    hr_reply_bulk_str(c, "begin_search");
    hr_reply_map(c, 2);
    hr_reply_bulk_str(c, "type");
    hr_reply_bulk_str(c, "index");
    hr_reply_bulk_str(c, "spec");
    hr_reply_map(c, 1);
    hr_reply_bulk_str(c, "index");
    hr_reply_int(c, ks->bs_index);
    hr_reply_bulk_str(c, "find_keys");
    hr_reply_map(c, 2);
    hr_reply_bulk_str(c, "type");
    hr_reply_bulk_str(c, "range");
    hr_reply_bulk_str(c, "spec");
    hr_reply_map(c, 3);
    hr_reply_bulk_str(c, "lastkey");
    hr_reply_int(c, ks->fk_lastkey);
    hr_reply_bulk_str(c, "keystep");
    hr_reply_int(c, ks->fk_keystep);
    hr_reply_bulk_str(c, "limit");
    hr_reply_int(c, ks->fk_limit);
}

/* One COMMAND INFO entry; a NULL cmd is the null reply of an unknown name. */
static void reply_command_info(hr_conn *c, const hr_command *cmd)
{
    if (!cmd) {
        hr_reply_null(c);
        return;
    }
    char full[96];
    hr_command_fullname(cmd, full, sizeof(full));
    hr_reply_array(c, 10);
    hr_reply_bulk_str(c, full);
    hr_reply_int(c, cmd->arity);
    reply_status_set(c, cmd->info);
    hr_reply_int(c, cmd->first_key);
    hr_reply_int(c, cmd->last_key);
    hr_reply_int(c, cmd->key_step);
    reply_status_set(c, cmd->acl);
    hr_reply_set(c, words_each(cmd->tips, NULL, NULL));
    words_each(cmd->tips, c, emit_bulk);
    hr_reply_set(c, cmd->key_specs_num);
    for (int i = 0; i < cmd->key_specs_num; i++)
        reply_key_spec(c, &cmd->key_specs[i]);
    size_t nsub = subcommand_count(cmd);
    if (nsub == 0) {
        hr_reply_set(c, 0);
        return;
    }
    hr_reply_array(c, (long long)nsub);
    for (size_t i = 0; i < nsub; i++)
        reply_command_info(c, &cmd->subcommands[i]);
}

static void reply_all_info(hr_conn *c)
{
    hr_reply_array(c, (long long)hr_command_count());
    for (const hr_command *cmd = hr_command_table; cmd->name; cmd++)
        reply_command_info(c, cmd);
}

HR_CMD(command)
{
    reply_all_info(c);
}

HR_CMD(command_count)
{
    hr_reply_int(c, (long long)hr_command_count());
}

HR_CMD(command_info)
{
    if (argc == 2) {
        reply_all_info(c);
        return;
    }
    hr_reply_array(c, argc - 2);
    for (int i = 2; i < argc; i++)
        reply_command_info(c, lookup_fullname(c->srv, argv[i].ptr, argv[i].len));
}

/* --- COMMAND DOCS -------------------------------------------------------- */

static void reply_command_docs(hr_conn *c, const hr_command *cmd)
{
    size_t nsub = subcommand_count(cmd);
    long long fields =
        1 + (cmd->summary != NULL) + (cmd->since != NULL) + (cmd->complexity != NULL) + (nsub > 0);
    hr_reply_map(c, fields);
    if (cmd->summary) {
        hr_reply_bulk_str(c, "summary");
        hr_reply_bulk_str(c, cmd->summary);
    }
    if (cmd->since) {
        hr_reply_bulk_str(c, "since");
        hr_reply_bulk_str(c, cmd->since);
    }
    hr_reply_bulk_str(c, "group");
    hr_reply_bulk_str(c, group_of(cmd));
    if (cmd->complexity) {
        hr_reply_bulk_str(c, "complexity");
        hr_reply_bulk_str(c, cmd->complexity);
    }
    if (nsub > 0) {
        hr_reply_bulk_str(c, "subcommands");
        hr_reply_map(c, (long long)nsub);
        for (size_t i = 0; i < nsub; i++) {
            char full[96];
            hr_command_fullname(&cmd->subcommands[i], full, sizeof(full));
            hr_reply_bulk_str(c, full);
            reply_command_docs(c, &cmd->subcommands[i]);
        }
    }
}

HR_CMD(command_docs)
{
    char full[96];
    if (argc == 2) {
        hr_reply_map(c, (long long)hr_command_count());
        for (const hr_command *cmd = hr_command_table; cmd->name; cmd++) {
            hr_reply_bulk_str(c, cmd->name);
            reply_command_docs(c, cmd);
        }
        return;
    }
    /* Unknown names are left out, so the map's size is known only after
     * the lookups. */
    long long found = 0;
    for (int i = 2; i < argc; i++)
        if (lookup_fullname(c->srv, argv[i].ptr, argv[i].len)) found++;
    hr_reply_map(c, found);
    for (int i = 2; i < argc; i++) {
        const hr_command *cmd = lookup_fullname(c->srv, argv[i].ptr, argv[i].len);
        if (!cmd) continue;
        hr_command_fullname(cmd, full, sizeof(full));
        hr_reply_bulk_str(c, full);
        reply_command_docs(c, cmd);
    }
}

/* --- COMMAND LIST -------------------------------------------------------- */

enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN };

static bool list_filter_pass(const hr_command *cmd, const char *full, int type, const hr_arg *arg)
{
    switch (type) {
    case FILTER_MODULE: return false; /* herald has no modules */
    case FILTER_ACLCAT: {
        /* The category is named without its '@'; the table keeps it with. */
        char cat[72];
        if (arg->len + 2 > sizeof(cat)) return false;
        cat[0] = '@';
        memcpy(cat + 1, arg->ptr, arg->len);
        return arg->len > 0 && memchr(arg->ptr, ' ', arg->len) == NULL &&
               words_contain(cmd->acl, cat, arg->len + 1);
    }
    case FILTER_PATTERN: return hr_glob_match(arg->ptr, arg->len, full, strlen(full), true);
    default: return true;
    }
}

HR_CMD(command_list)
{
    int type = FILTER_NONE;
    const hr_arg *farg = NULL;
    for (int i = 2; i < argc; i++) {
        int more = argc - 1 - i;
        if (hr_arg_eq(&argv[i], "filterby") && more == 2) {
            if (hr_arg_eq(&argv[i + 1], "module"))
                type = FILTER_MODULE;
            else if (hr_arg_eq(&argv[i + 1], "aclcat"))
                type = FILTER_ACLCAT;
            else if (hr_arg_eq(&argv[i + 1], "pattern"))
                type = FILTER_PATTERN;
            else {
                hr_reply_syntax_error(c);
                return;
            }
            farg = &argv[i + 2];
            i += 2;
        } else {
            hr_reply_syntax_error(c);
            return;
        }
    }
    size_t tok = hr_reply_defer(c);
    long long n = 0;
    char full[96];
    for (const hr_command *cmd = hr_command_table; cmd->name; cmd++) {
        if (list_filter_pass(cmd, cmd->name, type, farg)) {
            hr_reply_bulk_str(c, cmd->name);
            n++;
        }
        if (!cmd->subcommands) continue;
        for (const hr_command *sub = cmd->subcommands; sub->name; sub++) {
            hr_command_fullname(sub, full, sizeof(full));
            if (list_filter_pass(sub, full, type, farg)) {
                hr_reply_bulk_str(c, full);
                n++;
            }
        }
    }
    hr_reply_deferred_len(c, tok, '*', n);
}

/* --- COMMAND HELP -------------------------------------------------------- */

HR_CMD(command_help)
{
    static const char *const lines[] = {
        "(no subcommand)",
        "    Describe every command this server knows, like INFO without names.",
        "COUNT",
        "    Report how many top-level commands this server knows.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Name every command and subcommand, or only those the filter selects.",
        "INFO [<command-name> ...]",
        "    Describe the named commands (\"parent|sub\" names a subcommand); with no",
        "    names, describe them all.",
        "DOCS [<command-name> ...]",
        "    Give the summary, version, group and complexity of the named commands;",
        "    with no names, of them all.",
        NULL,
    };
    hr_reply_help(c, "COMMAND", lines);
}
