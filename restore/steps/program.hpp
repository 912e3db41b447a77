// What step types `kubeadm` (restore/steps/kubeadm.cpp) and `run` (restore/steps/run.cpp)
// share: a program run with an argv (never a shell string), with KDR_ROOT, KDR_RESTORE_ID and
// KDR_GENERATION_DIR in its environment and its output kept in the journal folder. What it
// changes, kdr does not track (a rollback says so), except the files its `writes` names (node
// paths, outside what the restore placed: kubeadm's kubelet-start writes
// /var/lib/kubelet/kubeadm-flags.env): each one there is renamed aside first (kept), and a
// rollback takes the program's out and renames the old one back.
#pragma once

#include <string>
#include <vector>

#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

struct ProgramArgs : StepArgs {
  std::vector<std::string> argv;  // the whole command, program first
  std::vector<std::string> writes;  // node paths it writes that a rollback must take back
  int timeout = 900;
};

// `kubeadm` steps name kubeadm's arguments (`args`), `run` steps the whole argv (`argv`).
class ProgramStep : public TypedStep<ProgramArgs> {
 public:
  bool changes_node() const override { return true; }
  Undo undo_kind() const override { return Undo::untracked; }
  std::string action_text(const Action& a) const override;
  void undo(Runner& r, const Action& a) const override;

 protected:
  std::vector<std::string> plan_text(const Runner& r, const ProgramArgs& a) const override;
  // `writes` (optional) into `a`.
  static void read_writes(const StepValues& v, ProgramArgs& a);

  // Arguments naming the generation's files (kubeadm init --config <generation>/...).
  void reads_from(const Runner& r, const ProgramArgs& a, verify::HashScope& scope) const override;
  void perform(Runner& r, const ProgramArgs& a) const override;
};

}  // namespace kdr::restore
