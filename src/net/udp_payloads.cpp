#include "net/udp_payloads.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>

#include "core/error.h"

namespace gh::net {
namespace {

constexpr const char* kNmapPaths[] = {"/usr/share/nmap/nmap-payloads",
                                      "/usr/local/share/nmap/nmap-payloads"};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

// The tokens of the nmap-payloads grammar: words, and quoted strings (kept with their quotes).
// Comments run from '#' outside a string to the end of the line.
struct Token {
  std::string text;
  size_t line = 0;
  bool quoted = false;
};

std::vector<Token> tokenize(std::istream& in, const std::string& name) {
  std::vector<Token> out;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    size_t i = 0;
    while (i < line.size()) {
      char c = line[i];
      if (is_blank(c)) {
        ++i;
      } else if (c == '#') {
        break;
      } else if (c == '"') {
        size_t j = i + 1;
        while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
        if (j >= line.size())
          throw UsageError(name + ":" + std::to_string(line_no) + ": unterminated string");
        out.push_back(Token{line.substr(i + 1, j - i - 1), line_no, true});
        i = j + 1;
      } else {
        size_t j = i;
        while (j < line.size() && !is_blank(line[j]) && line[j] != '"' && line[j] != '#') ++j;
        out.push_back(Token{line.substr(i, j - i), line_no, false});
        i = j;
      }
    }
  }
  if (in.bad()) throw UsageError(name + ": read error");
  return out;
}

std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// "53,69,32768-65535" -> ports; nullopt on anything else.
std::optional<std::vector<uint16_t>> parse_ports(std::string_view s) {
  std::vector<uint16_t> ports;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    size_t dash = item.find('-');
    auto lo = parse_port(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : parse_port(item.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    for (uint32_t p = *lo; p <= *hi; ++p) ports.push_back(static_cast<uint16_t>(p));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
    if (s.empty()) return std::nullopt;
  }
  if (ports.empty()) return std::nullopt;
  return ports;
}

std::string g_configured;  // configure()'s argument
bool g_configured_set = false;

}  // namespace

bool decode_c_string(std::string_view body, std::vector<uint8_t>& out) {
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out.push_back(static_cast<uint8_t>(c));
      continue;
    }
    if (++i >= body.size()) return false;
    switch (body[i]) {
      case 'x': {
        int a = i + 1 < body.size() ? hex_digit(body[i + 1]) : -1;
        int b = i + 2 < body.size() ? hex_digit(body[i + 2]) : -1;
        if (a < 0 || b < 0) return false;
        out.push_back(static_cast<uint8_t>(a * 16 + b));
        i += 2;
        break;
      }
      case '0':
        out.push_back(0);
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      case '\'':
        out.push_back('\'');
        break;
      default:
        return false;
    }
  }
  return true;
}

void UdpPayloads::add(std::span<const uint16_t> ports, UdpPayload payload) {
  const auto index = static_cast<uint32_t>(payloads_.size());
  payloads_.push_back(std::move(payload));
  for (uint16_t p : ports) by_port_[p].push_back(index);
}

void UdpPayloads::add_nmap_file(std::istream& in, const std::string& name) {
  std::vector<Token> tokens = tokenize(in, name);
  auto fail = [&](size_t line, const std::string& what) {
    throw UsageError(name + ":" + std::to_string(line) + ": " + what);
  };
  // Ports that had payloads before this file keep only those (ours come first).
  std::unordered_map<uint16_t, bool> had;
  for (const auto& [port, list] : by_port_) had[port] = !list.empty();
  size_t added = 0;
  size_t i = 0;
  while (i < tokens.size()) {
    const Token& kw = tokens[i];
    if (kw.quoted || kw.text != "udp")
      fail(kw.line, "expected 'udp PORTS \"payload\"', found '" + kw.text.substr(0, 40) + "'");
    if (i + 1 >= tokens.size() || tokens[i + 1].quoted) fail(kw.line, "'udp' without ports");
    auto ports = parse_ports(tokens[i + 1].text);
    if (!ports)
      fail(tokens[i + 1].line, "bad port list '" + tokens[i + 1].text.substr(0, 40) + "'");
    i += 2;
    UdpPayload p;
    p.source = name;
    bool any = false;
    while (i < tokens.size() && tokens[i].quoted) {
      if (!decode_c_string(tokens[i].text, p.bytes)) fail(tokens[i].line, "bad escape in string");
      any = true;
      ++i;
    }
    if (!any) fail(kw.line, "a 'udp' entry without a payload string");
    if (i < tokens.size() && !tokens[i].quoted && tokens[i].text == "source") {
      if (i + 1 >= tokens.size() || !parse_port(tokens[i + 1].text))
        fail(tokens[i].line, "'source' needs a port number");
      i += 2;  // ignored: our source port is the cookie
    }
    if (p.bytes.size() > kMaxPayload) continue;
    std::vector<uint16_t> fresh;
    for (uint16_t port : *ports)
      if (!had[port]) fresh.push_back(port);
    if (!fresh.empty()) {
      add(fresh, std::move(p));
      ++added;
    }
  }
  if (added > 0 || !tokens.empty()) sources_ += ", " + name;
}

void UdpPayloads::configure(const std::string& file) {
  g_configured = file;
  g_configured_set = true;
  (void)instance();  // loads now: a bad file is reported by the CLI
}

const UdpPayloads& UdpPayloads::instance() {
  static std::once_flag once;
  static UdpPayloads table;
  // A failed load (a bad file the user named) throws out of call_once, which then runs again on
  // the next call: the CLI reports it and exits.
  std::call_once(once, [] {
    UdpPayloads t = builtin();
    const std::string& file = g_configured;
    if (g_configured_set && file == "none") {
      table = std::move(t);
      return;
    }
    if (g_configured_set && !file.empty()) {
      std::ifstream in(file);
      if (!in) throw UsageError("--udp-payloads " + file + ": cannot read this file");
      t.add_nmap_file(in, file);
      table = std::move(t);
      return;
    }
    std::vector<std::string> paths;
    if (const char* env = std::getenv("GLASSHOUSE_NMAP_PAYLOADS"); env != nullptr && *env != '\0')
      paths.emplace_back(env);
    for (const char* p : kNmapPaths) paths.emplace_back(p);
    for (const auto& path : paths) {
      std::ifstream in(path);
      if (!in) continue;
      UdpPayloads attempt = t;
      try {
        attempt.add_nmap_file(in, path);
      } catch (const UsageError& e) {
        std::cerr << "glasshouse: warning: nmap's UDP payloads not used: " << e.what() << '\n';
        continue;
      }
      t = std::move(attempt);
      break;
    }
    table = std::move(t);
  });
  return table;
}

}  // namespace gh::net
