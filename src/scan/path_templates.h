// The packet templates of a probe module (probe_module.h), one per address family: prepare()
// makes the template of each family's path with our source address on it; build() and
// classify() read them. A family prepare() was not called for has no template (get() is null).
// Written once on the preparing thread before any send or receive thread starts, then read-only.
#pragma once

#include <optional>

#include "core/address.h"
#include "scan/probe_module.h"

namespace gh {

// The path's part of a template's parameters (net::SynTemplateParams, net::UdpDatagramParams):
// our address, the framing and its MACs, TTL/hop limit 64. The module adds its own fields.
template <class Params>
Params path_params(const PathInfo& path) {
  Params p;
  p.src = path.source;
  p.ethernet = path.framing == LinkFraming::Ethernet;
  p.src_mac = path.src_mac;
  p.dst_mac = path.dst_mac;
  p.ttl = 64;
  return p;
}

template <class Template>
class PathTemplates {
 public:
  // The template of `source`'s family, made from `params`; our address on that path.
  template <class Params>
  void emplace(const IpAddress& source, const Params& params) {
    Slot& s = source.is_v4() ? v4_ : v6_;
    s.tmpl.emplace(params);
    s.source = source;
  }
  const Template* get(Family f) const {
    const Slot& s = slot(f);
    return s.tmpl ? &*s.tmpl : nullptr;
  }
  // Our address on family f's path (unset before emplace()).
  const IpAddress& source(Family f) const { return slot(f).source; }

 private:
  struct Slot {
    std::optional<Template> tmpl;
    IpAddress source;
  };
  const Slot& slot(Family f) const { return f == Family::V4 ? v4_ : v6_; }
  Slot v4_, v6_;
};

}  // namespace gh
