#include "service/nmap_probes.h"

#include <charconv>

#include <fmt/format.h>

#include "core/error.h"

namespace gh {

std::string decode_escapes(std::string_view s) {
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    switch (c) {
      case '0':
        out += '\0';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
        if (i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
          out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
          i += 2;
        } else {
          out += 'x';
        }
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Reads `<d>text<d>` at s[pos] (s[pos] is the delimiter). Returns the text; pos goes past it.
std::string_view delimited(std::string_view s, size_t& pos, const std::string& where) {
  if (pos >= s.size()) throw UsageError(where + ": field without delimiter");
  char d = s[pos];
  size_t end = s.find(d, pos + 1);
  if (end == std::string_view::npos)
    throw UsageError(fmt::format("{}: unterminated field (delimiter '{}')", where, d));
  std::string_view text = s.substr(pos + 1, end - pos - 1);
  pos = end + 1;
  return text;
}

uint32_t number(std::string_view s, const std::string& where, uint32_t max) {
  uint32_t v = 0;
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max)
    throw UsageError(fmt::format("{}: bad number \"{}\"", where, s));
  return v;
}

}  // namespace

MatchRule parse_match_line(std::string_view rest, bool soft, const std::string& where,
                           DbSource source) {
  MatchRule r;
  r.soft = soft;
  r.source = source;
  r.where = where;
  rest = trim(rest);
  size_t sp = rest.find(' ');
  if (sp == std::string_view::npos || sp == 0) throw UsageError(where + ": match without regex");
  r.service = std::string(rest.substr(0, sp));
  size_t pos = sp;
  while (pos < rest.size() && rest[pos] == ' ') ++pos;
  if (pos >= rest.size() || rest[pos] != 'm') throw UsageError(where + ": expected m<d>regex<d>");
  ++pos;
  r.pattern = std::string(delimited(rest, pos, where));
  while (pos < rest.size() && rest[pos] != ' ') {
    if (rest[pos] == 'i')
      r.caseless = true;
    else if (rest[pos] == 's')
      r.dotall = true;
    else
      throw UsageError(fmt::format("{}: unknown regex flag '{}'", where, rest[pos]));
    ++pos;
  }
  while (pos < rest.size()) {
    if (rest[pos] == ' ' || rest[pos] == '\t') {
      ++pos;
      continue;
    }
    if (rest.substr(pos, 4) == "cpe:") {
      pos += 4;
      r.cpe.push_back("cpe:/" + std::string(delimited(rest, pos, where)));
      if (pos < rest.size() && rest[pos] == 'a') ++pos;
      continue;
    }
    char f = rest[pos++];
    std::string_view v = delimited(rest, pos, where);
    switch (f) {
      case 'p':
        r.product = std::string(v);
        break;
      case 'v':
        r.version = std::string(v);
        break;
      case 'i':
        r.info = std::string(v);
        break;
      case 'h':
        r.hostname = std::string(v);
        break;
      case 'o':
        r.ostype = std::string(v);
        break;
      case 'd':
        r.devicetype = std::string(v);
        break;
      default:
        throw UsageError(fmt::format("{}: unknown field '{}'", where, f));
    }
  }
  return r;
}

ProbeDb parse_nmap_probes(std::istream& in, const std::string& name, DbSource source) {
  ProbeDb db;
  std::string line;
  size_t lineno = 0;
  ServiceProbe* cur = nullptr;
  while (std::getline(in, line)) {
    ++lineno;
    std::string where = fmt::format("{}:{}", name, lineno);
    std::string_view l = trim(line);
    if (l.empty() || l[0] == '#') continue;
    size_t sp = l.find_first_of(" \t");
    std::string_view word = l.substr(0, sp);
    std::string_view rest = sp == std::string_view::npos ? std::string_view{} : trim(l.substr(sp));
    if (word == "Exclude") continue;
    if (word == "Probe") {
      ServiceProbe p;
      p.source = source;
      size_t a = rest.find(' ');
      if (a == std::string_view::npos) throw UsageError(where + ": Probe needs a protocol");
      std::string_view proto = rest.substr(0, a);
      if (proto == "TCP")
        p.proto = Protocol::Tcp;
      else if (proto == "UDP")
        p.proto = Protocol::Udp;
      else
        throw UsageError(fmt::format("{}: unknown protocol \"{}\"", where, proto));
      rest = trim(rest.substr(a));
      size_t b = rest.find(' ');
      if (b == std::string_view::npos) throw UsageError(where + ": Probe needs q|payload|");
      p.name = std::string(rest.substr(0, b));
      rest = trim(rest.substr(b));
      if (rest.empty() || rest[0] != 'q') throw UsageError(where + ": Probe needs q|payload|");
      size_t pos = 1;
      p.payload = decode_escapes(delimited(rest, pos, where));
      p.rarity = p.name == "NULL" ? 1 : 5;
      db.probes().push_back(std::move(p));
      cur = &db.probes().back();
      continue;
    }
    if (cur == nullptr) throw UsageError(where + ": directive before the first Probe");
    if (word == "match" || word == "softmatch")
      cur->matches.push_back(parse_match_line(rest, word == "softmatch", where, source));
    else if (word == "ports")
      cur->ports = parse_port_ranges(rest, where);
    else if (word == "sslports")
      cur->sslports = parse_port_ranges(rest, where);
    else if (word == "rarity")
      cur->rarity = static_cast<int>(number(rest, where, 9));
    else if (word == "totalwaitms")
      cur->totalwait_ms = number(rest, where, 600000);
    else if (word == "tcpwrappedms")
      cur->tcpwrapped_ms = number(rest, where, 600000);
    else if (word == "fallback") {
      size_t pos = 0;
      while (pos <= rest.size()) {
        size_t c = rest.find(',', pos);
        if (c == std::string_view::npos) c = rest.size();
        std::string_view f = trim(rest.substr(pos, c - pos));
        if (!f.empty()) cur->fallback.emplace_back(f);
        pos = c + 1;
      }
    } else {
      throw UsageError(fmt::format("{}: unknown directive \"{}\"", where, word));
    }
  }
  return db;
}

}  // namespace gh
