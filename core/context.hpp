// What every command runs with: the configuration, the node's root, the backup folder,
// the output, and the seams to the machine (the programs kdr starts, the host's facts, the
// etcds it talks to, the kubelets whose pod lists it reads).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/host.hpp"
#include "core/kubelet.hpp"
#include "core/node_key.hpp"
#include "core/node_root.hpp"
#include "core/output.hpp"

namespace kdr::etcd {
// The seam to the etcds kdr talks to (etcd/api.hpp); the real one is etcd/client.cpp's.
class EtcdConnector;
std::shared_ptr<const EtcdConnector> real_etcd();
}  // namespace kdr::etcd

namespace kdr::core {

struct Context {
  Config config;
  NodeRoot root;
  bfs::path backup_dir;  // the second disk; never under the node root
  Output out;
  std::shared_ptr<const Host> host = real_host();
  std::shared_ptr<const Programs> programs = real_programs();
  std::shared_ptr<const etcd::EtcdConnector> etcd = etcd::real_etcd();
  std::shared_ptr<const Kubelets> kubelets = real_kubelets();
};

// "kdr" and the global options this run was given (--root, --config, --backup-dir), so
// that a printed command runs against the same node, config and backup folder.
std::vector<std::string> kdr_argv(const Context& ctx);

// The node's key file (config key_file, under --root): core/node_key.hpp.
bfs::path node_key_file(const Context& ctx);
// This node's key when it has a sound one, for what kdr reads; none when there is none or it is
// unsafe (what it would check then reads as unchecked, and says so).
std::optional<NodeKey> node_key_if_any(const Context& ctx);
// The node's key for what kdr writes (a generation, a journal segment): made the first time,
// with a warning that says to copy it off the node.
NodeKey load_or_create_node_key(const Context& ctx);

}  // namespace kdr::core
