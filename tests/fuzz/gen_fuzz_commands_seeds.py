#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_commands (tests/fuzz/corpus/fuzz_commands/)
and its dictionary (tests/fuzz/fuzz_commands.dict).

Each seed is a list of commands encoded in fuzz_commands.c's input format;
the token tables (cmds, words, nums, the subcommand tables) are read from
fuzz_commands.c itself so the seeds follow any change to them. Re-run after
editing the tables or the format:
    tests/fuzz/gen_fuzz_commands_seeds.py
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = open(os.path.join(HERE, "fuzz_commands.c")).read()


def table(name):
    body = re.search(r"\b%s\[\] = \{(.*?)\};" % name, SRC, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return re.findall(r'"((?:[^"\\]|\\.)*)"', body)


def const(name):
    return int(re.search(r"#define %s (0x[0-9A-Fa-f]+)" % name, SRC).group(1), 16)


CMDS, WORDS, NUMS = table("cmds"), table("words"), table("nums")
T_NUM, T_RAW, T_BIG, T_CMD_END = const("T_NUM"), const("T_RAW"), const("T_BIG"), const("T_CMD_END")
CONTAINERS = {m.group(1): table(m.group(2)) for m in re.finditer(r'SUBS\("([a-z]+)", (\w+)\)', SRC)}
assert len(CMDS) <= T_CMD_END and len(WORDS) <= T_NUM and len(NUMS) <= T_RAW - T_NUM


def arg(a, first, container=None):
    if container and a.lower() in CONTAINERS[container]:
        return bytes([CONTAINERS[container].index(a.lower())])
    if first and a.lower() in CMDS:
        return bytes([CMDS.index(a.lower())])
    pre = bytes([T_CMD_END]) if first else b""
    if a.startswith("#big"):  # "#big<i>": big_lens[i] bytes of 'x'
        return pre + bytes([T_BIG + int(a[4:]), ord("x")])
    if a in WORDS:
        return pre + bytes([WORDS.index(a)])
    if a in NUMS:
        return pre + bytes([T_NUM + NUMS.index(a)])
    raw = a.encode()
    assert len(raw) < T_BIG - T_RAW, a
    return pre + bytes([T_RAW + len(raw)]) + raw


def cmd(line, conn=0, sync=True, inline=False):
    """One command: a list of args (or a space-separated string)."""
    args = line.split(" ") if isinstance(line, str) else line
    assert 1 <= len(args) <= 10, line
    out = bytes([conn | (4 if sync else 0) | (0xF0 if inline else 0), len(args) - 1])
    container = args[0].lower() if args[0].lower() in CONTAINERS else None
    for i, a in enumerate(args):
        out += arg(a, i == 0, container if i == 1 else None)
    return out


def special(kind, conn=0):
    return bytes([3, {"reconnect": 0, "sleep": 1, "pump": 2, "stall": 3}[kind] | conn << 2])


SEEDS = {
    "strings": [cmd("set k 10"), cmd("incrby k 5"), cmd("append k xyz"), cmd("getrange k 0 -1"),
                cmd("setrange k 5 abc"), cmd("strlen k"), cmd("incrbyfloat k1 1.5"),
                cmd("getex k PX 100"), cmd("getdel k")],
    "bits": [cmd("setbit k 7 1"), cmd("setbit k 100 1"), cmd("bitcount k 0 -1 BIT"),
             cmd("bitpos k 1 0 -1 BYTE"), cmd("bitop AND k2 k k1"), cmd("getbit k 100")],
    "lcs": [cmd("mset k ohmytext k1 mynewtext"), cmd("lcs k k1 IDX MINMATCHLEN 2 WITHMATCHLEN"),
            cmd("lcs k k1 LEN")],
    "expiry": [cmd("set k v PX 1"), cmd("set k1 v EX 100"), cmd("expire k1 10 GT"),
               special("sleep"), cmd("ttl k1"), cmd("persist k1"), cmd("exists k k1"),
               cmd("pexpire k1 1 NX"), special("sleep"), cmd("scan 0 MATCH k* COUNT 10 TYPE string")],
    "keys": [cmd("mset k 1 k1 2 foo 3"), cmd("rename k k2"), cmd("move k2 1"), cmd("swapdb 0 1"),
             cmd("select 1"), cmd("keys *"), cmd("object encoding k1"), cmd("object freq k1"),
             cmd("memory usage k1"), cmd("type foo"), cmd("randomkey"), cmd("dbsize")],
    "multi": [cmd("watch k", 0), cmd("set k x", 1), cmd("multi", 0), cmd("get k", 0),
              cmd("incr k1", 0), cmd("exec", 0), cmd("multi", 1), cmd("nosuchcmd", 1),
              cmd("exec", 1)],
    "tracking": [cmd("hello 3", 0), cmd("client tracking ON", 0), cmd("get k", 0),
                 cmd("set k 1", 1), cmd("client id", 1), cmd("subscribe __redis__:invalidate", 1),
                 cmd("client tracking ON REDIRECT @id1 BCAST PREFIX k", 0), cmd("set k1 2", 2),
                 cmd("client trackinginfo", 0)],
    "tracking_redirect": [cmd("hello 3", 1), cmd("client tracking ON REDIRECT @id1", 0),
                          cmd("get k", 0), cmd("set k 1", 2), special("reconnect", 1),
                          cmd("set k 2", 2), cmd("get k", 0), cmd("set k 3", 2),
                          cmd("client getredir", 0)],
    "tracking_shared": [cmd("client tracking ON", 0), cmd("client tracking ON", 1),
                        cmd("client tracking ON NOLOOP", 2), cmd("get k", 0), cmd("get k", 1),
                        cmd("mget k k1", 2), cmd("set k 1", 2), cmd("client tracking OFF", 1),
                        cmd("get k1", 1), cmd("set k1 1", 0)],
    "tracking_optin": [cmd("hello 3"), cmd("client tracking ON OPTIN NOLOOP"),
                       cmd("client caching YES"), cmd("get k"), cmd("set k 2", 1),
                       cmd("client tracking OFF")],
    "pubsub": [cmd("subscribe ch", 0), cmd("psubscribe ch*", 1),
               cmd("config set notify-keyspace-events KEA", 2),
               cmd("psubscribe __key*__:*", 1), cmd("set k v PX 1", 2, False),
               cmd("publish ch hello", 2), cmd("pubsub numsub ch", 2), special("sleep"),
               cmd("get k", 2), cmd("ping", 1), cmd("unsubscribe", 0), cmd("reset", 1)],
    "eviction": [cmd("config set maxmemory-policy allkeys-lru"), cmd("set k 10000"),
                 cmd(["setrange", "k1", "20000", "x"]), cmd("config set maxmemory 1kb"),
                 cmd("set k2 v"), cmd("info memory"), cmd("config set maxmemory 0")],
    "client": [cmd("client setname foo"), cmd("client list"), cmd("client info"),
               cmd("client no-evict ON"), cmd("client reply OFF"), cmd("ping"),
               cmd("client reply ON"), cmd("client kill ID @id0", 1), cmd("reset")],
    "config": [cmd("config get maxmemory*"), cmd("config set hz 100 timeout 0"),
               cmd(["config", "set", "client-output-buffer-limit", "normal 1 1 0"], 1), cmd("keys *", 1),
               cmd("config resetstat"), cmd("command count"), cmd("command info get set")],
    "pipeline_stall": [special("stall", 1)] + [cmd("echo hello", 1, False)] * 8 +
                      [cmd("client list"), special("reconnect", 1), cmd("ping", 1)],
    "inline": [cmd(["set", "k", '"a b\\x41"'], inline=True), cmd("get k", inline=True),
               cmd(["echo", "'unbalanced"], 1, inline=True), cmd("ping", 1)],
    "split": [bytes([8 | 4, 2]) + arg("set", True) + arg("k", False) + arg("v", False),
              cmd("get k")],
    "obl_pubsub": [cmd(["config", "set", "client-output-buffer-limit", "pubsub 200 100 0"]),
                   cmd("subscribe ch", 1), special("stall", 1)] +
                  [cmd("publish ch #big4", 2, False)] * 6 + [cmd("client list", 2)],
    "lfu": [cmd("config set maxmemory-policy allkeys-lfu lfu-log-factor 0"), cmd("set k 1"),
            cmd("get k"), cmd("object freq k"), cmd("object idletime k"),
            cmd("object refcount k"), cmd("client no-touch ON"), cmd("get k"),
            cmd("touch k"), cmd("memory doctor"), cmd("memory purge")],
    "bcast": [cmd("hello 3"), cmd("client tracking ON BCAST PREFIX k PREFIX k1"),
              cmd("client tracking ON BCAST PREFIX a PREFIX ab"), cmd("mset k1 1 k2 2 k 3", 1),
              cmd("del k1 k2", 1), cmd("client tracking OFF"), cmd("get k")],
    "command": [cmd("command list FILTERBY PATTERN c*"), cmd("command list FILTERBY ACLCAT read"),
                cmd("command docs get"), cmd("command getkeys set k v"), cmd("function flush"),
                cmd("client list TYPE normal"), cmd("client kill TYPE pubsub"),
                cmd("hello 3 SETNAME foo"), cmd("debug log hello")],
}


# Dictionary: whole encoded commands the mutator can splice in (the format
# is byte-indexed, so these matter more than words), then plain words for
# raw arguments and inline commands.
DICT_CMDS = [
    "multi", "exec", "discard", "watch k", "unwatch", "hello 3", "hello 2", "reset", "quit",
    "client tracking ON", "client tracking ON BCAST", "client tracking ON OPTIN",
    "client tracking ON REDIRECT @id1", "client caching YES", "client reply OFF",
    "client kill ID @id0", "subscribe ch", "psubscribe ch*", "publish ch x",
    "subscribe __redis__:invalidate", "config set maxmemory 1kb",
    "config set maxmemory-policy allkeys-lru", "config set notify-keyspace-events KEA",
    "set k v PX 1", "get k", "select 1", "swapdb 0 1", "flushall ASYNC", "setrange k 1048575 x",
    "setbit k 8388607 1", "lcs k k1 IDX", "scan 0 COUNT 1000", "keys *",
]
DICT_WORDS = [
    "get", "set", "getex", "incrbyfloat", "setrange", "bitpos", "bitcount", "lcs", "scan", "client",
    "tracking", "config", "object", "memory", "pubsub", "subscribe", "multi", "exec", "watch",
    "EX", "PX", "KEEPTTL", "BCAST", "PREFIX", "REDIRECT", "NOLOOP", "IDX", "9223372036854775807",
    "-9223372036854775808", "4294967296", "1e308", "inf", "0x", "\"", "'", "\\x", " ",
]


def dict_line(b):
    return '"' + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c
                         for c in b) + '"'


# One long seed mixing the scenarios, so that the mutator works on inputs of
# many commands from the start (libFuzzer's length limit starts at the
# longest seed).
SEEDS["mixed"] = (SEEDS["tracking"] + SEEDS["multi"] + SEEDS["pubsub"] + SEEDS["expiry"] +
                  SEEDS["keys"] + SEEDS["strings"])[:64]


def main():
    out = os.path.join(HERE, "corpus", "fuzz_commands")
    os.makedirs(out, exist_ok=True)
    for name, cmds in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(cmds))
    lines = ["# libFuzzer dictionary for fuzz_commands (written by gen_fuzz_commands_seeds.py)"]
    lines += [dict_line(cmd(c)) for c in DICT_CMDS]
    lines += [dict_line(special(k)) for k in ("reconnect", "sleep", "pump", "stall")]
    lines += [dict_line(w.encode()) for w in DICT_WORDS]
    with open(os.path.join(HERE, "fuzz_commands.dict"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
