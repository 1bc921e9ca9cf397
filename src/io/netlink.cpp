#include "io/netlink.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "core/error.h"

namespace gh::netlink {

// ---- Request ----

Request::Request(uint16_t type, uint16_t flags) {
  size_ = NLMSG_HDRLEN;
  nlmsghdr* h = header();
  h->nlmsg_len = static_cast<uint32_t>(size_);
  h->nlmsg_type = type;
  h->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST);
}

void Request::append(const void* data, size_t len) {
  size_t padded = NLMSG_ALIGN(len);
  if (padded > buf_.size() - size_) throw std::length_error("netlink request too large");
  std::memcpy(buf_.data() + size_, data, len);
  std::memset(buf_.data() + size_ + len, 0, padded - len);
  size_ += padded;
  header()->nlmsg_len = static_cast<uint32_t>(size_);
}

void Request::add_attr(uint16_t type, const void* data, size_t len) {
  if (RTA_SPACE(len) > buf_.size() - size_) throw std::length_error("netlink request too large");
  rtattr rta{};
  rta.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  rta.rta_type = type;
  std::memcpy(buf_.data() + size_, &rta, sizeof rta);
  std::memcpy(buf_.data() + size_ + RTA_LENGTH(0), data, len);
  std::memset(buf_.data() + size_ + RTA_LENGTH(len), 0, RTA_SPACE(len) - RTA_LENGTH(len));
  size_ += RTA_SPACE(len);
  header()->nlmsg_len = static_cast<uint32_t>(size_);
}

void Request::add_address(uint16_t type, const IpAddress& a) {
  auto b = a.bytes();
  add_attr(type, b.data(), a.is_v4() ? 4 : 16);
}

// ---- parsing ----

namespace {

[[noreturn]] void malformed(const char* why) {
  throw RuntimeError(std::string("malformed netlink reply: ") + why);
}

// The extended-ack message string that may follow an NLMSG_ERROR's nlmsgerr.
std::string extack_text(const nlmsghdr& msg) {
  if (!(msg.nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(&msg));
  size_t offset = sizeof(nlmsgerr);
  // Without NLM_F_CAPPED the kernel echoes the whole request after the nlmsgerr.
  if (!(msg.nlmsg_flags & NLM_F_CAPPED)) {
    if (err->msg.nlmsg_len < NLMSG_HDRLEN) return {};
    offset += NLMSG_ALIGN(err->msg.nlmsg_len - NLMSG_HDRLEN);
  }
  size_t payload = msg.nlmsg_len - NLMSG_HDRLEN;
  if (offset > payload) return {};
  int len = static_cast<int>(payload - offset);
  const auto* rta =
      reinterpret_cast<const rtattr*>(static_cast<const uint8_t*>(NLMSG_DATA(&msg)) + offset);
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    if ((rta->rta_type & NLA_TYPE_MASK) != NLMSGERR_ATTR_MSG) continue;
    const char* s = static_cast<const char*>(RTA_DATA(rta));
    return std::string(s, strnlen(s, RTA_PAYLOAD(rta)));
  }
  return {};
}

}  // namespace

DatagramStatus parse_datagram(std::span<const uint8_t> data, uint32_t seq,
                              const MessageFn& on_message) {
  if (reinterpret_cast<uintptr_t>(data.data()) % NLMSG_ALIGNTO != 0) malformed("unaligned buffer");
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max())) malformed("too large");
  DatagramStatus status;
  int len = static_cast<int>(data.size());
  const auto* msg = reinterpret_cast<const nlmsghdr*>(data.data());
  for (; NLMSG_OK(msg, len); msg = NLMSG_NEXT(msg, len)) {
    if (msg->nlmsg_seq != seq) continue;
    if (msg->nlmsg_flags & NLM_F_DUMP_INTR) status.interrupted = true;
    switch (msg->nlmsg_type) {
      case NLMSG_NOOP:
        continue;
      case NLMSG_DONE:
        // A dump's DONE carries an int (0, or a negative errno when the dump failed midway).
        if (msg->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int code;
          std::memcpy(&code, NLMSG_DATA(msg), sizeof code);
          if (code < 0) status.error = -code;
        }
        status.done = true;
        return status;
      case NLMSG_ERROR: {
        if (msg->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) malformed("short NLMSG_ERROR");
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(msg));
        status.error = err->error < 0 ? -err->error : err->error;
        if (status.error != 0) status.error_text = extack_text(*msg);
        status.done = true;
        return status;
      }
      default:
        if (on_message) on_message(*msg);
        if (!(msg->nlmsg_flags & NLM_F_MULTI)) {
          status.done = true;
          return status;
        }
    }
  }
  // NLMSG_NEXT may step past the end by the padding of an unpadded last message (len < 0);
  // anything positive left is a header that did not fit.
  if (len > 0) malformed("truncated message");
  return status;
}

bool parse_attrs(const nlmsghdr& msg, size_t header_size,
                 std::span<std::optional<std::span<const uint8_t>>> table) {
  for (auto& entry : table) entry.reset();
  size_t start = NLMSG_LENGTH(NLMSG_ALIGN(header_size));
  if (msg.nlmsg_len < NLMSG_LENGTH(header_size)) return false;
  if (msg.nlmsg_len <= start) return true;  // no attributes (or only padding)
  int len = static_cast<int>(msg.nlmsg_len - start);
  const auto* rta = reinterpret_cast<const rtattr*>(reinterpret_cast<const uint8_t*>(&msg) + start);
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    size_t type = rta->rta_type & NLA_TYPE_MASK;
    if (type < table.size())
      table[type] =
          std::span<const uint8_t>(static_cast<const uint8_t*>(RTA_DATA(rta)), RTA_PAYLOAD(rta));
  }
  // Leftover bytes that are not a whole attribute mean a cut-off attribute. An unpadded final
  // attribute leaves len slightly negative, which is fine.
  return len <= 0;
}

std::optional<IpAddress> address_from(int family, std::span<const uint8_t> p) {
  if (family == AF_INET && p.size() == 4)
    return IpAddress::v4(static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                         static_cast<uint32_t>(p[2]) << 8 | p[3]);
  if (family == AF_INET6 && p.size() == 16) return IpAddress::from_v6_bytes(p.data());
  return std::nullopt;
}

namespace {

// Reads a fixed-size scalar attribute; false when absent or of another size.
template <class T>
bool read_scalar(const std::optional<std::span<const uint8_t>>& attr, T& out) {
  if (!attr || attr->size() != sizeof(T)) return false;
  std::memcpy(&out, attr->data(), sizeof(T));
  return true;
}

// Copies the fixed family header out of a message that is known to be long enough.
template <class Header>
Header family_header(const nlmsghdr& msg) {
  Header h;
  std::memcpy(&h, NLMSG_DATA(&msg), sizeof h);
  return h;
}

// An optional address attribute: absent is fine, present with a bad size is not.
bool read_address(int family, const std::optional<std::span<const uint8_t>>& attr,
                  std::optional<IpAddress>& out) {
  if (!attr) return true;
  out = address_from(family, *attr);
  return out.has_value();
}

}  // namespace

std::optional<RouteMessage> parse_route(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWROUTE) return std::nullopt;
  AttrTable<RTA_MAX + 1> a;
  if (!parse_attrs(msg, sizeof(rtmsg), a)) return std::nullopt;
  auto rtm = family_header<rtmsg>(msg);
  RouteMessage r;
  r.family = rtm.rtm_family;
  r.type = rtm.rtm_type;
  r.dst_len = rtm.rtm_dst_len;
  r.table = rtm.rtm_table;
  if (!read_scalar(a[RTA_TABLE], r.table) && a[RTA_TABLE]) return std::nullopt;
  if (!read_scalar(a[RTA_OIF], r.oif) && a[RTA_OIF]) return std::nullopt;
  if (!read_address(r.family, a[RTA_DST], r.dst)) return std::nullopt;
  if (!read_address(r.family, a[RTA_PREFSRC], r.prefsrc)) return std::nullopt;
  if (!read_address(r.family, a[RTA_GATEWAY], r.gateway)) return std::nullopt;
  if (!r.gateway && a[RTA_VIA]) {
    // struct rtvia: a family then the address, e.g. an IPv6 next hop for an IPv4 route.
    auto via = *a[RTA_VIA];
    if (via.size() < sizeof(__kernel_sa_family_t)) return std::nullopt;
    __kernel_sa_family_t fam;
    std::memcpy(&fam, via.data(), sizeof fam);
    r.gateway = address_from(fam, via.subspan(sizeof fam));
    if (!r.gateway) return std::nullopt;
  }
  if (a[RTA_METRICS]) {
    // Nested attributes; RTAX_MTU is a u32.
    auto m = *a[RTA_METRICS];
    if (reinterpret_cast<uintptr_t>(m.data()) % RTA_ALIGNTO != 0) return std::nullopt;
    int len = static_cast<int>(m.size());
    for (const auto* rta = reinterpret_cast<const rtattr*>(m.data()); RTA_OK(rta, len);
         rta = RTA_NEXT(rta, len)) {
      if (rta->rta_type == RTAX_MTU && RTA_PAYLOAD(rta) == sizeof(uint32_t))
        std::memcpy(&r.mtu, RTA_DATA(rta), sizeof r.mtu);
    }
  }
  return r;
}

std::optional<LinkMessage> parse_link(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWLINK) return std::nullopt;
  AttrTable<IFLA_MAX + 1> a;
  if (!parse_attrs(msg, sizeof(ifinfomsg), a)) return std::nullopt;
  auto ifi = family_header<ifinfomsg>(msg);
  LinkMessage l;
  l.ifindex = ifi.ifi_index;
  l.type = ifi.ifi_type;
  l.flags = ifi.ifi_flags;
  if (a[IFLA_IFNAME]) {
    const auto& n = *a[IFLA_IFNAME];
    const char* s = reinterpret_cast<const char*>(n.data());
    l.name.assign(s, strnlen(s, n.size()));
  }
  if (a[IFLA_ADDRESS]) l.address.assign(a[IFLA_ADDRESS]->begin(), a[IFLA_ADDRESS]->end());
  if (!read_scalar(a[IFLA_MTU], l.mtu) && a[IFLA_MTU]) return std::nullopt;
  return l;
}

std::optional<AddrMessage> parse_addr(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWADDR) return std::nullopt;
  AttrTable<IFA_MAX + 1> a;
  if (!parse_attrs(msg, sizeof(ifaddrmsg), a)) return std::nullopt;
  auto ifa = family_header<ifaddrmsg>(msg);
  AddrMessage r;
  r.family = ifa.ifa_family;
  r.ifindex = static_cast<int>(ifa.ifa_index);
  r.prefix_len = ifa.ifa_prefixlen;
  r.scope = ifa.ifa_scope;
  r.flags = ifa.ifa_flags;
  if (!read_scalar(a[IFA_FLAGS], r.flags) && a[IFA_FLAGS]) return std::nullopt;
  const auto& which = a[IFA_LOCAL] ? a[IFA_LOCAL] : a[IFA_ADDRESS];
  if (!which) return std::nullopt;
  auto addr = address_from(r.family, *which);
  if (!addr || r.prefix_len > addr->bits()) return std::nullopt;
  r.address = *addr;
  return r;
}

std::optional<NeighMessage> parse_neigh(const nlmsghdr& msg) {
  if (msg.nlmsg_type != RTM_NEWNEIGH) return std::nullopt;
  AttrTable<NDA_MAX + 1> a;
  if (!parse_attrs(msg, sizeof(ndmsg), a)) return std::nullopt;
  auto ndm = family_header<ndmsg>(msg);
  NeighMessage n;
  n.family = ndm.ndm_family;
  n.ifindex = ndm.ndm_ifindex;
  n.state = ndm.ndm_state;
  n.flags = ndm.ndm_flags;
  if (!read_address(n.family, a[NDA_DST], n.dst)) return std::nullopt;
  if (a[NDA_LLADDR]) n.lladdr.assign(a[NDA_LLADDR]->begin(), a[NDA_LLADDR]->end());
  return n;
}

// ---- NetlinkSocket ----

NetlinkSocket::NetlinkSocket() : buf_(8192) {
  fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd_) throw system_error(errno, "netlink socket");
  int one = 1;
  // Best effort: error text from the kernel, and errors that do not echo our whole request.
  (void)::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  timeval tv{5, 0};
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    throw system_error(errno, "netlink SO_RCVTIMEO");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    throw system_error(errno, "netlink bind");
}

NetlinkSocket::Result NetlinkSocket::transact(Request& req, const MessageFn& on_message) {
  nlmsghdr* h = req.header();
  h->nlmsg_seq = ++seq_;
  h->nlmsg_pid = 0;  // to the kernel
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  auto bytes = req.bytes();
  for (;;) {
    ssize_t n = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0,
                         reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) break;
    if (errno != EINTR) throw system_error(errno, "netlink send");
  }

  Result result;
  for (;;) {
    // Peek at the size first so that a large dump datagram is never truncated.
    ssize_t n;
    do {
      n = ::recv(fd_.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        throw RuntimeError("netlink: no reply from the kernel within 5 s");
      throw system_error(errno, "netlink receive");
    }
    size_t need = (static_cast<size_t>(n) + sizeof(uint32_t) - 1) / sizeof(uint32_t);
    if (need > buf_.size()) buf_.resize(need);

    sockaddr_nl from{};
    iovec iov{buf_.data(), buf_.size() * sizeof(uint32_t)};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    do {
      n = ::recvmsg(fd_.get(), &mh, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw system_error(errno, "netlink receive");
    if (mh.msg_flags & MSG_TRUNC) throw RuntimeError("netlink: reply truncated");
    if (from.nl_pid != 0) continue;  // not from the kernel

    std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf_.data()),
                                  static_cast<size_t>(n));
    DatagramStatus st = parse_datagram(data, h->nlmsg_seq, on_message);
    result.interrupted = result.interrupted || st.interrupted;
    if (st.done) {
      result.error = st.error;
      result.error_text = std::move(st.error_text);
      return result;
    }
  }
}

}  // namespace gh::netlink
