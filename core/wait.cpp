#include "core/wait.hpp"

#include <algorithm>
#include <thread>

#include "core/clock.hpp"
#include "core/interrupt.hpp"

namespace kdr::core {

WaitOutcome wait_until(const WaitSpec& spec, const std::function<std::optional<std::string>()>& pending,
                       const std::function<void(double, const std::string&)>& note) {
  const double start = monotonic_seconds();
  double last_note = start;
  WaitOutcome out;
  for (;;) {
    check_interrupted();
    const auto still = pending();
    const double now = monotonic_seconds();
    out.seconds = now - start;
    if (!still) {
      out.done = true;
      out.still.clear();
      return out;
    }
    out.still = *still;
    if (out.seconds > spec.timeout_s) return out;
    if (note && now - last_note >= spec.note_every_s) {
      note(out.seconds, *still);
      last_note = now;
    }
    // Sleep in slices, so that Ctrl-C is honoured within a tenth of a second.
    const double until = monotonic_seconds() + std::chrono::duration<double>(spec.every).count();
    for (double left = until - monotonic_seconds(); left > 0; left = until - monotonic_seconds()) {
      check_interrupted();
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 0.1)));
    }
  }
}

}  // namespace kdr::core
