// Reader of our own probe/match database, data/service-probes.toml (docs/SERVICE_PROBES.md says
// how it was made and how to add a service). One [[probe]] table per probe, its rules as
// [[probe.match]] tables under it:
//
//   [[probe]]
//   name = "RedisInfo"          # unique per protocol; "NULL" (no payload) waits for a banner
//   proto = "tcp"
//   payload = '*1\r\n$4\r\nINFO\r\n'   # nmap's escapes (\r \n \0 \xHH ...), in a literal string
//   ports = "6379"              # where it is likely (nmap's list syntax); sslports likewise
//   rarity = 3                  # 1 (always tried) .. 9 (only with --version-all)
//   wait_ms = 3000              # the longest it may wait for a reply (RTT-adapted waits are less)
//   fallback = ["GetRequest"]
//
//   [[probe.match]]
//   service = "redis"
//   pattern = '^\$\d+\r\n# Server\r\nredis_version:([\d.]+)\r\n'   # PCRE2
//   flags = "s"                 # i (caseless) and/or s (dot matches newline)
//   soft = false
//   product = "Redis key-value store"
//   version = "$1"              # templates as nmap's: $1 $P(1) $SUBST(1,"_",".") $I(1,">")
//   info = "..."   hostname = "..."   ostype = "..."   devicetype = "..."
//   cpe = ["cpe:/a:redis:redis:$1"]
//
// Unknown keys, a wrong type, a bad port list or a rule without service/pattern throw UsageError
// naming the file and the probe. Regexes are compiled (and checked) by the unit test over the
// shipped file, and on first use at run time.
#pragma once

#include <string>

#include "service/probe_db.h"

namespace gh {

ProbeDb parse_toml_probes(const std::string& text, const std::string& name);
ProbeDb load_toml_probes(const std::string& path);

}  // namespace gh
