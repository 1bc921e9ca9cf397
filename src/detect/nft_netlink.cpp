#include "detect/nft_netlink.h"

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace gh::detect {

NftSetWriter::~NftSetWriter() {
  if (nl_) mnl_socket_close(nl_);
}

std::string NftSetWriter::open() {
  if (nl_) return "";
  nl_ = mnl_socket_open(NETLINK_NETFILTER);
  if (!nl_) return std::string("netlink socket: ") + std::strerror(errno);
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::string why = std::string("netlink bind: ") + std::strerror(errno);
    mnl_socket_close(nl_);
    nl_ = nullptr;
    return why;
  }
  // Never wait long for an acknowledgement: the caller is the packet loop.
  timeval tv{1, 0};
  setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  portid_ = mnl_socket_get_portid(nl_);
  seq_ = static_cast<uint32_t>(time(nullptr));
  return "";
}

size_t build_setelem_batch(std::span<char> buf, uint32_t first_seq, const std::string& table,
                           const std::string& set, const IpAddress& addr, uint64_t timeout_ms) {
  if (buf.size() < kSetElemBatchMax) return 0;
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  if (!batch) return 0;
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), first_seq);
  mnl_nlmsg_batch_next(batch);

  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  if (!s || !e) {
    if (s) nftnl_set_free(s);
    if (e) nftnl_set_elem_free(e);
    mnl_nlmsg_batch_stop(batch);
    return 0;
  }
  nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s, NFTNL_SET_NAME, set.c_str());
  std::array<uint8_t, 16> key = addr.bytes();
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.data(), addr.is_v4() ? 4 : 16);
  nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
  nftnl_set_elem_add(s, e);  // the set owns the element now
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), NFT_MSG_NEWSETELEM,
                            NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, first_seq + 1);
  nftnl_set_elems_nlmsg_build_payload(nlh, s);
  nftnl_set_free(s);
  mnl_nlmsg_batch_next(batch);
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), first_seq + 2);
  mnl_nlmsg_batch_next(batch);
  size_t n = mnl_nlmsg_batch_size(batch);
  mnl_nlmsg_batch_stop(batch);
  return n;
}

std::string NftSetWriter::add(const std::string& table, const std::string& set,
                              const IpAddress& addr, uint64_t timeout_ms) {
  if (!nl_) return "netlink socket not open";
  if (table.size() > 255 || set.size() > 255) return "table or set name too long";
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  const uint32_t elem_seq = seq_ + 1;
  size_t len = build_setelem_batch(buf, seq_, table, set, addr, timeout_ms);
  seq_ += 3;
  if (len == 0) return "out of memory";

  ssize_t sent = mnl_socket_sendto(nl_, buf.data(), len);
  if (sent < 0) return std::string("netlink send: ") + std::strerror(errno);

  // The acknowledgement of the NEWSETELEM message (an NLMSG_ERROR with error 0), or its error.
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, rbuf.data(), rbuf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::string("netlink receive: ") + std::strerror(errno);
    }
    int rc = mnl_cb_run(rbuf.data(), static_cast<size_t>(n), elem_seq, portid_, nullptr, nullptr);
    if (rc == MNL_CB_STOP) return "";  // acknowledged
    if (rc < 0) {
      // A message of an earlier, abandoned transaction: skip it; else the kernel's error.
      if (errno == EPROTO) continue;
      return std::strerror(errno);
    }
  }
}

}  // namespace gh::detect
