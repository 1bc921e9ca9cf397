// Endian-typed wire fields and the one bounds-checked cursor every packet is read through.
//
// Wire structs (headers.h) are built from uint8_t, be16 and be32 only, so they have alignment 1,
// no padding, and the exact size of the wire layout. They are never overlaid on a buffer with
// reinterpret_cast: Reader::read_struct() and store_struct() memcpy them in and out, which the
// compiler turns into plain loads and stores.
//
// Reader contract: every read checks the remaining length first. A read that does not fit
// returns false, leaves the cursor where it was, and sets a sticky failed flag, so a run of reads
// can be checked once with ok(). Nothing is ever read outside the span given to the constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace gh::net {

// Big-endian loads and stores on raw bytes. The caller guarantees the bytes exist.
constexpr uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
constexpr uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
constexpr void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
constexpr void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// A 16-bit field stored in network order. get()/set() convert to and from host order.
struct be16 {
  uint8_t b[2];
  constexpr uint16_t get() const { return load_be16(b); }
  constexpr void set(uint16_t v) { store_be16(b, v); }
};

// A 32-bit field stored in network order.
struct be32 {
  uint8_t b[4];
  constexpr uint32_t get() const { return load_be32(b); }
  constexpr void set(uint32_t v) { store_be32(b, v); }
};

static_assert(sizeof(be16) == 2 && alignof(be16) == 1);
static_assert(sizeof(be32) == 4 && alignof(be32) == 1);

// True for the structs that may be memcpy'd to and from the wire.
template <class T>
inline constexpr bool is_wire_struct_v =
    std::is_trivially_copyable_v<T>&& std::is_standard_layout_v<T> && alignof(T) == 1;

// Copies a wire struct into `out`. The caller guarantees sizeof(T) bytes are writable.
template <class T>
inline void store_struct(uint8_t* out, const T& v) {
  static_assert(is_wire_struct_v<T>);
  std::memcpy(out, &v, sizeof(T));
}

class Reader {
 public:
  Reader() = default;
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  // Bytes not yet consumed.
  size_t remaining() const { return data_.size() - pos_; }
  // Bytes consumed so far, i.e. the cursor's position in the original span.
  size_t offset() const { return pos_; }
  // False once any read has failed; stays false.
  bool ok() const { return !failed_; }
  bool failed() const { return failed_; }
  // The unread bytes (empty if nothing remains).
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }

  bool read_u8(uint8_t& v) {
    if (!need(1)) return false;
    v = data_[pos_];
    pos_ += 1;
    return true;
  }
  bool read_u16(uint16_t& v) {
    if (!need(2)) return false;
    v = load_be16(data_.data() + pos_);
    pos_ += 2;
    return true;
  }
  bool read_u32(uint32_t& v) {
    if (!need(4)) return false;
    v = load_be32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  // Looks at the next byte without consuming it. Does not set the failed flag.
  bool peek_u8(uint8_t& v) const {
    if (failed_ || remaining() < 1) return false;
    v = data_[pos_];
    return true;
  }
  bool skip(size_t n) {
    if (!need(n)) return false;
    pos_ += n;
    return true;
  }
  // The next n bytes as a span (no copy), consumed.
  bool read_bytes(size_t n, std::span<const uint8_t>& out) {
    if (!need(n)) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // Copies the next n bytes into out[0..n), consumed.
  bool copy_bytes(uint8_t* out, size_t n) {
    if (!need(n)) return false;
    if (n != 0) std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // A Reader over the next n bytes, which this reader consumes. On failure the returned reader
  // is empty and already failed.
  Reader sub(size_t n) {
    Reader r;
    if (!need(n)) {
      r.failed_ = true;
      return r;
    }
    r.data_ = data_.subspan(pos_, n);
    pos_ += n;
    return r;
  }
  // Copies the next sizeof(T) bytes into a wire struct, consumed.
  template <class T>
  bool read_struct(T& out) {
    static_assert(is_wire_struct_v<T>);
    return copy_bytes(reinterpret_cast<uint8_t*>(&out), sizeof(T));
  }

 private:
  bool need(size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return false;
    }
    return true;
  }

  std::span<const uint8_t> data_{};
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace gh::net
