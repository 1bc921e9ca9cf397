// The audit log: an append-only, hash-chained JSON Lines file of every `glasshouse scan` run.
//
// Each line is one record, written as
//   {"seq":N,"prev":"<sha256 of record N-1>",...fields...,"hash":"<sha256 of the record>"}
// where a record's hash is the SHA-256 of its line with the "hash" member left out (the exact
// bytes `{"seq":N,"prev":"...",...fields...}`), and the first record's prev is 64 zeros. So:
//   - editing a record changes its hash: its own "hash" no longer matches, or (when the editor
//     recomputed it) the next record's "prev" no longer does;
//   - removing, inserting or reordering records breaks the sequence numbers and the prev links;
//   - cutting the file inside a record leaves a last line without its newline.
// What a chain cannot show by itself is that whole records were cut off the end, or that the
// whole file was rewritten with fresh hashes: `audit verify` prints the head hash, and verifying
// later against that hash (kept outside the log: a report, a ticket, the client's inbox) proves
// the log still holds that record unchanged, with everything before it.
//
// Appends take an exclusive flock(2) on the file, read the last record to chain to it, write the
// new line with one write(2) and fdatasync(2), so concurrent scans append safely. The descriptor
// is opened once, before a scan drops its privileges, and used for every record of the run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "io/fd.h"

namespace gh {

// The prev of the first record.
inline constexpr std::string_view kAuditGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Where `glasshouse scan` appends when --audit-log is not given: /var/log/glasshouse/audit.jsonl
// for root; otherwise $XDG_STATE_HOME/glasshouse/audit.jsonl when that is an absolute path, else
// $HOME/.local/state/glasshouse/audit.jsonl. Empty when none applies (no HOME).
std::string default_audit_log_path(bool root, const char* xdg_state_home, const char* home);

class AuditLog {
 public:
  // Opens `path` for appending, creating it (mode 0600) and missing directories (mode 0700).
  // RuntimeError when that is impossible or the path is not a regular file (/dev/null is not an
  // audit log).
  static AuditLog open(const std::string& path);

  // Appends one record. `fields` is a JSON object text ("{...}", e.g. from JsonObject::done());
  // seq, prev and hash are added around it. Returns the record's hash. RuntimeError when the
  // record cannot be written and synced (the file is then cut back to where it was), or when the
  // log's last line is not a complete record (a damaged log is not appended to).
  std::string append(std::string_view fields);

  const std::string& path() const { return path_; }

 private:
  AuditLog(FileDescriptor fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  FileDescriptor fd_;
  std::string path_;
};

// One record line (no newline) for `fields` with sequence number `seq` after a record whose hash
// is `prev`.
std::string make_audit_line(std::string_view fields, uint64_t seq, std::string_view prev);

// What one line says about itself.
struct AuditLineCheck {
  bool ok = false;
  std::string problem;  // when !ok
  uint64_t seq = 0;
  std::string prev;
  std::string hash;
};
AuditLineCheck check_audit_line(std::string_view line);

struct AuditVerdict {
  bool ok = true;
  uint64_t records = 0;   // records that were checked and found good
  uint64_t bad_line = 0;  // 1-based line of the first bad record; 0 when the problem is the file
  std::string problem;
  std::string head;  // hash of the last good record (kAuditGenesis for an empty log)
};

// Checks a whole log's contents. `anchor`: a head hash printed by an earlier verify; when given,
// a record with that hash must still be in the chain.
AuditVerdict verify_audit_log(std::string_view contents, std::string_view anchor = {});

}  // namespace gh
