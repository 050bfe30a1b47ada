/*
 * cmd_info.c - INFO [section ...]: server state in Redis 7's text format.
 *
 * The reply is "# Section\r\n" followed by "field:value\r\n" lines, sections
 * separated by an empty line ("\r\n"), sent as a bulk string in RESP2 and a
 * verbatim "txt" string in RESP3. Field names and their order follow
 * redis-server 7.0 (plus pubsub_clients from 7.2, and herald_version); herald
 * prints only fields it can fill truthfully: features it does not have
 * (persistence, replication, eviction, keys) report their idle values.
 *
 * Sections are printed in a fixed order whatever the order of the arguments.
 * With no argument the default set is printed; "all", "everything" and
 * "default" select groups; names are case-insensitive; unknown names select
 * nothing (so INFO with only unknown names is the empty string).
 * commandstats (in "all") and errorstats (in the default set) are kept as in
 * Redis; latencystats (per-command latency percentiles) is not kept by herald
 * and never printed.
 *
 * used_memory_peak and the instantaneous_* rates are sampled when INFO runs:
 * the rates are averages over the interval since the previous INFO call (at
 * least 100 ms; a call sooner than that repeats the last figures).
 */
#include "server.h"
#include "alloc.h"
#include "cmds.h"
#include "db.h"
#include "tracking.h"
#include "hrtime.h"
#include "pubsub.h"
#include "server_int.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Shortest interval over which instantaneous_* rates are computed. */
#define INST_MIN_INTERVAL_MS 100

enum {
    SEC_SERVER = 1 << 0,
    SEC_CLIENTS = 1 << 1,
    SEC_MEMORY = 1 << 2,
    SEC_PERSISTENCE = 1 << 3,
    SEC_STATS = 1 << 4,
    SEC_REPLICATION = 1 << 5,
    SEC_CPU = 1 << 6,
    SEC_MODULES = 1 << 7,
    SEC_CLUSTER = 1 << 8,
    SEC_KEYSPACE = 1 << 9,
    SEC_ERRORSTATS = 1 << 10,
    SEC_COMMANDSTATS = 1 << 11,
    SEC_DEFAULT = (1 << 11) - 1,
    SEC_ALL = SEC_DEFAULT | SEC_COMMANDSTATS,
};

static const struct {
    const char *name;
    int bit;
} section_names[] = {
    {"server", SEC_SERVER},
    {"clients", SEC_CLIENTS},
    {"memory", SEC_MEMORY},
    {"persistence", SEC_PERSISTENCE},
    {"stats", SEC_STATS},
    {"replication", SEC_REPLICATION},
    {"cpu", SEC_CPU},
    {"modules", SEC_MODULES},
    {"module_list", SEC_MODULES},
    {"cluster", SEC_CLUSTER},
    {"keyspace", SEC_KEYSPACE},
    {"errorstats", SEC_ERRORSTATS},
    {"commandstats", SEC_COMMANDSTATS},
    {"default", SEC_DEFAULT},
    {"all", SEC_ALL},
    {"everything", SEC_ALL},
};

static int parse_sections(int argc, hr_arg *argv)
{
    if (argc < 2) return SEC_DEFAULT;
    int mask = 0;
    for (int i = 1; i < argc; i++)
        for (size_t j = 0; j < sizeof(section_names) / sizeof(section_names[0]); j++)
            if (hr_arg_eq(&argv[i], section_names[j].name)) mask |= section_names[j].bit;
    return mask;
}

/* Redis's bytesToHuman(): B below 1 KiB, then K/M/G/T/P with two decimals. */
static void bytes_human(char *out, size_t outlen, unsigned long long n)
{
    static const char units[] = "KMGTP";
    double d = (double)n;
    int u = -1;
    while (u < 4 && d >= 1024) {
        d /= 1024;
        u++;
    }
    if (u < 0 || d >= 1024)
        snprintf(out, outlen, "%lluB", n);
    else
        snprintf(out, outlen, "%.2f%c", d, units[u]);
}

/* Resident set size in bytes from /proc/self/statm (0 when unavailable). */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static unsigned long long total_system_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    return pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize : 0;
}

/* A build identifier: a hash of what went into this binary's identity. */
static const char *build_id(void)
{
    static char id[17];
    if (!id[0]) {
        const char *what = "herald-server " HERALD_VERSION " " __VERSION__;
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (const char *p = what; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)h);
    }
    return id;
}

static void refresh_samples(hr_server *s, size_t used)
{
    hr_stats *st = &s->stats;
    if (used > st->peak_memory) st->peak_memory = used;
    uint64_t now = hr_mono_ms();
    if (st->inst_sample_ms == 0) {
        st->inst_sample_ms = now;
        st->inst_sample_cmds = st->total_commands_processed;
        st->inst_sample_in = st->net_input_bytes;
        st->inst_sample_out = st->net_output_bytes;
        return;
    }
    uint64_t dt = now - st->inst_sample_ms;
    if (dt < INST_MIN_INTERVAL_MS) return;
    double secs = (double)dt / 1000.0;
    long long dcmd = st->total_commands_processed - st->inst_sample_cmds;
    long long din = st->net_input_bytes - st->inst_sample_in;
    long long dout = st->net_output_bytes - st->inst_sample_out;
    st->inst_ops_per_sec = dcmd > 0 ? (long long)((double)dcmd / secs + 0.5) : 0;
    st->inst_input_kbps = din > 0 ? (double)din / secs / 1024.0 : 0;
    st->inst_output_kbps = dout > 0 ? (double)dout / secs / 1024.0 : 0;
    st->inst_sample_ms = now;
    st->inst_sample_cmds = st->total_commands_processed;
    st->inst_sample_in = st->net_input_bytes;
    st->inst_sample_out = st->net_output_bytes;
}

static void section_server(hr_server *s, hr_buf *b)
{
    struct utsname un;
    if (uname(&un) != 0) memset(&un, 0, sizeof(un));
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    long long uptime = hr_server_uptime(s);
    int64_t now_us = hr_wall_us();
    unsigned long lru = (unsigned long)((now_us / 1000000) & ((1 << 24) - 1));
#ifdef __GNUC__
    int gmaj = __GNUC__, gmin = __GNUC_MINOR__, gpatch = __GNUC_PATCHLEVEL__;
#else
    int gmaj = 0, gmin = 0, gpatch = 0;
#endif
    hr_buf_appendf(b,
                   "# Server\r\n"
                   "redis_version:%s\r\n"
                   "herald_version:%s\r\n"
                   "redis_git_sha1:00000000\r\n"
                   "redis_git_dirty:0\r\n"
                   "redis_build_id:%s\r\n"
                   "redis_mode:standalone\r\n"
                   "os:%s %s %s\r\n"
                   "arch_bits:%d\r\n"
                   "monotonic_clock:POSIX clock_gettime\r\n"
                   "multiplexing_api:epoll\r\n"
                   "gcc_version:%d.%d.%d\r\n"
                   "process_id:%ld\r\n"
                   "process_supervised:no\r\n"
                   "run_id:%s\r\n"
                   "tcp_port:%d\r\n"
                   "server_time_usec:%lld\r\n"
                   "uptime_in_seconds:%lld\r\n"
                   "uptime_in_days:%lld\r\n"
                   "hz:%d\r\n"
                   "configured_hz:%d\r\n"
                   "lru_clock:%lu\r\n"
                   "executable:%s\r\n"
                   "config_file:%s\r\n"
                   "io_threads_active:0\r\n",
                   HR_REDIS_COMPAT_VERSION, HERALD_VERSION, build_id(), un.sysname, un.release,
                   un.machine, (int)(sizeof(long) * 8), gmaj, gmin, gpatch, (long)getpid(),
                   s->run_id, s->actual_port, (long long)now_us, uptime, uptime / 86400, s->cfg.hz,
                   s->cfg.hz, lru, exe, s->cfg.config_file ? s->cfg.config_file : "");
}

static void section_clients(hr_server *s, hr_buf *b)
{
    size_t max_in = 0, max_out = 0;
    long long pubsub_clients = 0;
    for (hr_conn *c = s->clients_head; c; c = c->next) {
        if (c->qbuf.cap > max_in) max_in = c->qbuf.cap;
        size_t omem = hr_outq_memory(&c->out);
        if (omem > max_out) max_out = omem;
        if (hr_conn_subscriptions(c) > 0) pubsub_clients++;
    }
    hr_buf_appendf(b,
                   "# Clients\r\n"
                   "connected_clients:%lld\r\n"
                   "cluster_connections:0\r\n"
                   "maxclients:%lld\r\n"
                   "client_recent_max_input_buffer:%zu\r\n"
                   "client_recent_max_output_buffer:%zu\r\n"
                   "blocked_clients:0\r\n"
                   "tracking_clients:%lld\r\n"
                   "pubsub_clients:%lld\r\n"
                   "clients_in_timeout_table:0\r\n",
                   s->nclients, s->cfg.maxclients, max_in, max_out, hr_tracking_clients(s),
                   pubsub_clients);
}

static void section_memory(hr_server *s, hr_buf *b, size_t used)
{
    size_t rss = rss_bytes();
    size_t peak = s->stats.peak_memory > used ? s->stats.peak_memory : used;
    unsigned long long sysmem = total_system_memory();
    size_t clients_mem = 0;
    for (hr_conn *c = s->clients_head; c; c = c->next)
        clients_mem += sizeof(*c) + c->qbuf.cap + hr_outq_memory(&c->out);
    char h_used[32], h_rss[32], h_peak[32], h_sys[32], h_max[32];
    bytes_human(h_max, sizeof(h_max), (size_t)s->cfg.maxmemory);
    bytes_human(h_used, sizeof(h_used), used);
    bytes_human(h_rss, sizeof(h_rss), rss);
    bytes_human(h_peak, sizeof(h_peak), peak);
    bytes_human(h_sys, sizeof(h_sys), sysmem);
    double frag = used ? (double)rss / (double)used : 0;
    hr_buf_appendf(b,
                   "# Memory\r\n"
                   "used_memory:%zu\r\n"
                   "used_memory_human:%s\r\n"
                   "used_memory_rss:%zu\r\n"
                   "used_memory_rss_human:%s\r\n"
                   "used_memory_peak:%zu\r\n"
                   "used_memory_peak_human:%s\r\n"
                   "used_memory_peak_perc:%.2f%%\r\n"
                   "total_system_memory:%llu\r\n"
                   "total_system_memory_human:%s\r\n"
                   "maxmemory:%lld\r\n"
                   "maxmemory_human:%s\r\n"
                   "maxmemory_policy:%s\r\n"
                   "mem_fragmentation_ratio:%.2f\r\n"
                   "mem_fragmentation_bytes:%lld\r\n"
                   "mem_not_counted_for_evict:0\r\n"
                   "mem_replication_backlog:0\r\n"
                   "mem_total_replication_buffers:0\r\n"
                   "mem_clients_slaves:0\r\n"
                   "mem_clients_normal:%zu\r\n"
                   "mem_cluster_links:0\r\n"
                   "mem_aof_buffer:0\r\n"
                   "mem_allocator:libc\r\n"
                   "active_defrag_running:0\r\n"
                   "lazyfree_pending_objects:%lld\r\n"
                   "lazyfreed_objects:%lld\r\n",
                   used, h_used, rss, h_rss, peak, h_peak,
                   peak ? (double)used * 100.0 / (double)peak : 0.0, sysmem, h_sys,
                   s->cfg.maxmemory, h_max, hr_maxmemory_policy_name(s->cfg.maxmemory_policy), frag,
                   (long long)rss - (long long)used, clients_mem, hr_db_lazyfree_pending(),
                   hr_db_lazyfreed());
}

static void section_persistence(hr_server *s, hr_buf *b)
{
    long long started = (long long)(hr_wall_us() / 1000000) - hr_server_uptime(s);
    hr_buf_appendf(b,
                   "# Persistence\r\n"
                   "loading:0\r\n"
                   "async_loading:0\r\n"
                   "current_cow_peak:0\r\n"
                   "current_cow_size:0\r\n"
                   "current_cow_size_age:0\r\n"
                   "current_fork_perc:0.00\r\n"
                   "current_save_keys_processed:0\r\n"
                   "current_save_keys_total:0\r\n"
                   "rdb_changes_since_last_save:%lld\r\n"
                   "rdb_bgsave_in_progress:0\r\n"
                   "rdb_last_save_time:%lld\r\n"
                   "rdb_last_bgsave_status:ok\r\n"
                   "rdb_last_bgsave_time_sec:-1\r\n"
                   "rdb_current_bgsave_time_sec:-1\r\n"
                   "rdb_saves:0\r\n"
                   "rdb_last_cow_size:0\r\n"
                   "rdb_last_load_keys_expired:0\r\n"
                   "rdb_last_load_keys_loaded:0\r\n"
                   "aof_enabled:0\r\n"
                   "aof_rewrite_in_progress:0\r\n"
                   "aof_rewrite_scheduled:0\r\n"
                   "aof_last_rewrite_time_sec:-1\r\n"
                   "aof_current_rewrite_time_sec:-1\r\n"
                   "aof_last_bgrewrite_status:ok\r\n"
                   "aof_rewrites:0\r\n"
                   "aof_rewrites_consecutive_failures:0\r\n"
                   "aof_last_write_status:ok\r\n"
                   "aof_last_cow_size:0\r\n"
                   "module_fork_in_progress:0\r\n"
                   "module_fork_last_cow_size:0\r\n",
                   s->dirty, started);
}

static void section_stats(hr_server *s, hr_buf *b)
{
    const hr_stats *st = &s->stats;
    hr_buf_appendf(b,
                   "# Stats\r\n"
                   "total_connections_received:%lld\r\n"
                   "total_commands_processed:%lld\r\n"
                   "instantaneous_ops_per_sec:%lld\r\n"
                   "total_net_input_bytes:%lld\r\n"
                   "total_net_output_bytes:%lld\r\n"
                   "total_net_repl_input_bytes:0\r\n"
                   "total_net_repl_output_bytes:0\r\n"
                   "instantaneous_input_kbps:%.2f\r\n"
                   "instantaneous_output_kbps:%.2f\r\n"
                   "instantaneous_input_repl_kbps:0.00\r\n"
                   "instantaneous_output_repl_kbps:0.00\r\n"
                   "rejected_connections:%lld\r\n"
                   "sync_full:0\r\n"
                   "sync_partial_ok:0\r\n"
                   "sync_partial_err:0\r\n"
                   "expired_keys:%lld\r\n"
                   "expired_stale_perc:%.2f\r\n"
                   "expired_time_cap_reached_count:%lld\r\n"
                   "expire_cycle_cpu_milliseconds:%lld\r\n"
                   "evicted_keys:%lld\r\n"
                   "evicted_clients:0\r\n"
                   "total_eviction_exceeded_time:0\r\n"
                   "current_eviction_exceeded_time:0\r\n"
                   "keyspace_hits:%lld\r\n"
                   "keyspace_misses:%lld\r\n"
                   "pubsub_channels:%zu\r\n"
                   "pubsub_patterns:%zu\r\n"
                   "pubsubshard_channels:%zu\r\n"
                   "latest_fork_usec:0\r\n"
                   "total_forks:0\r\n"
                   "migrate_cached_sockets:0\r\n"
                   "slave_expires_tracked_keys:0\r\n"
                   "active_defrag_hits:0\r\n"
                   "active_defrag_misses:0\r\n"
                   "active_defrag_key_hits:0\r\n"
                   "active_defrag_key_misses:0\r\n"
                   "total_active_defrag_time:0\r\n"
                   "current_active_defrag_time:0\r\n"
                   "tracking_total_keys:%lld\r\n"
                   "tracking_total_items:%lld\r\n"
                   "tracking_total_prefixes:%lld\r\n"
                   "unexpected_error_replies:%lld\r\n"
                   "total_error_replies:%lld\r\n"
                   "dump_payload_sanitizations:0\r\n"
                   "io_threaded_reads_processed:0\r\n"
                   "io_threaded_writes_processed:0\r\n"
                   "client_query_buffer_limit_disconnections:%lld\r\n"
                   "client_output_buffer_limit_disconnections:%lld\r\n",
                   st->total_connections_received, st->total_commands_processed,
                   st->inst_ops_per_sec, st->net_input_bytes, st->net_output_bytes,
                   st->inst_input_kbps, st->inst_output_kbps, st->rejected_connections,
                   st->expired_keys, st->expired_stale_perc * 100.0,
                   st->expired_time_cap_reached_count, st->expire_cycle_cpu_us / 1000,
                   st->evicted_keys, st->keyspace_hits, st->keyspace_misses,
                   hr_pubsub_count(s, HR_PS_CHANNEL), hr_pubsub_count(s, HR_PS_PATTERN),
                   hr_pubsub_count(s, HR_PS_SHARD), hr_tracking_total_keys(s),
                   hr_tracking_total_items(s), hr_tracking_total_prefixes(s),
                   st->unexpected_error_replies,
                   st->total_error_replies, st->client_qbl_disconnections,
                   st->client_obl_disconnections);
}

static void section_replication(hr_server *s, hr_buf *b)
{
    /* herald never replicates: its replication id is its run id. */
    hr_buf_appendf(b,
                   "# Replication\r\n"
                   "role:master\r\n"
                   "connected_slaves:0\r\n"
                   "master_failover_state:no-failover\r\n"
                   "master_replid:%s\r\n"
                   "master_replid2:0000000000000000000000000000000000000000\r\n"
                   "master_repl_offset:0\r\n"
                   "second_repl_offset:-1\r\n"
                   "repl_backlog_active:0\r\n"
                   "repl_backlog_size:1048576\r\n"
                   "repl_backlog_first_byte_offset:0\r\n"
                   "repl_backlog_histlen:0\r\n",
                   s->run_id);
}

static void append_tv(hr_buf *b, const char *name, const struct timeval *tv)
{
    hr_buf_appendf(b, "%s:%ld.%06ld\r\n", name, (long)tv->tv_sec, (long)tv->tv_usec);
}

static void section_cpu(hr_buf *b)
{
    struct rusage self = {0}, children = {0}, thread = {0};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
    hr_buf_append_str(b, "# CPU\r\n");
    append_tv(b, "used_cpu_sys", &self.ru_stime);
    append_tv(b, "used_cpu_user", &self.ru_utime);
    append_tv(b, "used_cpu_sys_children", &children.ru_stime);
    append_tv(b, "used_cpu_user_children", &children.ru_utime);
    append_tv(b, "used_cpu_sys_main_thread", &thread.ru_stime);
    append_tv(b, "used_cpu_user_main_thread", &thread.ru_utime);
}

static void section_keyspace(hr_server *s, hr_buf *b)
{
    hr_buf_append_str(b, "# Keyspace\r\n");
    for (int i = 0; i < s->cfg.databases; i++) {
        const hr_db *db = &s->db[i];
        size_t keys = hr_dict_size(&db->keys);
        if (!keys) continue;
        hr_buf_appendf(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, keys,
                       hr_db_volatile_count(db), db->avg_ttl);
    }
}

/* "cmdstat_<name>:..." for a command that has run or been refused since the
 * start or CONFIG RESETSTAT; subcommands are named "parent|sub". */
static void cmdstat_line(hr_server *s, hr_buf *b, const hr_command *cmd)
{
    const hr_cmdstat *st = &s->cmdstats[cmd->id];
    if (!st->calls && !st->rejected && !st->failed) return;
    char name[96], line[256];
    hr_command_fullname(cmd, name, sizeof(name));
    long long usec = (long long)(hr_ticks_to_ns(st->ticks) / 1000);
    int n = snprintf(line, sizeof(line),
                     "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
                     "failed_calls=%lld\r\n",
                     name, st->calls, usec, st->calls ? (double)usec / (double)st->calls : 0.0,
                     st->rejected, st->failed);
    if (n > 0 && (size_t)n < sizeof(line)) hr_buf_append(b, line, (size_t)n);
}

static void section_commandstats(hr_server *s, hr_buf *b)
{
    hr_buf_append_str(b, "# Commandstats\r\n");
    for (const hr_command *top = hr_command_table; top->name; top++) {
        cmdstat_line(s, b, top);
        if (top->subcommands)
            for (const hr_command *sub = top->subcommands; sub->name; sub++)
                cmdstat_line(s, b, sub);
    }
}

static void section_errorstats(hr_server *s, hr_buf *b)
{
    hr_buf_append_str(b, "# Errorstats\r\n");
    hr_dict_iter it;
    hr_dict_iter_init(&it, &s->errorstats);
    char line[160];
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        int n = snprintf(line, sizeof(line), "errorstat_%.*s:count=%zu\r\n", (int)e->klen,
                         e->key, e->aux);
        if (n > 0 && (size_t)n < sizeof(line)) hr_buf_append(b, line, (size_t)n);
    }
    hr_dict_iter_done(&it);
}

HR_CMD(info)
{
    hr_server *s = c->srv;
    int mask = parse_sections(argc, argv);
    size_t used = hr_alloc_used();
    refresh_samples(s, used);

    hr_buf out = HR_BUF_INIT, *b = &out;
    int printed = 0;
#define SECTION(bit, call)                                                                         \
    if (mask & (bit)) {                                                                            \
        if (printed++) hr_buf_append(b, "\r\n", 2);                                                \
        call;                                                                                      \
    }
    SECTION(SEC_SERVER, section_server(s, b));
    SECTION(SEC_CLIENTS, section_clients(s, b));
    SECTION(SEC_MEMORY, section_memory(s, b, used));
    SECTION(SEC_PERSISTENCE, section_persistence(s, b));
    SECTION(SEC_STATS, section_stats(s, b));
    SECTION(SEC_REPLICATION, section_replication(s, b));
    SECTION(SEC_CPU, section_cpu(b));
    SECTION(SEC_MODULES, hr_buf_append_str(b, "# Modules\r\n"));
    SECTION(SEC_COMMANDSTATS, section_commandstats(s, b));
    SECTION(SEC_ERRORSTATS, section_errorstats(s, b));
    SECTION(SEC_CLUSTER, hr_buf_append_str(b, "# Cluster\r\ncluster_enabled:0\r\n"));
    SECTION(SEC_KEYSPACE, section_keyspace(s, b));
#undef SECTION
    hr_reply_verbatim(c, b->data ? b->data : "", b->len);
    hr_buf_release(b);
}
