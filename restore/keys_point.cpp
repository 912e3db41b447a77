#include "restore/keys_point.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "journal/inspect.hpp"

namespace kdr::restore {

PointChoice keys_point(const core::Context& ctx, const KeySelection& selection, const core::EtcdFacts& generation_etcd,
                       const core::NodeKey* key) {
  const journal::JournalStore store(ctx.backup_dir);
  std::optional<journal::Deletion> earliest;
  std::string found;
  const auto consider = [&](const std::optional<journal::Deletion>& d, const std::string& what) {
    if (!d) return;
    found += (found.empty() ? "" : "; ") + d->text(what);
    if (!earliest || d->started < earliest->started) earliest = d;
  };
  if (store.exists()) {
    for (const auto& name : selection.namespaces)
      consider(journal::find_namespace_deletion(store, name, key), "namespace " + name);
    for (const auto& o : selection.objects) consider(journal::find_object_deletion(store, o.key, key), o.text());
  }
  if (!earliest) {
    const bool chosen = !selection.namespaces.empty() || !selection.objects.empty();
    auto c = resolve_point(ctx, "snapshot", generation_etcd, key);
    c.note = fmt::format("to=auto: {}: the generation's snapshot; --set to=REVISION or to=TIME reads another point "
                         "(kdr journal find --namespace NAME, kdr history RESOURCE/NAME)",
                         !chosen           ? "no namespace or object chosen"
                         : store.exists() ? "the change journal holds no deletion of what is put back"
                                          : "no change journal");
    return c;
  }
  auto c = resolve_point(ctx, std::to_string(earliest->started - 1), generation_etcd, key);
  c.note = fmt::format("to=auto: {}: the keys are read at revision {}, just before", found, earliest->started - 1);
  return c;
}

}  // namespace kdr::restore
