// The output formats a scan can write to files, by name and option, in one table (zmap's output
// modules). The run layer (run/scanner.cpp, make_sinks) walks the table: every kind whose path is
// set in the OutputSpec gets its file opened and its sink made. A new file format is one entry
// here and one Sink class; nothing else switches on formats. (The screen's text sink is not a
// file and is made by the run layer itself.)
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "output/jsonl_sink.h"
#include "output/sink.h"
#include "scan/config.h"

namespace gh {

// What a factory gets besides its opened file.
struct SinkRequest {
  const OutputSpec& out;
  std::string path;  // the file
  // The host's reverse-DNS name at the end of the scan, "" when none; empty function with -n.
  std::function<std::string(const IpAddress&)> host_name;
  // A resumed run (run/checkpoint_session.h): -oJ begins with this "resume" record and the
  // files of kinds that append are appended to (the others are rewritten).
  std::optional<JsonlResume> resume;
};

struct SinkKind {
  std::string_view name;          // "normal", "xml", "grepable", "jsonl"
  std::string_view option;        // "-oN"
  std::string OutputSpec::*path;  // where the OutputSpec holds its file name
  // A resumed run appends to its file (-oJ, cut back to the checkpoint first); else the file is
  // rewritten whole from the restored table (run/checkpoint_session.h).
  bool appends_on_resume;
  std::unique_ptr<Sink> (*make)(std::unique_ptr<std::ostream> file, const SinkRequest& req);
};

std::span<const SinkKind> sink_kinds();

// Opens `path` for writing (truncated, or appended to). Throws UsageError naming the option.
std::unique_ptr<std::ostream> open_output_file(const std::string& path, std::string_view option,
                                               bool append);

}  // namespace gh
