// How -sV's ServiceInfo is written: the text table's SERVICE and VERSION cells and the detail
// lines under a port (TLS, HTTP, SSH, notes), and the JSON Lines "service" record
// (output/jsonl_sink.h documents its fields). One home, so the sinks print the same facts.
#pragma once

#include <string>
#include <vector>

#include "output/result.h"

namespace gh {

// "http", "ssl/http" (inside TLS), as nmap's SERVICE column.
std::string service_cell(const ServiceInfo& s);
// "nginx 1.22.1", "OpenSSH 9.2p1 (protocol 2.0; Debian-2+deb12u10)", "" when nothing is known.
std::string version_cell(const ServiceInfo& s);
// "| tls: TLSv1.3 TLS_AES_256_GCM_SHA384", "| cert: subject CN=...; issuer ...; self-signed",
// "| http: 200; Server nginx/1.22.1; title \"Welcome\"", "| ssh-hostkey: ssh-ed25519 SHA256:...",
// "|_ note: ..." (the last line starts with "|_").
std::vector<std::string> service_details(const ServiceInfo& s);
// The {"type":"service",...} JSON object (one line, no newline). `engagement` appended when set.
std::string service_json(const ServiceInfo& s, const std::string& engagement);

}  // namespace gh
