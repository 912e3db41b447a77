#include "k8s/schema.hpp"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "core/error.hpp"

extern const unsigned char kdr_k8s_api_desc[];
extern const std::size_t kdr_k8s_api_desc_size;
extern const unsigned char kdr_k8s_api_tsv[];
extern const std::size_t kdr_k8s_api_tsv_size;

namespace kdr::k8s {

struct Schema::Impl {
  pb::DescriptorPool pool;
  pb::DynamicMessageFactory factory{&pool};
  std::map<std::string, std::string, std::less<>> packages;  // "apps/v1" -> "k8s.io.api.apps.v1"
  std::map<const pb::FieldDescriptor*, FieldInfo> fields;
  std::set<const pb::Descriptor*> list_types;
  mutable std::mutex order_mutex;
  mutable std::map<const pb::Descriptor*, std::vector<const pb::FieldDescriptor*>> order;
};

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

GoKind go_kind(const std::string& word) {
  if (word == "ptr") return GoKind::pointer;
  if (word == "slice") return GoKind::slice;
  if (word == "map") return GoKind::map;
  return GoKind::value;
}

void load_descriptors(Schema::Impl& impl) {
  pb::FileDescriptorSet set;
  if (!set.ParseFromArray(kdr_k8s_api_desc, static_cast<int>(kdr_k8s_api_desc_size)))
    throw core::Error("kdr's built-in Kubernetes API types do not parse (the build is damaged)");
  for (const auto& file : set.file())  // protoc writes them imports first
    if (impl.pool.BuildFile(file) == nullptr)
      throw core::Error("kdr's built-in Kubernetes API types: " + file.name() + " does not build");
}

// The G/F/S records of k8s/gen/go-fields.sh.
void load_table(Schema::Impl& impl) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(kdr_k8s_api_tsv), kdr_k8s_api_tsv_size));
  std::string line;
  while (std::getline(in, line)) {
    const auto cols = split_tabs(line);
    if (cols[0] == "G" && cols.size() == 4) {
      impl.packages[cols[1].empty() ? cols[2] : cols[1] + "/" + cols[2]] = cols[3];
    } else if (cols[0] == "S" && cols.size() == 2) {
      if (const auto* d = impl.pool.FindMessageTypeByName(cols[1])) impl.list_types.insert(d);
    } else if (cols[0] == "F" && cols.size() == 7) {
      const auto* d = impl.pool.FindMessageTypeByName(cols[1]);
      if (d == nullptr) continue;
      const auto* f = d->FindFieldByNumber(std::stoi(cols[2]));
      if (f == nullptr) continue;
      impl.fields[f] = FieldInfo{cols[3], cols[4] == "1", go_kind(cols[5]), std::stoi(cols[6])};
    }
  }
}

}  // namespace

Schema::Schema() : impl_(std::make_unique<Impl>()) {
  load_descriptors(*impl_);
  load_table(*impl_);
}

Schema::~Schema() = default;

const Schema& Schema::builtin() {
  static const Schema schema;
  return schema;
}

const pb::Descriptor* Schema::message(std::string_view api_version, std::string_view kind) const {
  const auto it = impl_->packages.find(api_version);
  if (it == impl_->packages.end() || kind.empty()) return nullptr;
  return impl_->pool.FindMessageTypeByName(it->second + "." + std::string(kind));
}

const pb::Descriptor* Schema::message(std::string_view full_name) const {
  return impl_->pool.FindMessageTypeByName(std::string(full_name));
}

const FieldInfo* Schema::field(const pb::FieldDescriptor* f) const {
  const auto it = impl_->fields.find(f);
  return it == impl_->fields.end() ? nullptr : &it->second;
}

const std::vector<const pb::FieldDescriptor*>& Schema::fields_in_order(const pb::Descriptor* d) const {
  const std::lock_guard lock(impl_->order_mutex);
  auto [it, inserted] = impl_->order.try_emplace(d);
  if (!inserted) return it->second;
  auto& out = it->second;
  for (int i = 0; i < d->field_count(); ++i) out.push_back(d->field(i));
  auto rank = [&](const pb::FieldDescriptor* f) {
    const auto* info = field(f);
    return std::pair{info == nullptr ? 1 : 0, info == nullptr ? f->number() : info->position};
  };
  std::stable_sort(out.begin(), out.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
  return out;
}

bool Schema::is_list_type(const pb::Descriptor* d) const { return impl_->list_types.count(d) != 0; }

const pb::Message* Schema::prototype(const pb::Descriptor* d) const {
  // DynamicMessageFactory is not thread-safe; kdr decodes on one thread, but keep it correct.
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  return impl_->factory.GetPrototype(d);
}

std::string Schema::version() const { return KDR_K8S_API_VERSION; }

std::set<std::string> Schema::group_versions() const {
  std::set<std::string> out;
  for (const auto& [gv, pkg] : impl_->packages) out.insert(gv);
  return out;
}

}  // namespace kdr::k8s
