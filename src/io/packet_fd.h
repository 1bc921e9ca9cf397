// The steps every AF_PACKET socket of ours takes (PacketSocket, RxRing, TxRing), in one place.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>

#include "io/fd.h"

namespace gh {

// socket(AF_PACKET, SOCK_RAW, 0): protocol 0, so that nothing is queued before bind_packet(),
// after the filter is in place. Without CAP_NET_RAW, a RuntimeError saying so.
FileDescriptor open_packet_fd();
// PACKET_IGNORE_OUTGOING; false where the kernel lacks it (< 4.20). Other failures throw.
bool set_ignore_outgoing(int fd);
// SO_ATTACH_FILTER with a classic BPF program (1 to BPF_MAXINSNS instructions).
void attach_bpf(int fd, std::span<const sock_filter> program);
// bind() to `ifindex`, receiving EtherType `protocol` (host order; 0: nothing).
void bind_packet(int fd, int ifindex, uint16_t protocol, const char* what);

}  // namespace gh
