// `glasshouse watch`: the port-scan detector's command line (see src/detect/README.md).
#pragma once

namespace gh {

// argv[0] is "watch". Usage errors: one line on stderr, returns 2; runtime failures: one line,
// returns 1; 0 otherwise (also for --help).
int run_watch_command(int argc, char** argv);

}  // namespace gh
