// The TCP host pings (nmap -PS[ports], -PA[ports]), one probe per (target, port):
//   tcp_syn_ping  a SYN with MSS 1460 (window 1024): a SYN-ACK (syn-ack) or a RST (reset) says
//                 the host is up, whether the port is open or closed.
//   tcp_ack_ping  an ACK without options, seq = ack = the cookie: a live host answers the
//                 unexpected ACK with a RST whose sequence number is our ack (RFC 793): reset.
// Validation is the port scan's (net/cookie.h): the source port is Cookie::source_port() of
// (target, port, attempt) in HostPingModule's ping range (the ACK ping's attempt k uses attempt
// k + kAckAttemptOffset), the sequence number Cookie::tcp_seq(). An ICMP error from the target
// itself quoting the probe also says the host is up (its reason: port-unreach, host-unreach...,
// as classify_icmp_error reads it); one from a router does not.
//
// --announce: both carry the tag option (net/announce_option.h) after their other options
// (the SYN ping at TCP offset 24, after MSS; the ACK ping at 20), stamped per probe.
#pragma once

#include "net/cookie.h"
#include "net/tcp_template.h"
#include "scan/path_templates.h"
#include "scan/probe_ping.h"

namespace gh {

class TcpPing : public HostPingModule {
 public:
  TcpPing(const ModuleKeys& keys, bool ack) : cookie_(keys.k0, keys.k1), ack_(ack) {}
  std::string_view name() const override { return ack_ ? "tcp_ack_ping" : "tcp_syn_ping"; }
  Protocol protocol() const override { return Protocol::Tcp; }
  FrameKind frame_kind() const override { return FrameKind::Ip; }
  // SYN-ACKs and RSTs come back to our source ports (every attempt's, ACK pings' included:
  // all in kPortBase's range); ICMP errors quoting the probe.
  ReceiveSpec receive() const override {
    return ReceiveSpec{.tcp = true, .icmp = true, .tcp_ports = ping_ports()};
  }
  size_t max_frame() const override { return net::TcpSynTemplate::kMaxSize; }
  bool prepare(const PathInfo& path) override;
  size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const override;
  bool classify(const RxFrame& frame, ProbeVerdict& out) const override;

 private:
  net::Cookie cookie_;
  bool ack_;
  PathTemplates<net::TcpSynTemplate> paths_;
  size_t tag_at_ = 0;  // --announce: the option's offset in the TCP header
};

std::unique_ptr<ProbeModule> make_tcp_syn_ping(const ModuleKeys& keys);
std::unique_ptr<ProbeModule> make_tcp_ack_ping(const ModuleKeys& keys);

}  // namespace gh
