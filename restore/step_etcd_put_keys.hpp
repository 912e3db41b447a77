// The etcd-put-keys step (playbook restore-etcd-keys): puts back only the keys of chosen
// namespaces or key prefixes, from the generation's snapshot opened off the node, into the
// live etcd while the cluster runs. One transaction per key, written only if the key is absent
// (or, with overwrite, unchanged since it was read); every key is journaled before it is
// written, and a rollback removes exactly those (or puts back the values they replaced).
#pragma once

#include <string>
#include <vector>

#include "restore/runner.hpp"

namespace kdr::restore {

std::vector<std::string> describe_etcd_put_keys(const Runner& r, const PlannedStep& s);
void check_etcd_put_keys(Runner& r, const PlannedStep& s, Preflight& pf);
void run_etcd_put_keys(Runner& r, const PlannedStep& s);
void undo_etcd_put(Runner& r, const Action& a);

}  // namespace kdr::restore
