// Step type `manual`: an instruction the operator carries out; the restore waits for their
// yes before going on. kdr changes nothing itself.
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

struct ManualArgs : StepArgs {
  std::string instruction;
};

class ManualStep final : public TypedStep<ManualArgs> {
 public:
  StepType type() const override { return StepType::manual; }
  std::string_view name() const override { return "manual"; }
  bool changes_node() const override { return true; }
  Undo undo_kind() const override { return Undo::untracked; }
  std::vector<StepKey> keys() const override { return {{"instruction", true}}; }

 protected:
  ManualArgs read_args(const StepValues& v) const override {
    ManualArgs a;
    a.instruction = v.text("instruction");
    return a;
  }
  std::vector<std::string> plan_text(const Runner&, const ManualArgs& a) const override { return {a.instruction}; }
  std::string ask_line(const ManualArgs& a) const override { return a.instruction; }
  void perform(Runner& r, const ManualArgs& a) const override { r.ctx.out.info("      {}", a.instruction); }
};

}  // namespace

const StepDef& manual_step_def() {
  static const ManualStep def;
  return def;
}

}  // namespace kdr::restore
