#include "output/sink_registry.h"

#include <array>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "output/grepable_sink.h"
#include "output/text_sink.h"
#include "output/xml_sink.h"

namespace gh {
namespace {

std::unique_ptr<Sink> make_normal(std::unique_ptr<std::ostream> file, const SinkRequest& req) {
  TextOptions t;
  t.file = true;
  t.open_only = req.out.open_only;
  t.reason = req.out.reason;
  t.verbosity = req.out.verbosity;
  t.name = req.path;
  t.host_name = req.host_name;
  return std::make_unique<TextSink>(std::move(file), t);
}

std::unique_ptr<Sink> make_xml(std::unique_ptr<std::ostream> file, const SinkRequest& req) {
  XmlOptions x;
  x.name = req.path;
  x.verbosity = req.out.verbosity;
  x.open_only = req.out.open_only;
  x.host_name = req.host_name;
  return std::make_unique<XmlSink>(std::move(file), x);
}

std::unique_ptr<Sink> make_grepable(std::unique_ptr<std::ostream> file, const SinkRequest& req) {
  GrepableOptions g;
  g.name = req.path;
  g.verbosity = req.out.verbosity;
  g.open_only = req.out.open_only;
  g.host_name = req.host_name;
  return std::make_unique<GrepableSink>(std::move(file), g);
}

std::unique_ptr<Sink> make_jsonl(std::unique_ptr<std::ostream> file, const SinkRequest& req) {
  JsonlOptions j;
  j.show = req.out.show;
  j.name = req.path;
  j.path = req.path;  // a failed write cuts the file back to whole records
  j.resume = req.resume;
  return std::make_unique<JsonlSink>(std::move(file), j);
}

constexpr std::array kKinds{
    SinkKind{"normal", "-oN", &OutputSpec::normal_file, false, make_normal},
    SinkKind{"xml", "-oX", &OutputSpec::xml_file, false, make_xml},
    SinkKind{"grepable", "-oG", &OutputSpec::grepable_file, false, make_grepable},
    SinkKind{"jsonl", "-oJ", &OutputSpec::jsonl_file, true, make_jsonl},
};

}  // namespace

std::span<const SinkKind> sink_kinds() {
  return kKinds;
}

std::unique_ptr<std::ostream> open_output_file(const std::string& path, std::string_view option,
                                               bool append) {
  auto f = std::make_unique<std::ofstream>(
      path, std::ios::out | (append ? std::ios::app : std::ios::trunc));
  if (!*f) throw UsageError(fmt::format("cannot write {} file \"{}\"", option, path));
  return f;
}

}  // namespace gh
