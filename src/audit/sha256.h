// SHA-256 through OpenSSL's EVP interface: of a string, and of a file read through a descriptor.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
// Lower-case hex, 64 characters.
std::string sha256_hex(std::string_view data);
std::string to_hex(const Sha256Digest& d);

// The SHA-256 of everything readable through `fd` from offset 0 (pread: the descriptor's offset
// is left alone). nullopt on a read error.
std::optional<std::string> sha256_of_fd(int fd);

}  // namespace gh
