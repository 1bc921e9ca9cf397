// A TLS client over memory buffers (OpenSSL with memory BIOs), for the -sV stage: the caller
// moves bytes between its non-blocking socket and the session, so the same epoll loop drives
// plain and TLS connections, and every byte read is counted (a huge certificate chain cannot
// make the handshake read without bound: Handshake fails past kMaxHandshakeBytes).
//
// No certificate is verified: the scan records what the server presents (TlsInfo), it does not
// trust it. Old protocol versions and ciphers are allowed (security level 0) so that old servers
// can still be named.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "output/result.h"

namespace gh {

class TlsSession {
 public:
  static constexpr size_t kMaxHandshakeBytes = 256 * 1024;
  enum class State { Handshaking, Established, Failed };

  explicit TlsSession(const std::string& sni = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Bytes that came from the socket.
  void feed(std::string_view bytes);
  // Advances the handshake (call after feed, and once at the start to produce the ClientHello).
  State handshake();
  State state() const { return state_; }
  // Bytes to write to the socket now (moved out).
  std::string take_output();
  // After Established: plaintext to send, and plaintext received so far (moved out).
  void write(std::string_view plain);
  std::string read();
  bool closed_by_peer() const { return peer_closed_; }
  const std::string& error() const { return error_; }
  // The negotiated parameters and the server's certificate (Established only).
  TlsInfo info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  State state_ = State::Handshaking;
  size_t handshake_bytes_ = 0;
  bool peer_closed_ = false;
  std::string error_;
};

// Whether bytes look like the start of a TLS record from a server (handshake or alert).
bool looks_like_tls(std::string_view bytes);

}  // namespace gh
