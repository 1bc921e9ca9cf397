// One `glasshouse scan` run, from an immutable ScanConfig to results in every output.
//
// Stages (each a function in scanner.cpp): list the targets (-sL) or open the outputs, pick the
// engine for the scan type, run it with the stop flag and the status line, then close every
// output with the summary, also when the run was interrupted.
#pragma once

#include "run/checkpoint_session.h"
#include "scan/config.h"

namespace gh {

// Returns the exit status: 0 when the scan completed, 128+signal when SIGINT/SIGTERM stopped it
// (after flushing every output). Throws UsageError / RuntimeError.
// `origin` is what a -sS scan's checkpoints record (its argv and directory), and, with --resume,
// the checkpoint it continues (run/checkpoint_session.h): the outputs are then appended to.
int run_scan(const ScanConfig& config, const ScanOrigin& origin = {});

}  // namespace gh
