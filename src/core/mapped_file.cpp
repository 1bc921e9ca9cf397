#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace gh {

std::optional<MappedFile> map_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  constexpr size_t kMax = size_t{1} << 30;
  if (!S_ISREG(st.st_mode)) {  // a pipe or a device (GLASSHOUSE_NMAP_SERVICES=/dev/fd/3): read it
    auto text = std::make_shared<std::string>();
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text->append(buf, static_cast<size_t>(n));
      if (text->size() > kMax) {
        ::close(fd);
        return std::nullopt;
      }
    }
    ::close(fd);
    std::string_view view = *text;
    return MappedFile{view, std::move(text)};
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0 || size > kMax) {
    ::close(fd);
    if (size == 0) return MappedFile{};
    return std::nullopt;
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) return std::nullopt;
  std::shared_ptr<const void> owner(
      addr, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  return MappedFile{std::string_view(static_cast<const char*>(addr), size), std::move(owner)};
}

}  // namespace gh
