// A whole file's bytes, read-only, for parsers of large data files (nmap-services, the IEEE
// registry): a regular file is mapped (not copied: its pages come from the page cache as they
// are read), anything else (a pipe, /dev/fd/N) is read whole into memory.
//
//   map_whole_file(path)  nullopt when the file cannot be read (missing, a directory,
//                         unreadable, or over 1 GiB); an empty file gives an empty view.
//
// The view is valid while `owner` (or a copy of it) lives. A mapped file that another program
// truncates while it is mapped makes reads past its new end fault (SIGBUS): callers that keep
// parts of it beyond parsing copy them out.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace gh {

struct MappedFile {
  std::string_view text;
  std::shared_ptr<const void> owner;
};

std::optional<MappedFile> map_whole_file(const std::string& path);

}  // namespace gh
