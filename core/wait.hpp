// Waiting for something on the node (pods to stop, etcd to become healthy, a private etcd to
// answer): one loop that polls, honours Ctrl-C at every turn (even between polls), gives up at
// a deadline, and tells the operator every so often what it still waits for.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace kdr::core {

struct WaitSpec {
  double timeout_s = 60;
  std::chrono::milliseconds every{100};  // between polls
  double note_every_s = 10;              // how often `note` hears what is still pending
};

struct WaitOutcome {
  bool done = false;
  double seconds = 0;       // from the start of the wait
  std::string still;        // what the last poll still waited for (when not done)
};

// Calls `pending` until it returns nothing (done) or the deadline passes; `pending` says what
// is not there yet. `note(seconds, still)` is called every `note_every_s`. Throws Error
// (interrupted) on Ctrl-C or SIGTERM.
WaitOutcome wait_until(const WaitSpec& spec, const std::function<std::optional<std::string>()>& pending,
                       const std::function<void(double, const std::string&)>& note = {});

}  // namespace kdr::core
