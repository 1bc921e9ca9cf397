#include "detect/blocker.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <nftables/libnftables.h>

#include "core/dynlib.h"
#include "core/error.h"

extern char** environ;

namespace gh::detect {

namespace {

// libnftables is loaded when watch --block first starts a blocker (core/dynlib.h), not at start.
struct Nft {
  DynLib lib{"libnftables.so.1", "libnftables1", "watch --block"};
#define GH_NFT(name) decltype(&::name) name = lib.fn<decltype(::name)>(#name)
  GH_NFT(nft_ctx_new);
  GH_NFT(nft_ctx_free);
  GH_NFT(nft_ctx_buffer_output);
  GH_NFT(nft_ctx_buffer_error);
  GH_NFT(nft_run_cmd_from_buffer);
  GH_NFT(nft_ctx_get_error_buffer);
#undef GH_NFT
};

// Null when the library cannot be loaded: the blocker then runs the nft command, as it does
// when libnftables cannot make a context.
const Nft* nft_api() {
  static const Nft* api = []() -> const Nft* {
    try {
      return new Nft();
    } catch (const RuntimeError&) {
      return nullptr;
    }
  }();
  return api;
}

}  // namespace

std::optional<std::string> block_exemption(const BlockConfig& cfg, const Alert& a) {
  if (cfg.allow.contains(a.src)) return "allowlisted";
  if (std::find(cfg.gateways.begin(), cfg.gateways.end(), a.src) != cfg.gateways.end())
    return "a gateway of this host";
  if (cfg.self.contains(a.src)) return "an address of this host";
  if (cfg.local.contains(a.src) && !cfg.block_internal)
    return "a protected address (an internal source: --block-internal blocks those)";
  return std::nullopt;
}

BlockDecision block_decision(const BlockConfig& cfg, const Alert& a, size_t active) {
  if (auto why = block_exemption(cfg, a)) return {false, *why};
  if (!a.verified) return {false, "unverified: no completed handshake, the address may be spoofed"};
  if (active >= cfg.max_blocked)
    return {false, fmt::format("--max-blocked {} reached", cfg.max_blocked)};
  return {true, fmt::format("blocked for {}s", cfg.block_for_us / 1000000)};
}

std::string run_nft(const std::string& nft, const std::string& script) {
  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return std::string("pipe: ") + std::strerror(errno);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, err[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::string dash_f = "-f", dash = "-";
  char* argv[] = {const_cast<char*>(nft.c_str()), dash_f.data(), dash.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, nft.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(err[0]);
    return fmt::format("cannot run {}: {}", nft, std::strerror(rc));
  }
  // The script is small (well under a pipe buffer), so writing it all before reading is safe.
  size_t off = 0;
  while (off < script.size()) {
    ssize_t n = write(in[1], script.data() + off, script.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(in[1]);
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = read(err[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out.empty() ? fmt::format("{} failed", nft) : out;
}

NftBlocker::NftBlocker(BlockConfig cfg) : cfg_(std::move(cfg)) {}

NftBlocker::~NftBlocker() {
  stop();
  if (ctx_) nft_api()->nft_ctx_free(ctx_);
}

void NftBlocker::start() {
  const std::string& t = cfg_.table;
  std::string script = fmt::format(
      "add table inet {0}\n"
      "delete table inet {0}\n"
      "table inet {0} {{\n"
      "  set blocked4 {{ type ipv4_addr; flags timeout; }}\n"
      "  set blocked6 {{ type ipv6_addr; flags timeout; }}\n"
      // The answer's check in the kernel (blocker.h). Bounded: at most `size` elements each.
      "  set armed4 {{ type ipv4_addr; flags timeout; size 65536; }}\n"
      "  set armed6 {{ type ipv6_addr; flags timeout; size 65536; }}\n"
      "  set proven4 {{ type ipv4_addr; flags dynamic,timeout; size 65536; }}\n"
      "  set proven6 {{ type ipv6_addr; flags dynamic,timeout; size 65536; }}\n"
      "  set chal4 {{ typeof ip saddr . ip daddr . ether saddr . tcp sport . tcp dport . "
      "tcp sequence; flags timeout; size 65536; }}\n"
      "  set chal6 {{ typeof ip6 saddr . ip6 daddr . ether saddr . tcp sport . tcp dport . "
      "tcp sequence; flags timeout; size 65536; }}\n"
      // Prepared challenges (blocker.h, prepare()): their answers, and the sources that gave one.
      "  set pchal4 {{ typeof ip saddr . ip daddr . ether saddr . tcp sport . tcp dport . "
      "tcp sequence; flags timeout; size 65536; }}\n"
      "  set pchal6 {{ typeof ip6 saddr . ip6 daddr . ether saddr . tcp sport . tcp dport . "
      "tcp sequence; flags timeout; size 65536; }}\n"
      "  set pproven4 {{ type ipv4_addr; flags dynamic,timeout; size 65536; }}\n"
      "  set pproven6 {{ type ipv6_addr; flags dynamic,timeout; size 65536; }}\n"
      "  set try4 {{ typeof ip saddr . ip daddr . tcp sport . tcp dport; flags dynamic,timeout; "
      "size 65536; }}\n"
      "  set try6 {{ typeof ip6 saddr . ip6 daddr . tcp sport . tcp dport; flags "
      "dynamic,timeout; size 65536; }}\n"
      "  chain prerouting {{\n"
      "    type filter hook prerouting priority -300; policy accept;\n"
      "    ip saddr @blocked4 drop\n"
      "    ip6 saddr @blocked6 drop\n"
      // The first RST on a tried four-tuple is its one guess: this rule only looks (the next one
      // deletes the try element), so a prepared challenge's answer passes both.
      "    tcp flags & (fin|syn|rst|ack) == rst ip saddr . ip daddr . tcp sport . tcp dport @try4 "
      "ip saddr . ip daddr . ether saddr . tcp sport . tcp dport . tcp sequence @pchal4 add "
      "@pproven4 {{ ip saddr timeout {2}ms }}\n"
      "    tcp flags & (fin|syn|rst|ack) == rst ip6 saddr . ip6 daddr . tcp sport . tcp dport "
      "@try6 ip6 saddr . ip6 daddr . ether saddr . tcp sport . tcp dport . tcp sequence @pchal6 "
      "add @pproven6 {{ ip6 saddr timeout {2}ms }}\n"
      "    tcp flags & (fin|syn|rst|ack) == rst ip saddr . ip daddr . tcp sport . tcp dport @try4 "
      "delete @try4 {{ ip saddr . ip daddr . tcp sport . tcp dport }} ip saddr . ip daddr . "
      "ether saddr . tcp sport . tcp dport . tcp sequence @chal4 add @proven4 {{ ip saddr "
      "timeout {1}s }}\n"
      "    tcp flags & (fin|syn|rst|ack) == rst ip6 saddr . ip6 daddr . tcp sport . tcp dport "
      "@try6 delete @try6 {{ ip6 saddr . ip6 daddr . tcp sport . tcp dport }} ip6 saddr . ip6 "
      "daddr . ether saddr . tcp sport . tcp dport . tcp sequence @chal6 add @proven6 {{ ip6 "
      "saddr timeout {1}s }}\n"
      "    ip saddr @armed4 ip saddr @proven4 drop\n"
      "    ip6 saddr @armed6 ip6 saddr @proven6 drop\n"
      "    ip saddr @pproven4 drop\n"
      "    ip6 saddr @pproven6 drop\n"
      "  }}\n"
      "}}\n",
      t, std::max<int64_t>(1, cfg_.block_for_us / 1000000),
      std::max<int64_t>(1000, cfg_.prove_for_us / 1000));
  std::string err = run_nft(cfg_.nft, script);
  if (!err.empty()) throw RuntimeError("cannot create the nftables table inet " + t + ": " + err);
  started_ = true;
  if (cfg_.nft == "nft") (void)netlink_.open();  // on failure, libnftables adds the elements
  if (!ctx_ && cfg_.nft == "nft" && nft_api() != nullptr) {
    ctx_ = nft_api()->nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx_) {
      nft_api()->nft_ctx_buffer_output(ctx_);
      nft_api()->nft_ctx_buffer_error(ctx_);
    }
  }
}

bool NftBlocker::stop() noexcept {
  if (!started_) return true;
  started_ = false;
  try {
    return run_nft(cfg_.nft, fmt::format("delete table inet {}\n", cfg_.table)).empty();
  } catch (...) {
    return false;
  }
}

size_t NftBlocker::active(int64_t now_us) {
  std::erase_if(until_, [now_us](const auto& kv) { return kv.second <= now_us; });
  return until_.size();
}

size_t NftBlocker::armed_count(int64_t now_us) {
  std::erase_if(armed_, [this, now_us](const auto& kv) {
    return kv.second <= now_us || until_.count(kv.first) != 0;
  });
  return armed_.size();
}

bool NftBlocker::armed(const IpAddress& src, int64_t now_us) const {
  auto it = armed_.find(src);
  return it != armed_.end() && it->second > now_us;
}

namespace {
// Appends a field to a concatenation key, padded with zeros to a multiple of 4 bytes.
void put(SetElem& e, const uint8_t* p, size_t n) {
  std::memcpy(e.key.data() + e.key_len, p, n);
  e.key_len = static_cast<uint8_t>(e.key_len + ((n + 3) & ~size_t{3}));
}
void put16(SetElem& e, uint16_t v) {
  uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  put(e, b, 2);
}
}  // namespace

bool challenge_elements(const ChallengePacket& p, uint64_t timeout_ms, SetElem& chal,
                        SetElem& tried) {
  const ChallengeTarget& t = p.to;
  if (!t.has_macs || t.source.family != t.local.family) return false;
  const bool v4 = t.source.is_v4();
  const size_t alen = v4 ? 4 : 16;
  auto src = t.source.bytes(), dst = t.local.bytes();
  chal = SetElem{};
  tried = SetElem{};
  chal.set = v4 ? "chal4" : "chal6";
  tried.set = v4 ? "try4" : "try6";
  // The answering RST: from the source to the challenged address, from the source's port to the
  // challenged port, sequence number = the cookie; chal also holds the probes' link address.
  for (SetElem* e : {&chal, &tried}) {
    put(*e, src.data(), alen);
    put(*e, dst.data(), alen);
    if (e == &chal) put(*e, t.source_mac.data(), t.source_mac.size());
    put16(*e, t.source_port);
    put16(*e, t.local_port);
    e->timeout_ms = timeout_ms;
  }
  uint8_t seq[4] = {static_cast<uint8_t>(p.ack >> 24), static_cast<uint8_t>(p.ack >> 16),
                    static_cast<uint8_t>(p.ack >> 8), static_cast<uint8_t>(p.ack)};
  put(chal, seq, 4);
  return true;
}

bool prepared_elements(const ChallengePacket& p, uint64_t timeout_ms, SetElem& chal,
                       SetElem& tried) {
  if (!challenge_elements(p, timeout_ms, chal, tried)) return false;
  chal.set = p.to.source.is_v4() ? "pchal4" : "pchal6";
  return true;
}

size_t challenge_transaction(const SetElem* arm, const ChallengePacket& p, uint64_t timeout_ms,
                             std::array<SetElem, 3>& out) {
  size_t n = 0;
  if (arm) out[n++] = *arm;
  if (challenge_elements(p, timeout_ms, out[n], out[n + 1])) n += 2;
  return n;
}

namespace {
int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string NftBlocker::expect_answer(const ChallengePacket& p, int64_t timeout_us) {
  if (!netlink_.is_open()) return "no netlink socket";
  std::array<SetElem, 3> el;
  const SetElem* arm = staged_arm_ ? &*staged_arm_ : nullptr;
  size_t n = challenge_transaction(
      arm, p, static_cast<uint64_t>(std::max<int64_t>(1000, timeout_us / 1000)), el);
  if (n == (arm ? 1u : 0u)) return "no link addresses";  // the staged arm waits for flush_arm()
  auto t0 = std::chrono::steady_clock::now();
  std::string err = netlink_.send(cfg_.table, std::span<const SetElem>(el.data(), n));
  if (arm) {
    staged_arm_.reset();
    if (err.empty()) {
      sent_arm_ = true;
      sent_arm_src_ = staged_src_;
    } else {
      armed_.erase(staged_src_);
    }
  }
  if (err.empty()) {
    last_arm_us_ =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    last_arm_wall_us_ = wall_us();
  }
  return err;
}

std::string NftBlocker::finish_challenge() {
  if (!netlink_.awaiting()) return "";
  std::string err = netlink_.wait();
  if (!err.empty() && sent_arm_) armed_.erase(sent_arm_src_);
  sent_arm_ = false;
  return err;
}

BlockDecision NftBlocker::arm(const Alert& a, int64_t now_us, int64_t life_us,
                              bool with_challenge) {
  if (BlockDecision s = status(a.src, now_us); s.block) return s;
  if (armed(a.src, now_us)) return {false, "armed"};
  if (auto why = block_exemption(cfg_, a)) return {false, *why};
  if (!netlink_.is_open()) return {false, "no netlink socket"};
  if (active(now_us) + armed_count(now_us) >= cfg_.max_blocked)
    return {false, fmt::format("--max-blocked {} reached", cfg_.max_blocked)};
  const uint64_t life_ms = static_cast<uint64_t>(std::max<int64_t>(1000, life_us / 1000));
  const char* set = a.src.is_v4() ? "armed4" : "armed6";
  if (with_challenge) {
    staged_arm_ = address_element(set, a.src, life_ms);
    staged_src_ = a.src;
    armed_[a.src] = now_us + life_us;
    return {false, "armed"};
  }
  auto t0 = std::chrono::steady_clock::now();
  std::string err = netlink_.add(cfg_.table, set, a.src, life_ms);
  if (!err.empty()) return {false, "nft failed: " + err};
  last_arm_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  last_arm_wall_us_ = wall_us();
  armed_[a.src] = now_us + life_us;
  return {false, "armed"};
}

bool NftBlocker::prepare(const Alert& a, const ChallengePacket& p, int64_t now_us,
                         int64_t timeout_us) {
  if (status(a.src, now_us).block || armed(a.src, now_us) || block_exemption(cfg_, a) ||
      !netlink_.is_open() || a.src != p.to.source)
    return false;
  if (prepared_.size() >= kMaxPrepared) {
    std::erase_if(prepared_, [now_us](const auto& kv) { return kv.second.until <= now_us; });
    if (prepared_.size() >= kMaxPrepared) return false;
  }
  std::array<SetElem, 2> el;
  const uint64_t life_ms = static_cast<uint64_t>(std::max<int64_t>(1000, 2 * timeout_us / 1000));
  if (!prepared_elements(p, life_ms, el[0], el[1])) return false;
  if (!netlink_.add(cfg_.table, std::span<const SetElem>(el.data(), el.size())).empty())
    return false;
  prepared_[a.src] = Prepared{now_us + timeout_us, wall_us()};
  return true;
}

bool NftBlocker::take_prepared(const Alert& a, int64_t now_us, int64_t life_us) {
  auto it = prepared_.find(a.src);
  if (it == prepared_.end()) return false;
  const Prepared pr = it->second;
  prepared_.erase(it);
  if (pr.until <= now_us || status(a.src, now_us).block || block_exemption(cfg_, a)) return false;
  if (active(now_us) + armed_count(now_us) >= cfg_.max_blocked) return false;
  armed_[a.src] = now_us + life_us;
  last_arm_us_ = 0;  // nothing to add: the kernel holds the answer's elements already
  last_arm_wall_us_ = pr.committed_wall;
  return true;
}

void NftBlocker::disarm(const IpAddress& src) {
  armed_.erase(src);
}

bool NftBlocker::flush_arm(const IpAddress& src, int64_t now_us) {
  if (!staged_arm_) return armed(src, now_us);
  SetElem e = *staged_arm_;
  staged_arm_.reset();
  auto t0 = std::chrono::steady_clock::now();
  std::string err = netlink_.add(cfg_.table, std::span<const SetElem>(&e, 1));
  if (!err.empty()) {
    armed_.erase(staged_src_);
    return false;
  }
  last_arm_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  last_arm_wall_us_ = wall_us();
  return armed(src, now_us);
}

BlockDecision NftBlocker::status(const IpAddress& src, int64_t now_us) const {
  auto it = until_.find(src);
  if (it != until_.end() && it->second > now_us)
    return {true, fmt::format("blocked until {}", format_time(it->second))};
  return {false, ""};
}

BlockDecision NftBlocker::consider(const Alert& a, int64_t now_us) {
  if (BlockDecision s = status(a.src, now_us); s.block) return s;
  BlockDecision d = block_decision(cfg_, a, active(now_us));
  if (!d.block) return d;
  std::string script = fmt::format("add element inet {} {} {{ {} timeout {}s }}\n", cfg_.table,
                                   a.src.is_v4() ? "blocked4" : "blocked6", a.src.to_string(),
                                   std::max<int64_t>(1, cfg_.block_for_us / 1000000));
  std::string err;
  auto t0 = std::chrono::steady_clock::now();
  if (netlink_.is_open()) {
    err = netlink_.add(cfg_.table, a.src.is_v4() ? "blocked4" : "blocked6", a.src,
                       static_cast<uint64_t>(std::max<int64_t>(1000, cfg_.block_for_us / 1000)));
  } else if (ctx_) {
    if (nft_api()->nft_run_cmd_from_buffer(ctx_, script.c_str()) != 0) {
      err = nft_api()->nft_ctx_get_error_buffer(ctx_);
      while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
      std::replace(err.begin(), err.end(), '\n', ' ');
      if (err.empty()) err = "libnftables failed";
    }
  } else {
    err = run_nft(cfg_.nft, script);
  }
  if (!err.empty()) return {false, "nft failed: " + err};
  last_add_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  until_[a.src] = now_us + cfg_.block_for_us;
  ++total_;
  return d;
}

}  // namespace gh::detect
