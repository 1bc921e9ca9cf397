// SIGINT/SIGTERM -> a stop flag the engines poll. The only process-wide state in the program: a
// signal handler can reach nothing else.
#pragma once

#include <atomic>

namespace gh {

// Installs handlers for SIGINT and SIGTERM that set the flag (a second signal restores the default
// action, so a third Ctrl-C kills a stuck process the usual way). Ignores SIGPIPE.
void install_stop_handlers();
const std::atomic<bool>& stop_requested();
void request_stop();  // same as receiving SIGINT (tests, and internal fatal paths)
int stop_signal();    // the signal that stopped us, 0 if none

}  // namespace gh
