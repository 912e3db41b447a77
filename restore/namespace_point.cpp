#include "restore/namespace_point.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "journal/inspect.hpp"

namespace kdr::restore {

PointChoice namespace_point(const core::Context& ctx, const std::vector<std::string>& namespaces,
                            const core::EtcdFacts& generation_etcd, const core::NodeKey* key) {
  const journal::JournalStore store(ctx.backup_dir);
  std::optional<journal::NamespaceDeletion> earliest;
  std::string found;
  if (store.exists())
    for (const auto& name : namespaces)
      if (const auto d = journal::find_namespace_deletion(store, name, key)) {
        found += (found.empty() ? "" : "; ") + d->text(name);
        if (!earliest || d->started < earliest->started) earliest = d;
      }
  if (!earliest) {
    auto c = resolve_point(ctx, "snapshot", generation_etcd, key);
    c.note = fmt::format("to=auto: {}: the generation's snapshot; --set to=REVISION or to=TIME reads another point "
                         "(kdr journal find --namespace NAME)",
                         namespaces.empty() ? "no namespace chosen"
                         : store.exists()   ? "the change journal holds no deletion of the namespace"
                                            : "no change journal");
    return c;
  }
  auto c = resolve_point(ctx, std::to_string(earliest->started - 1), generation_etcd, key);
  c.note = fmt::format("to=auto: {}: the keys are read at revision {}, just before", found, earliest->started - 1);
  return c;
}

}  // namespace kdr::restore
