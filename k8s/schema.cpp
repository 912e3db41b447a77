#include "k8s/schema.hpp"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <algorithm>
#include <map>
#include <unordered_map>
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
  std::unordered_map<const pb::Descriptor*, MessagePlan> plans;
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

Special special_of(const pb::Descriptor* d, const Schema::Impl& impl) {
  const auto& n = d->full_name();
  if (n == "k8s.io.apimachinery.pkg.apis.meta.v1.Time") return Special::time;
  if (n == "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime") return Special::micro_time;
  if (n == "k8s.io.apimachinery.pkg.apis.meta.v1.Duration") return Special::duration;
  if (n == "k8s.io.apimachinery.pkg.api.resource.Quantity" || n == "k8s.io.apimachinery.pkg.api.resource.QuantityValue")
    return Special::quantity;
  if (n == "k8s.io.apimachinery.pkg.util.intstr.IntOrString") return Special::int_or_string;
  if (n == "k8s.io.apimachinery.pkg.runtime.RawExtension" || n == "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1")
    return Special::raw_json;
  if (impl.list_types.count(d) != 0) return Special::list;
  return Special::none;
}

MessagePlan make_plan(const pb::Descriptor* d, const Schema::Impl& impl) {
  MessagePlan p;
  p.message = d;
  p.special = special_of(d, impl);
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    FieldPlan fp;
    fp.field = f;
    if (const auto it = impl.fields.find(f); it != impl.fields.end()) {
      fp.info = it->second;
    } else {
      // Not in a Go struct kdr read: its proto name, omitempty, a pointer for a message.
      fp.info = FieldInfo{f->name(), true, GoKind::value, 1 << 20};
      if (f->is_map()) fp.info.kind = GoKind::map;
      else if (f->is_repeated()) fp.info.kind = GoKind::slice;
      else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) fp.info.kind = GoKind::pointer;
    }
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) fp.special = special_of(f->message_type(), impl);
    p.fields.push_back(std::move(fp));
  }
  std::stable_sort(p.fields.begin(), p.fields.end(), [](const FieldPlan& a, const FieldPlan& b) {
    return std::pair(a.info.position, a.field->number()) < std::pair(b.info.position, b.field->number());
  });
  for (std::size_t i = 0; i < p.fields.size(); ++i) {
    const auto n = static_cast<std::size_t>(p.fields[i].field->number());
    if (n >= 4096) continue;  // Kubernetes' field numbers are small; a huge one is decoded as unknown
    if (p.slot.size() <= n) p.slot.resize(n + 1, -1);
    p.slot[n] = static_cast<int>(i);
  }
  return p;
}

void add_plans(const pb::Descriptor* d, Schema::Impl& impl) {
  impl.plans.emplace(d, make_plan(d, impl));
  for (int i = 0; i < d->nested_type_count(); ++i) add_plans(d->nested_type(i), impl);
}

void build_plans(Schema::Impl& impl) {
  pb::FileDescriptorSet set;
  set.ParseFromArray(kdr_k8s_api_desc, static_cast<int>(kdr_k8s_api_desc_size));
  for (const auto& file : set.file()) {
    const auto* fd = impl.pool.FindFileByName(file.name());
    for (int i = 0; fd != nullptr && i < fd->message_type_count(); ++i) add_plans(fd->message_type(i), impl);
  }
}

}  // namespace

Schema::Schema() : impl_(std::make_unique<Impl>()) {
  load_descriptors(*impl_);
  load_table(*impl_);
  build_plans(*impl_);
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

const MessagePlan& Schema::plan(const pb::Descriptor* d) const {
  const auto it = impl_->plans.find(d);
  if (it == impl_->plans.end()) throw core::Error("kdr has no print plan for " + d->full_name());
  return it->second;
}

const pb::Message* Schema::prototype(const pb::Descriptor* d) const {
  // DynamicMessageFactory is not thread-safe; kdr decodes on one thread, but keep it correct.
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  return impl_->factory.GetPrototype(d);
}

std::string Schema::version() const { return KDR_K8S_API_VERSION; }


}  // namespace kdr::k8s
