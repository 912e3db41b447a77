// The table of step types, made from KDR_STEP_TYPES (restore/step_types.hpp): each entry is
// the StepDef its unit restore/steps/<type>.cpp defines.
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

#define KDR_STEP_DECLARATION(type) const StepDef& type##_step_def();
KDR_STEP_TYPES(KDR_STEP_DECLARATION)
#undef KDR_STEP_DECLARATION

const std::vector<const StepDef*>& step_table() {
  static const std::vector<const StepDef*> table = [] {
    std::vector<const StepDef*> all = {
#define KDR_STEP_ENTRY(type) &type##_step_def(),
        KDR_STEP_TYPES(KDR_STEP_ENTRY)
#undef KDR_STEP_ENTRY
    };
    for (std::size_t i = 0; i < all.size(); ++i)
      if (static_cast<std::size_t>(all[i]->type()) != i)
        throw core::Error(fmt::format("step unit {} answers another type than its line in KDR_STEP_TYPES", all[i]->name()));
    return all;
  }();
  return table;
}

const StepDef& step_def(StepType type) { return *step_table().at(static_cast<std::size_t>(type)); }

}  // namespace kdr::restore
