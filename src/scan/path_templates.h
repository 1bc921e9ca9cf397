// The packet templates of a probe module (probe_module.h), one per address family: prepare()
// makes the template of each family's path with our source address on it; build() and
// classify() read them. A family prepare() was not called for has no template (get() is null).
// Written once on the preparing thread before any send or receive thread starts, then read-only.
//
// -S (scan/source_pool.h): a port module calls emplace_pool(), which makes one template per
// address of the family's pool (PathInfo::sources). build() sends the probe to (dst, port) from
// pick(dst, port): the template of the address source_slot() chooses. classify() accepts a reply
// only when it is addressed to the address pick() gives for the probe it answers (and its cookie,
// which covers the source address, matches). With no pool there is one template per family and
// pick() always returns it: the frames are those of a scan without -S.
#pragma once

#include <optional>
#include <vector>

#include "core/address.h"
#include "scan/probe_module.h"
#include "scan/source_pool.h"

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
  // One template with its source address.
  struct Entry {
    Template tmpl;
    IpAddress source;
  };

  PathTemplates() : key_(0, 0) {}
  // `keys`: the scan's keys, from which the pool's slot key is derived (source_pool_key()).
  explicit PathTemplates(const ModuleKeys& keys) : key_(source_pool_key(keys.k0, keys.k1)) {}

  // The template of `source`'s family, made from `params`; our address on that path.
  template <class Params>
  void emplace(const IpAddress& source, const Params& params) {
    auto& v = slot(source.family);
    v.clear();
    v.push_back(Entry{Template(params), source});
  }
  // One template per address of path.sources (or of path.source alone when there is no pool),
  // each made from `params` with that address as its source.
  template <class Params>
  void emplace_pool(const PathInfo& path, Params params) {
    if (path.sources.empty()) {
      emplace(path.source, params);
      return;
    }
    auto& v = slot(path.family);
    v.clear();
    v.reserve(path.sources.size());
    for (const IpAddress& a : path.sources) {
      params.src = a;
      v.push_back(Entry{Template(params), a});
    }
  }
  // The first template of family f (the only one without a pool), or null.
  const Template* get(Family f) const {
    const auto& v = slot(f);
    return v.empty() ? nullptr : &v.front().tmpl;
  }
  // Our (first) address on family f's path (unset before emplace()).
  const IpAddress& source(Family f) const {
    static const IpAddress none;
    const auto& v = slot(f);
    return v.empty() ? none : v.front().source;
  }
  size_t count(Family f) const { return slot(f).size(); }
  // Which entry the probe to (dst, port) uses: source_slot() over the family's pool.
  size_t slot_of(const IpAddress& dst, uint16_t port) const {
    return source_slot(key_, dst, port, slot(dst.family).size());
  }
  // The entry the probe to (dst, port) is built from; null when dst's family has no template.
  const Entry* pick(const IpAddress& dst, uint16_t port) const {
    const auto& v = slot(dst.family);
    if (v.empty()) return nullptr;
    return &v[source_slot(key_, dst, port, v.size())];
  }

 private:
  std::vector<Entry>& slot(Family f) { return f == Family::V4 ? v4_ : v6_; }
  const std::vector<Entry>& slot(Family f) const { return f == Family::V4 ? v4_ : v6_; }
  net::SipHash24 key_;
  std::vector<Entry> v4_, v6_;
};

}  // namespace gh
