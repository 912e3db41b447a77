// Which playbooks can restore from a generation, asked of the playbooks themselves: each step
// type says whether it can run from what the generation offers (StepDef::cannot_serve), for
// the parameter values a playbook would run with. `kdr show` lists the answer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/generation_view.hpp"
#include "restore/playbook.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

// What the generation holds for a restore (its snapshot, its files, its kubeadm configuration).
GenerationOffer offer_of(const core::Config& config, const core::GenerationView& g);

// A kubeadm configuration file among the generation's files (kubeadm-config.yaml beside
// /etc/kubernetes, or wherever the cluster's installer kept it): a *.yaml/*.yml/*.conf with
// "kubeadm" in its name that holds a ClusterConfiguration. Its node path.
std::optional<std::string> kubeadm_config_file(const core::GenerationView& g);

struct PlaybookFit {
  std::string playbook;
  // --set values it needs: NAME=VALUE for a choice other than the default, NAME=NAME for a value
  // only the operator can give (a parameter without a default, such as namespace).
  std::vector<std::string> set;
};

// The playbooks that can restore from the generation, in the order given. A playbook fits
// with its defaults, or else with one parameter set to another of its choices. A `to` of auto
// is judged as what the generation holds itself (its snapshot, else its journal revision).
std::vector<PlaybookFit> playbooks_serving(const GenerationOffer& offer, const std::vector<Playbook>& playbooks,
                                           const std::string& etcd_data_dir, const std::string& static_pod_path);

}  // namespace kdr::restore
