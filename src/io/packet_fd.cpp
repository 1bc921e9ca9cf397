#include "io/packet_fd.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "core/error.h"

namespace gh {

FileDescriptor open_packet_fd() {
  FileDescriptor fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) {
    int err = errno;
    if (err == EPERM || err == EACCES)
      throw system_error(err, "opening a raw packet socket needs root or CAP_NET_RAW");
    throw system_error(err, "socket(AF_PACKET, SOCK_RAW)");
  }
  return fd;
}

bool set_ignore_outgoing(int fd) {
  int one = 1;
  if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0) return true;
  if (errno != ENOPROTOOPT && errno != EINVAL)
    throw system_error(errno, "setting PACKET_IGNORE_OUTGOING");
  return false;
}

void attach_bpf(int fd, std::span<const sock_filter> program) {
  if (program.empty() || program.size() > BPF_MAXINSNS)
    throw RuntimeError("BPF filter of " + std::to_string(program.size()) + " instructions");
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());  // the kernel copies it
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    throw system_error(errno, "attaching a BPF filter");
}

void bind_packet(int fd, int ifindex, uint16_t protocol, const char* what) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(protocol);
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
    throw system_error(
        errno, std::string("binding a ") + what + " to interface #" + std::to_string(ifindex));
}

}  // namespace gh
