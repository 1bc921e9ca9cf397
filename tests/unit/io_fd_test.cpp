#include "io/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <type_traits>

#include "core/error.h"

namespace gh {
namespace {

static_assert(!std::is_copy_constructible_v<FileDescriptor>);
static_assert(!std::is_copy_assignable_v<FileDescriptor>);
static_assert(std::is_nothrow_move_constructible_v<FileDescriptor>);
static_assert(std::is_nothrow_move_assignable_v<FileDescriptor>);

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

// Two fresh descriptors (the ends of a pipe), owned by the caller.
std::pair<int, int> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw system_error(errno, "pipe2");
  return {p[0], p[1]};
}

TEST(Fd, DefaultIsEmpty) {
  FileDescriptor fd;
  EXPECT_FALSE(fd.valid());
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
  EXPECT_EQ(fd.release(), -1);
  FileDescriptor negative(-5);
  EXPECT_EQ(negative.get(), -1);
}

TEST(Fd, DestructorCloses) {
  auto [r, w] = make_pipe();
  {
    FileDescriptor a(r), b(w);
    EXPECT_TRUE(a.valid());
    EXPECT_EQ(a.get(), r);
  }
  EXPECT_FALSE(is_open(r));
  EXPECT_FALSE(is_open(w));
}

TEST(Fd, MoveTransfersOwnership) {
  auto [r, w] = make_pipe();
  FileDescriptor a(r);
  FileDescriptor b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(b.get(), r);

  FileDescriptor c(w);
  c = std::move(b);  // closes w, takes r
  EXPECT_FALSE(is_open(w));
  EXPECT_EQ(c.get(), r);
  EXPECT_TRUE(is_open(r));

  auto& self = c;
  c = std::move(self);  // self-move keeps the descriptor
  EXPECT_EQ(c.get(), r);
  EXPECT_TRUE(is_open(r));
}

TEST(Fd, ReleaseGivesUpOwnership) {
  auto [r, w] = make_pipe();
  FileDescriptor(w).reset();
  {
    FileDescriptor a(r);
    EXPECT_EQ(a.release(), r);
    EXPECT_FALSE(a.valid());
  }
  EXPECT_TRUE(is_open(r));
  ::close(r);
}

TEST(Fd, ResetClosesOldAndTakesNew) {
  auto [r, w] = make_pipe();
  FileDescriptor a(r);
  a.reset(w);
  EXPECT_FALSE(is_open(r));
  EXPECT_EQ(a.get(), w);
  a.reset();
  EXPECT_FALSE(is_open(w));
  EXPECT_FALSE(a.valid());
}

TEST(Fd, ExplicitCloseReportsErrors) {
  auto [r, w] = make_pipe();
  FileDescriptor a(r), b(w);
  a.close();
  EXPECT_FALSE(a.valid());
  EXPECT_FALSE(is_open(r));
  a.close();  // empty: nothing to do

  ::close(w);  // closed behind the owner's back: close() sees EBADF
  try {
    b.close();
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("close"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(b.valid());
}

}  // namespace
}  // namespace gh
