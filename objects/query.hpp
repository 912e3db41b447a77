// Which objects a command asks for (a resource by any name kubectl accepts, a name, a
// namespace or all of them, a label selector), and the decoded objects of a point that match,
// one at a time.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "k8s/decode.hpp"
#include "k8s/resources.hpp"
#include "objects/point.hpp"

namespace kdr::objects {

// kubectl's equality-based selector: "app=api,tier!=cache,release" (key=value, key==value,
// key!=value, key, !key).
struct LabelSelector {
  struct Term {
    std::string key, value;
    enum class Op { equals, not_equals, exists, not_exists } op = Op::equals;
  };
  std::vector<Term> terms;
  bool matches(const k8s::ojson& object) const;
  bool empty() const { return terms.empty(); }
};
// Throws UsageError naming the part that is not a selector term.
LabelSelector parse_selector(const std::string& text);

struct ObjectQuery {
  k8s::ResourceType type;
  std::string namespace_;       // for a namespaced resource: the one to read ("" with all_namespaces)
  bool all_namespaces = false;
  std::string name;             // one object; empty: every one
  LabelSelector selector;
};

// "deploy", "deployments.apps", "deploy/api" (then `name` must be empty), or a custom
// resource as <plural>.<group>. Throws UsageError naming the resource, with suggestions.
ObjectQuery make_query(const std::string& resource, const std::string& name, const std::string& namespace_,
                       bool all_namespaces, const std::string& selector);

// The key prefix a query reads under at `etcd_prefix`.
std::string query_prefix(const ObjectQuery& q, const std::string& etcd_prefix);

// Every object of the point the query picks, decoded (with the point's EncryptionConfiguration);
// an object that does not decode is handed out too, with its problem (a selector cannot
// judge it: it is kept). In no particular order.
void each_object(PointReader& point, const ObjectQuery& q, const std::function<void(k8s::StoredObject&&)>& visit);

}  // namespace kdr::objects
