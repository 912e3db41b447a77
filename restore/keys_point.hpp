// to=auto when restore-etcd-keys puts back namespaces or objects: the point just before the
// newest deletion of what it puts back began, as the change journal saw it (journal::
// find_namespace_deletion, find_object_deletion): namespaces with all their objects, not yet
// Terminating; objects before their deletionTimestamp was set or their key deleted. With more
// than one, the earliest such point. With no such deletion in the journal (or no journal), the
// generation's snapshot.
#pragma once

#include <string>
#include <vector>

#include "restore/etcd_keys.hpp"
#include "restore/steps/etcd_replay.hpp"

namespace kdr::restore {

PointChoice keys_point(const core::Context& ctx, const KeySelection& selection, const core::EtcdFacts& generation_etcd,
                       const core::NodeKey* key);

}  // namespace kdr::restore
