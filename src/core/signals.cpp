#include "core/signals.h"

#include <csignal>

namespace gh {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_stop.exchange(true)) std::signal(sig, SIG_DFL);  // second signal: next one is fatal
  g_signal.store(sig);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and the loops look at the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

const std::atomic<bool>& stop_requested() {
  return g_stop;
}
void request_stop() {
  g_stop.store(true);
}
int stop_signal() {
  return g_signal.load();
}

}  // namespace gh
