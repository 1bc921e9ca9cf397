#include "detect/nft_netlink.h"

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <vector>

#include "core/dynlib.h"

namespace gh::detect {
namespace {

// libnftnl and libmnl are loaded by watch --block (NftSetWriter::open(), at start, before the
// packet loop's code is mapped in), not by every scan's start (core/dynlib.h).
struct NftLibs {
  DynLib lib{"libnftnl.so.11", "libnftnl11", "watch --block (nftables sets)"};
  GH_DYNLIB_FN(nftnl_batch_begin);
  GH_DYNLIB_FN(nftnl_batch_end);
  GH_DYNLIB_FN(nftnl_nlmsg_build_hdr);
  GH_DYNLIB_FN(nftnl_set_alloc);
  GH_DYNLIB_FN(nftnl_set_elem_add);
  GH_DYNLIB_FN(nftnl_set_elem_alloc);
  GH_DYNLIB_FN(nftnl_set_elem_free);
  GH_DYNLIB_FN(nftnl_set_elem_set);
  GH_DYNLIB_FN(nftnl_set_elem_set_u64);
  GH_DYNLIB_FN(nftnl_set_elems_nlmsg_build_payload);
  GH_DYNLIB_FN(nftnl_set_free);
  GH_DYNLIB_FN(nftnl_set_set_str);
};
struct MnlLib {
  DynLib lib{"libmnl.so.0", "libmnl0", "watch --block (netlink)"};
  GH_DYNLIB_FN(mnl_nlmsg_batch_current);
  GH_DYNLIB_FN(mnl_nlmsg_batch_next);
  GH_DYNLIB_FN(mnl_nlmsg_batch_size);
  GH_DYNLIB_FN(mnl_nlmsg_batch_start);
  GH_DYNLIB_FN(mnl_nlmsg_batch_stop);
  GH_DYNLIB_FN(mnl_nlmsg_get_payload);
  GH_DYNLIB_FN(mnl_nlmsg_next);
  GH_DYNLIB_FN(mnl_nlmsg_ok);
  GH_DYNLIB_FN(mnl_socket_bind);
  GH_DYNLIB_FN(mnl_socket_close);
  GH_DYNLIB_FN(mnl_socket_get_fd);
  GH_DYNLIB_FN(mnl_socket_get_portid);
  GH_DYNLIB_FN(mnl_socket_open);
  GH_DYNLIB_FN(mnl_socket_recvfrom);
  GH_DYNLIB_FN(mnl_socket_sendto);
};

const NftLibs& nftnl() {
  static const NftLibs* api = new NftLibs();
  return *api;
}
const MnlLib& mnl() {
  static const MnlLib* api = new MnlLib();
  return *api;
}

}  // namespace

NftSetWriter::~NftSetWriter() {
  if (nl_) mnl().mnl_socket_close(nl_);
}

std::string NftSetWriter::open() {
  if (nl_) return "";
  try {  // both libraries now, not at the first block (the packet loop's code is mapped then)
    nftnl();
    mnl();
  } catch (const std::exception& e) {
    return e.what();
  }
  nl_ = mnl().mnl_socket_open(NETLINK_NETFILTER);
  if (!nl_) return std::string("netlink socket: ") + std::strerror(errno);
  if (mnl().mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::string why = std::string("netlink bind: ") + std::strerror(errno);
    mnl().mnl_socket_close(nl_);
    nl_ = nullptr;
    return why;
  }
  // Never wait long for an acknowledgement: the caller is the packet loop.
  timeval tv{1, 0};
  setsockopt(mnl().mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  portid_ = mnl().mnl_socket_get_portid(nl_);
  seq_ = static_cast<uint32_t>(time(nullptr));
  return "";
}

size_t build_setelems_batch(std::span<char> buf, uint32_t first_seq, const std::string& table,
                            std::span<const SetElem> elems) {
  if (elems.empty() || elems.size() > kMaxElemsPerBatch ||
      buf.size() < kSetElemBatchMax * elems.size())
    return 0;
  mnl_nlmsg_batch* batch = mnl().mnl_nlmsg_batch_start(buf.data(), buf.size());
  if (!batch) return 0;
  nftnl().nftnl_batch_begin(static_cast<char*>(mnl().mnl_nlmsg_batch_current(batch)), first_seq);
  mnl().mnl_nlmsg_batch_next(batch);
  uint32_t seq = first_seq;
  for (const SetElem& el : elems) {
    nftnl_set* s = nftnl().nftnl_set_alloc();
    nftnl_set_elem* e = nftnl().nftnl_set_elem_alloc();
    if (!s || !e || el.key_len == 0 || el.key_len > el.key.size()) {
      if (s) nftnl().nftnl_set_free(s);
      if (e) nftnl().nftnl_set_elem_free(e);
      mnl().mnl_nlmsg_batch_stop(batch);
      return 0;
    }
    nftnl().nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
    nftnl().nftnl_set_set_str(s, NFTNL_SET_NAME, el.set);
    nftnl().nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el.key.data(), el.key_len);
    nftnl().nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, el.timeout_ms);
    nftnl().nftnl_set_elem_add(s, e);  // the set owns the element now
    nlmsghdr* nlh = nftnl().nftnl_nlmsg_build_hdr(
        static_cast<char*>(mnl().mnl_nlmsg_batch_current(batch)), NFT_MSG_NEWSETELEM, NFPROTO_INET,
        NLM_F_CREATE | NLM_F_ACK, ++seq);
    nftnl().nftnl_set_elems_nlmsg_build_payload(nlh, s);
    nftnl().nftnl_set_free(s);
    mnl().mnl_nlmsg_batch_next(batch);
  }
  nftnl().nftnl_batch_end(static_cast<char*>(mnl().mnl_nlmsg_batch_current(batch)), ++seq);
  mnl().mnl_nlmsg_batch_next(batch);
  size_t n = mnl().mnl_nlmsg_batch_size(batch);
  mnl().mnl_nlmsg_batch_stop(batch);
  return n;
}

SetElem address_element(const char* set, const IpAddress& addr, uint64_t timeout_ms) {
  SetElem e;
  e.set = set;
  const std::array<uint8_t, 16> key = addr.bytes();
  e.key_len = addr.is_v4() ? 4 : 16;
  std::memcpy(e.key.data(), key.data(), e.key_len);
  e.timeout_ms = timeout_ms;
  return e;
}

size_t build_setelem_batch(std::span<char> buf, uint32_t first_seq, const std::string& table,
                           const std::string& set, const IpAddress& addr, uint64_t timeout_ms) {
  const SetElem e = address_element(set.c_str(), addr, timeout_ms);
  return build_setelems_batch(buf, first_seq, table, std::span<const SetElem>(&e, 1));
}

std::string NftSetWriter::add(const std::string& table, const std::string& set,
                              const IpAddress& addr, uint64_t timeout_ms) {
  if (set.size() > 255) return "table or set name too long";
  const SetElem e = address_element(set.c_str(), addr, timeout_ms);
  return add(table, std::span<const SetElem>(&e, 1));
}

std::string NftSetWriter::add(const std::string& table, std::span<const SetElem> elems) {
  std::string err = send(table, elems);
  return err.empty() ? wait() : err;
}

std::string NftSetWriter::send(const std::string& table, std::span<const SetElem> elems) {
  if (!nl_) return "netlink socket not open";
  if (awaiting_) (void)wait();  // an earlier transaction's acknowledgements: read them first
  if (table.size() > 255) return "table or set name too long";
  for (const SetElem& e : elems)
    if (std::strlen(e.set) > 255) return "table or set name too long";
  std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, kSetElemBatchMax * elems.size()));
  const uint32_t first = seq_ + 1, last = seq_ + static_cast<uint32_t>(elems.size());
  size_t len = build_setelems_batch(buf, seq_, table, elems);
  seq_ += static_cast<uint32_t>(elems.size()) + 2;
  if (len == 0) return "out of memory, or too many elements";

  ssize_t sent = mnl().mnl_socket_sendto(nl_, buf.data(), len);
  if (sent < 0) return std::string("netlink send: ") + std::strerror(errno);
  first_ = first;
  last_ = last;
  awaiting_ = elems.size();
  return "";
}

std::string NftSetWriter::wait() {
  if (!nl_) return "netlink socket not open";
  // One acknowledgement per NEWSETELEM message (an NLMSG_ERROR with error 0), or an error.
  // Messages of an earlier, abandoned transaction (other sequence numbers) are skipped.
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  size_t acked = 0;
  const size_t want = awaiting_;
  std::string err;
  while (acked < want && err.empty()) {
    ssize_t n = mnl().mnl_socket_recvfrom(nl_, rbuf.data(), rbuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      err = std::string("netlink receive: ") + std::strerror(errno);
      break;
    }
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rbuf.data()); mnl().mnl_nlmsg_ok(nlh, left);
         nlh = mnl().mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_seq < first_ || nlh->nlmsg_seq > last_ || nlh->nlmsg_pid != portid_) continue;
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* e = static_cast<const nlmsgerr*>(mnl().mnl_nlmsg_get_payload(nlh));
      if (e->error != 0) {
        err = std::strerror(-e->error);
        break;
      }
      ++acked;
    }
  }
  awaiting_ = 0;
  return err;
}

}  // namespace gh::detect
