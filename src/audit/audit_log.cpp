#include "audit/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "audit/json_read.h"
#include "audit/sha256.h"
#include "core/error.h"
#include "core/paths.h"

namespace gh {
namespace {

constexpr std::string_view kHashKey = ",\"hash\":\"";
// ,"hash":"<64 hex>"}
constexpr size_t kSuffix = kHashKey.size() + 64 + 2;
constexpr size_t kMaxLine = size_t{64} << 20;

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

class FlockGuard {
 public:
  explicit FlockGuard(int fd) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) throw system_error(errno, "cannot lock the audit log");
    }
  }
  ~FlockGuard() { ::flock(fd_, LOCK_UN); }
  FlockGuard(const FlockGuard&) = delete;
  FlockGuard& operator=(const FlockGuard&) = delete;

 private:
  int fd_;
};

// The last line of the file (without its newline), read backwards from `size`.
std::string read_last_line(int fd, off_t size, const std::string& path) {
  size_t want = 4096;
  for (;;) {
    size_t n = static_cast<size_t>(std::min<off_t>(size, static_cast<off_t>(want)));
    std::string buf(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd, buf.data() + got, n - got, size - static_cast<off_t>(n - got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw system_error(r < 0 ? errno : EIO, "cannot read the audit log " + path);
      got += static_cast<size_t>(r);
    }
    // buf holds the file's last n bytes; the caller checked that it ends with '\n'.
    if (n >= 2) {
      size_t start = buf.rfind('\n', n - 2);
      if (start != std::string::npos) return buf.substr(start + 1, n - 2 - start);
    }
    if (static_cast<off_t>(n) == size) return buf.substr(0, buf.size() - 1);  // the only line
    if (want >= kMaxLine)
      throw RuntimeError("the audit log " + path + " ends with a line longer than 64 MiB");
    want *= 4;
  }
}

}  // namespace

std::string default_audit_log_path(bool root, const char* xdg_state_home, const char* home) {
  return state_path(root, xdg_state_home, home, "/var/log/glasshouse/audit.jsonl", "audit.jsonl");
}

AuditLog AuditLog::open(const std::string& path) {
  if (path.empty())
    throw RuntimeError("no place for the audit log (HOME is not set): give --audit-log FILE");
  make_parent_dirs(path, 0700, "audit log");  // private to its owner
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) throw system_error(errno, "cannot open the audit log " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error(errno, "cannot stat the audit log " + path);
  if (!S_ISREG(st.st_mode)) throw RuntimeError("the audit log " + path + " is not a regular file");
  return AuditLog(std::move(fd), path);
}

std::string make_audit_line(std::string_view fields, uint64_t seq, std::string_view prev) {
  std::string body = fmt::format("{{\"seq\":{},\"prev\":\"{}\"", seq, prev);
  // fields is "{...}": splice its members in after prev.
  std::string_view inner = fields;
  if (inner.size() >= 2 && inner.front() == '{' && inner.back() == '}')
    inner = inner.substr(1, inner.size() - 2);
  if (!inner.empty()) {
    body += ',';
    body += inner;
  }
  body += '}';
  std::string hash = sha256_hex(body);
  body.pop_back();
  body += kHashKey;
  body += hash;
  body += "\"}";
  return body;
}

AuditLineCheck check_audit_line(std::string_view line) {
  AuditLineCheck c;
  if (line.empty()) {
    c.problem = "empty line";
    return c;
  }
  std::string error;
  auto v = parse_json(line, &error);
  if (!v || v->type != JsonValue::Type::Object) {
    c.problem = "not a JSON object (" + (v ? std::string("not an object") : error) + ")";
    return c;
  }
  if (line.size() < kSuffix + 2 || line.substr(line.size() - 2) != "\"}" ||
      line.substr(line.size() - kSuffix, kHashKey.size()) != kHashKey ||
      !is_hex64(line.substr(line.size() - kSuffix + kHashKey.size(), 64))) {
    c.problem = "not an audit record (it does not end with its hash)";
    return c;
  }
  const JsonValue* seq = v->get("seq");
  const JsonValue* prev = v->get("prev");
  if (seq == nullptr || !seq->as_u64() || *seq->as_u64() == 0 || prev == nullptr ||
      !prev->is_string() || !is_hex64(prev->text) || v->members.front().first != "seq") {
    c.problem = "not an audit record (no seq and prev at its start)";
    return c;
  }
  c.seq = *seq->as_u64();
  c.prev = prev->text;
  c.hash = std::string(line.substr(line.size() - kSuffix + kHashKey.size(), 64));
  std::string body(line.substr(0, line.size() - kSuffix));
  body += '}';
  if (sha256_hex(body) != c.hash) {
    c.problem = "edited: its contents do not match its hash";
    return c;
  }
  c.ok = true;
  return c;
}

AuditVerdict verify_audit_log(std::string_view contents, std::string_view anchor) {
  AuditVerdict v;
  v.head = std::string(kAuditGenesis);
  bool anchor_seen = anchor.empty();
  uint64_t prev_seq = 0;
  size_t pos = 0;
  uint64_t line_no = 0;
  auto bad = [&](uint64_t line, std::string problem) {
    v.ok = false;
    v.bad_line = line;
    v.problem = std::move(problem);
    return v;
  };
  while (pos < contents.size()) {
    ++line_no;
    size_t nl = contents.find('\n', pos);
    if (nl == std::string_view::npos)
      return bad(line_no,
                 "incomplete: the file ends inside this record (truncated, or a write was cut "
                 "short)");
    std::string_view line = contents.substr(pos, nl - pos);
    pos = nl + 1;
    AuditLineCheck c = check_audit_line(line);
    if (!c.ok) return bad(line_no, c.problem);
    if (line_no == 1) {
      if (c.seq != 1 || c.prev != kAuditGenesis)
        return bad(1, fmt::format("the chain does not start here (record {}, expected 1): the "
                                  "records before it were removed",
                                  c.seq));
    } else {
      if (c.seq != prev_seq + 1)
        return bad(line_no, fmt::format("record {} where {} was expected: a record was removed, "
                                        "inserted or moved here",
                                        c.seq, prev_seq + 1));
      if (c.prev != v.head)
        return bad(line_no - 1, fmt::format("edited: its hash is not the one line {} recorded for "
                                            "it (the record was rewritten and its hash recomputed)",
                                            line_no));
    }
    prev_seq = c.seq;
    v.head = c.hash;
    ++v.records;
    if (!anchor_seen && c.hash == anchor) anchor_seen = true;
  }
  if (!anchor_seen)
    return bad(0, fmt::format("no record has the head hash {} given with --head: the log was "
                              "truncated or rewritten after that record",
                              anchor));
  return v;
}

std::string AuditLog::append(std::string_view fields) {
  FlockGuard lock(fd_.get());
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw system_error(errno, "cannot stat the audit log " + path_);
  off_t size = st.st_size;
  uint64_t seq = 1;
  std::string prev(kAuditGenesis);
  if (size > 0) {
    char last = 0;
    ssize_t r = ::pread(fd_.get(), &last, 1, size - 1);
    if (r != 1) throw system_error(r < 0 ? errno : EIO, "cannot read the audit log " + path_);
    std::string problem;
    if (last != '\n') {
      problem = "it ends inside a record";
    } else {
      AuditLineCheck c = check_audit_line(read_last_line(fd_.get(), size, path_));
      if (c.ok) {
        seq = c.seq + 1;
        prev = c.hash;
      } else {
        problem = "its last record is damaged: " + c.problem;
      }
    }
    if (!problem.empty())
      throw RuntimeError(fmt::format(
          "the audit log {} is damaged ({}): see `glasshouse audit verify {}`; move it aside to "
          "start a new log",
          path_, problem, path_));
  }
  std::string line = make_audit_line(fields, seq, prev);
  std::string hash = line.substr(line.size() - 66, 64);
  line += '\n';
  size_t done = 0;
  while (done < line.size()) {
    ssize_t w = ::write(fd_.get(), line.data() + done, line.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = w < 0 ? errno : EIO;
      if (::ftruncate(fd_.get(), size) != 0) {
        // Nothing more to do: the next append will refuse the damaged log and say so.
      }
      throw system_error(err, "cannot write the audit log " + path_);
    }
    done += static_cast<size_t>(w);
  }
  if (::fdatasync(fd_.get()) != 0) throw system_error(errno, "cannot sync the audit log " + path_);
  return hash;
}

}  // namespace gh
