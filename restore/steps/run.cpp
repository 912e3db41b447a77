// Step type `run`: any program, the step's `argv` (restore/steps/program.hpp).
#include "restore/steps/program.hpp"

namespace kdr::restore {

namespace {

class RunStep final : public ProgramStep {
 public:
  StepType type() const override { return StepType::run; }
  std::string_view name() const override { return "run"; }
  std::vector<StepKey> keys() const override { return {{"argv", true}, {"timeout", false}, {"writes", false}}; }

 protected:
  ProgramArgs read_args(const StepValues& v) const override {
    ProgramArgs a;
    a.argv = v.list("argv");
    if (a.argv.empty()) v.fail("argv", "expected a non-empty list: the program, then its arguments");
    a.timeout = v.seconds("timeout", a.timeout);
    read_writes(v, a);
    return a;
  }
};

}  // namespace

const StepDef& run_step_def() {
  static const RunStep def;
  return def;
}

}  // namespace kdr::restore
