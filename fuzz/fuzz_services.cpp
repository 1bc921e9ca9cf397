// libFuzzer target: the service tables read at run time (the user's nmap-services, our
// data/services.tsv). Never throws on any input (a bad line is skipped); every exception or
// crash is a bug. The first byte picks the format.
// The -sV matcher and reply parsers: fuzz_service_probes.cpp.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_util.h"
#include "service/services.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  bool nmap = data[0] & 1;
  std::istringstream in{std::string(gh::fuzz::text(data + 1, size - 1))};
  gh::ServiceTable t =
      nmap ? gh::ServiceTable::from_nmap_services(in) : gh::ServiceTable::from_glasshouse_tsv(in);
  (void)t.name(gh::Protocol::Tcp, 80);
  (void)t.ports_for_name(gh::Protocol::Tcp, "http*");
  return 0;
}
