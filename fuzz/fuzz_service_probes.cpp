// libFuzzer target for -sV's parsers and matcher: nmap's probe-file reader
// (service/nmap_probes.h), our TOML reader (service/toml_probes.h), the PCRE2 matcher with its
// templates (service/probe_db.h), and the HTTP and SSH reply parsers. Built with the other fuzz
// targets (GLASSHOUSE_FUZZ=ON, fuzz/CMakeLists.txt); seeds in fuzz/corpus/service_probes/.
//
// The first byte picks what the rest is:
//   0  an nmap-service-probes file; each of its probes then matches a few fixed replies
//   1  our TOML probe file, likewise
//   else  a service reply, matched against every probe of the shipped data/service-probes.toml,
//         and parsed as an HTTP reply, an SSH identification line and SSH packets
// Bad input must end in UsageError (a clear error), never a crash, a hang or a read out of bounds.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "core/build_paths.h"
#include "core/error.h"
#include "service/nmap_probes.h"
#include "service/probe_db.h"
#include "service/ssh_hostkey.h"
#include "service/toml_probes.h"
#include "service/version_scan.h"

namespace {

void match_some(const gh::ProbeDb& db) {
  static const char* const kReplies[] = {"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
                                         "HTTP/1.1 200 OK\r\nServer: x/1\r\n\r\n",
                                         "220 (vsFTPd 3.0.3)\r\n", "\0\0\0\0\xff\xfe"};
  for (const auto& p : db.probes())
    for (const char* r : kReplies) (void)db.match(p, r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] == 0) {
      std::istringstream in{std::string(rest)};
      match_some(gh::parse_nmap_probes(in, "fuzz", gh::DbSource::Nmap));
    } else if (data[0] == 1) {
      match_some(gh::parse_toml_probes(std::string(rest), "fuzz.toml"));
    } else {
      static const gh::ProbeDb shipped =
          gh::load_toml_probes(std::string(GLASSHOUSE_SOURCE_DATADIR) + "/service-probes.toml");
      for (const auto& p : shipped.probes()) (void)shipped.match(p, rest);
      (void)gh::parse_http(rest);
      std::string proto, software;
      (void)gh::parse_ssh_banner(rest, proto, software);
      gh::SshKex kex;
      (void)kex.feed(rest);
      (void)gh::expand_template(rest, {rest, rest.substr(0, rest.size() / 2)});
    }
  } catch (const gh::UsageError&) {
  }
  return 0;
}
