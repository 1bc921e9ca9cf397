// The history subcommands (README "History, diff and reports"):
//
//   glasshouse history [--db DB] [-n N] [--json]        the runs in the store, newest first
//   glasshouse diff A B [--db DB] [--json]              what changed from A to B
//   glasshouse report [RUN] -o FILE [--db DB] [--since X]   a self-contained HTML page
//   glasshouse merge FILE... -o OUT                     shard result files joined, each port once
//
// A and B (and RUN, X) are run ids, "last", "last~N", or result files (our JSON Lines, nmap XML).
// DB is a file or a PostgreSQL URL; the default is scan's (store/store.h default_db_path).
// Errors: bad input (an unknown run, a truncated or malformed file, a damaged database) is a
// UsageError (exit 2), a database that is locked or cannot be reached a RuntimeError (exit 1);
// both one line.
#pragma once

#include <string>
#include <vector>

namespace gh {

// args: what follows the subcommand's name. Each returns the exit status.
int run_history_command(const std::vector<std::string>& args);
int run_diff_command(const std::vector<std::string>& args);
int run_report_command(const std::vector<std::string>& args);
int run_merge_command(const std::vector<std::string>& args);

}  // namespace gh
