#include "policy/privilege_drop.h"

#include <dirent.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "io/privilege.h"

namespace gh {
namespace {

int last_cap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int v = -1;
  if (in >> v && v > 0 && v < 64) return v;
  return CAP_LAST_CAP;
}

bool capget_all(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &hdr, data) == 0;
}

// "CapPrm:\t0000000000000000" lines of one thread's status file: both zero.
bool thread_status_clear(const std::string& path) {
  std::ifstream in(path);
  if (!in) return true;  // the thread ended meanwhile
  std::string line;
  int seen = 0;
  while (std::getline(in, line)) {
    if (line.rfind("CapPrm:", 0) == 0 || line.rfind("CapEff:", 0) == 0) {
      ++seen;
      if (line.find_first_not_of("0\t ", 7) != std::string::npos) return false;
    }
  }
  return seen == 2;
}

}  // namespace

std::string PrivilegeDrop::describe() const {
  if (switched_user)
    return fmt::format("dropped to {} (uid {}, gid {}), no capabilities, no_new_privs", user, uid,
                       gid);
  return fmt::format("running as {} (uid {}), no capabilities, no_new_privs", user, uid);
}

bool all_threads_without_capabilities() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/task"), ::closedir);
  if (!dir) return false;
  while (dirent* e = ::readdir(dir.get())) {
    if (e->d_name[0] == '.') continue;
    if (!thread_status_clear(std::string("/proc/self/task/") + e->d_name + "/status")) return false;
  }
  return true;
}

PrivilegeDrop drop_privileges(const std::string& user) {
  PrivilegeDrop d;
  uid_t ruid = 0, euid = 0, suid = 0;
  if (::getresuid(&ruid, &euid, &suid) != 0) throw system_error(errno, "getresuid");
  bool root = ruid == 0 || euid == 0 || suid == 0;

  if (root) {
    UnprivilegedUser u = lookup_unprivileged_user(user);
    d.user = u.name;
    d.uid = u.uid;
    d.gid = u.gid;
    // While CAP_SETPCAP is still ours: empty the bounding set.
    // The loop's bound read once (it was read again per capability: 41 opens of the file).
    for (int cap = 0, last = last_cap(); cap <= last; ++cap)
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
        throw system_error(errno, "prctl(PR_CAPBSET_DROP)");
    const char* step = nullptr;
    if (int err = switch_to_user(d.uid, d.gid, &step); err != 0) throw system_error(err, step);
    d.switched_user = true;
  } else {
    d.uid = ruid;
    d.gid = ::getgid();
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    ::getpwuid_r(ruid, &pw, buf.data(), buf.size(), &found);
    d.user = found != nullptr ? pw.pw_name : std::to_string(ruid);
  }

  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    throw system_error(errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &hdr, none) != 0) throw system_error(errno, "capset");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    throw system_error(errno, "prctl(PR_SET_NO_NEW_PRIVS)");

  // Check that none of it can be undone.
  if (d.switched_user) {
    if (::setuid(0) == 0 || ::seteuid(0) == 0)
      throw RuntimeError("dropping privileges failed: the process could become root again");
    if (::setgid(0) == 0)
      throw RuntimeError("dropping privileges failed: the process could regain group 0");
    uid_t r = 0, e = 0, s = 0;
    if (::getresuid(&r, &e, &s) != 0 || r != d.uid || e != d.uid || s != d.uid)
      throw RuntimeError("dropping privileges failed: the user ids did not all change");
  }
  __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3] = {};
  if (!capget_all(now)) throw system_error(errno, "capget");
  for (const auto& word : now)
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0)
      throw RuntimeError("dropping privileges failed: capabilities remain");
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    throw RuntimeError("dropping privileges failed: no_new_privs is not set");
  if (!all_threads_without_capabilities())
    throw RuntimeError(
        "dropping privileges failed: another thread of the process kept capabilities (the drop "
        "must happen before threads start)");
  return d;
}

}  // namespace gh
