// to=auto when restore-etcd-keys puts back namespaces: the point just before the newest
// deletion of those namespaces began, as the change journal saw it (journal::
// find_namespace_deletion): the namespaces with all their objects, not yet Terminating. With
// no such deletion in the journal (or no journal), the generation's snapshot.
#pragma once

#include <string>
#include <vector>

#include "restore/steps/etcd_replay.hpp"

namespace kdr::restore {

PointChoice namespace_point(const core::Context& ctx, const std::vector<std::string>& namespaces,
                            const core::EtcdFacts& generation_etcd, const core::NodeKey* key);

}  // namespace kdr::restore
