#include "output/show_filter.h"

#include <string>

#include <fmt/format.h>

#include "core/error.h"

namespace gh {

bool ShowFilter::accepts(PortState s) const {
  switch (s) {
    case PortState::Open:
      return open;
    case PortState::Closed:
      return closed;
    case PortState::Filtered:
    case PortState::Unfiltered:
    case PortState::OpenFiltered:
    case PortState::ClosedFiltered:
      return filtered;
  }
  return false;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

ShowFilter parse_show(std::string_view value) {
  const std::string_view whole = value;
  ShowFilter f;
  if (trim(value).empty())
    throw UsageError("--show: empty value (expected open, closed, filtered or all)");
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (item == "open") {
      f.open = true;
    } else if (item == "closed") {
      f.closed = true;
    } else if (item == "filtered") {
      f.filtered = true;
    } else if (item == "all") {
      f.open = f.closed = f.filtered = true;
    } else if (item.empty()) {
      throw UsageError(fmt::format("--show: empty item in '{}'", whole));
    } else {
      throw UsageError(
          fmt::format("--show: unknown state '{}' (expected open, closed, filtered or all)", item));
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return f;
}

}  // namespace gh
