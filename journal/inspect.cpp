#include "journal/inspect.hpp"

#include <fcntl.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/namespace_object.hpp"
#include "core/registry_keys.hpp"

namespace kdr::journal {

using nlohmann::json;

json JournalStatus::to_json() const {
  json j = {{"exists", exists}, {"bytes", bytes}, {"follower", follower.empty() ? json(nullptr) : json(follower)}};
  j["epochs"] = json::array();
  for (const auto& e : epochs) {
    auto info = e.info.to_json();
    info["segments"] = e.segments;
    info["bytes"] = e.bytes;
    info["last_revision"] = e.last_revision;
    info["open"] = e.open;
    j["epochs"].push_back(info);
  }
  j["gaps"] = json::array();
  for (const auto& g : gaps)
    j["gaps"].push_back({{"epoch", g.epoch}, {"after", g.after ? json(*g.after) : json(nullptr)}, {"until", g.until},
                         {"reason", g.reason}, {"text", g.text()}});
  j["state"] = state ? state->to_json() : json(nullptr);
  return j;
}

std::optional<JournalEnd> journal_end(const JournalStatus& status, const std::string& cluster_id) {
  for (auto it = status.epochs.rbegin(); it != status.epochs.rend(); ++it) {
    if (it->info.cluster_id != cluster_id) continue;
    JournalEnd end{it->info.number, it->last_revision, 0};
    if (status.state && status.state->epoch == it->info.number) {
      end.revision = std::max(end.revision, status.state->position);
      end.time_ms = status.state->position_time_ms;
    }
    return end;
  }
  return std::nullopt;
}

JournalStatus journal_status(const JournalStore& store) {
  JournalStatus s;
  s.exists = store.exists();
  if (!s.exists) return s;
  if (core::lstat_path(store.state_file())) {
    try {
      s.state = FollowerState::from_json(json::parse(core::read_backup_file(store.state_file())));
    } catch (const json::exception& e) {
      throw core::Error(fmt::format("{}: not JSON: {}", store.state_file().string(), e.what()));
    }
  }
  if (core::lstat_path(store.lock_file())) {
    core::Fd fd(::open(store.lock_file().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd) {
      if (auto holder = core::try_flock(fd.get(), false, store.lock_file())) s.follower = *holder;
    }
  }
  for (auto& info : store.epochs()) {
    EpochSummary e;
    e.info = info;
    e.last_revision = info.base_revision;
    for (const auto& seg : store.segments(info)) {
      ++e.segments;
      e.bytes += core::lstat_path(seg.path) ? core::lstat_path(seg.path)->size : 0;
      if (seg.name.last) e.last_revision = std::max(e.last_revision, *seg.name.last);
      if (seg.name.open()) e.open = true;
    }
    s.bytes += e.bytes;
    s.epochs.push_back(std::move(e));
  }
  if (s.state && !s.epochs.empty() && s.state->epoch == s.epochs.back().info.number)
    s.epochs.back().last_revision = std::max(s.epochs.back().last_revision, s.state->position);
  s.gaps = store.gaps();
  return s;
}

JournalCheck verify_journal(const JournalStore& store, const core::NodeKey* key) {
  JournalCheck c;
  if (!store.exists()) return c;
  const auto epochs = store.epochs();
  c.epochs = static_cast<std::uint32_t>(epochs.size());
  for (const auto& g : store.gaps())
    c.notes.push_back(fmt::format("gap before epoch {}: {} ({})", g.epoch, g.text(), g.reason));
  for (const auto& epoch : epochs) {
    for (const auto& name : core::list_dir(epoch.dir))
      if (name.size() > 8 && name.substr(name.size() - 8) == ".damaged")
        c.problems.push_back(fmt::format("{}: a damaged segment, kept aside", (epoch.dir / name).string()));
    const auto start = store.chain_start(epoch);
    std::int64_t position = start.revision;
    std::optional<etcd::KeyspaceDigest> digest = start.digest;
    const auto segments = store.segments(epoch);
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const auto& seg = segments[i];
      const auto file = seg.path.string();
      ++c.segments;
      SegmentScan scan;
      try {
        scan = scan_segment(seg.path, key);
      } catch (const core::Error& e) {
        c.problems.push_back(e.what());
        digest.reset();
        continue;
      }
      if (scan.auth == core::AuthStatus::forged)
        c.problems.push_back(fmt::format("{}: forged: {}", file, scan.auth_text));
      else if (scan.auth == core::AuthStatus::authentic)
        ++c.sealed;
      else
        c.unauthenticated.push_back(fmt::format("{}: {}", file, scan.auth_text));
      c.bytes += scan.file_size;
      c.events += scan.events;
      if (scan.last_checkpoint) ++c.checkpoints;
      for (const auto& p : scan.problems) c.problems.push_back(fmt::format("{}: {}", file, p));
      const bool last_open = seg.name.open() && i + 1 == segments.size();
      if (scan.tail == TailState::damaged || (scan.tail == TailState::torn && !last_open))
        c.problems.push_back(fmt::format("{}: {} ({})", file, scan.tail == TailState::damaged ? "damaged" : "cut short",
                                         scan.tail_problem));
      else if (scan.tail == TailState::torn)
        c.notes.push_back(fmt::format("{}: the segment being written ends inside a record ({}); the follower drops it "
                                      "when it starts",
                                      file, scan.tail_problem));
      if (scan.start) {
        if (scan.start->first_revision != position + 1)
          c.problems.push_back(fmt::format("{}: begins at revision {}, the history before it ends at {}", file,
                                           scan.start->first_revision, position));
        else if (digest && !(scan.start->before == *digest))
          c.problems.push_back(fmt::format("{}: its starting digest {} is not the digest the history before it reaches, {}",
                                           file, scan.start->before.hex(), digest->hex()));
        if (scan.start->epoch != epoch.number)
          c.problems.push_back(fmt::format("{}: says epoch {}, it lies in epoch {}", file, scan.start->epoch, epoch.number));
      }
      if (scan.last_revision > 0) position = scan.last_revision;
      else if (scan.start) position = scan.start->first_revision - 1;
      digest = scan.digest;
    }
  }
  return c;
}

bool ChangeFilter::matches(std::string_view key) const {
  if (!prefix.empty() && key.substr(0, prefix.size()) == prefix) return true;
  if (namespace_name.empty()) return false;
  const auto ns = core::namespace_of(key);
  return ns && *ns == namespace_name;
}

void for_each_change(const JournalStore& store, const ChangeFilter& filter, const core::NodeKey* key,
                     const std::function<void(std::uint32_t epoch, const Event& e)>& visit) {
  for (const auto& epoch : store.epochs()) {
    if (filter.epoch != 0 && epoch.number != filter.epoch) continue;
    for (const auto& seg : store.segments(epoch)) {
      SegmentReader reader(seg.path, key);
      while (auto record = reader.next()) {
        const auto* e = std::get_if<Event>(&*record);
        if (e != nullptr && filter.matches(e->key)) visit(epoch.number, *e);
      }
      if (reader.auth() == core::AuthStatus::forged)
        throw core::Error(fmt::format("the journal segment {} is refused: {}", seg.path.string(), reader.auth_text()));
    }
  }
}

std::vector<FoundChange> find_in_journal(const JournalStore& store, const ChangeFilter& filter, std::size_t limit) {
  std::vector<FoundChange> out;
  for_each_change(store, filter, nullptr, [&](std::uint32_t epoch, const Event& e) {
    out.push_back({epoch, e.revision, e.time_ms, e.kind, e.key, e.value.size()});
  });
  std::stable_sort(out.begin(), out.end(), [](const FoundChange& a, const FoundChange& b) {
    return a.epoch != b.epoch ? a.epoch > b.epoch : a.revision > b.revision;
  });
  if (limit > 0 && out.size() > limit) out.resize(limit);
  return out;
}

std::string Deletion::text(const std::string& what) const {
  return fmt::format("{} began to be deleted at revision {} ({}, {}){}", what, started,
                     time_ms > 0 ? core::iso_time(time_ms / 1000) : std::string("-"), how,
                     key_deleted == started ? std::string()
                     : key_deleted > 0      ? fmt::format("; its key was deleted at revision {}", key_deleted)
                                     : std::string("; it is still being deleted at the journal's end"));
}

std::optional<Deletion> find_namespace_deletion(const JournalStore& store, const std::string& name,
                                                const core::NodeKey* key) {
  const auto ns_key = core::namespace_key(name);
  std::optional<Deletion> newest;
  for (const auto& epoch : store.epochs()) {
    std::optional<Deletion> current;  // a deletion under way
    bool from_timestamp = false;               // `current` began with the deletionTimestamp put
    for (const auto& seg : store.segments(epoch)) {
      SegmentReader reader(seg.path, key);
      while (auto record = reader.next()) {
        const auto* e = std::get_if<Event>(&*record);
        if (e == nullptr) continue;
        const auto ns = core::namespace_of(e->key);
        if (!ns || *ns != name) continue;
        const auto begin = [&](std::string how) {
          current = Deletion{epoch.number, e->revision, e->time_ms, std::move(how), 0};
        };
        if (e->key == ns_key && e->kind == EventKind::put) {
          const auto st = core::namespace_state(e->value);
          if (st.readable && !st.terminating) {
            current.reset();  // alive: created again, or updated before any deletion
            from_timestamp = false;
          } else if (st.terminating && !from_timestamp) {
            begin("its deletionTimestamp was set");
            from_timestamp = true;
          }
        } else if (e->key == ns_key) {  // the namespace's key deleted: the deletion is complete
          if (!current) begin("its key was deleted");
          current->key_deleted = e->revision;
          newest = current;
          current.reset();
          from_timestamp = false;
        } else if (e->kind == EventKind::del) {
          if (!current) begin(fmt::format("the first delete of one of its objects ({})", e->key));
        } else if (e->create_revision == e->revision && current && !from_timestamp) {
          current.reset();  // an object created: the namespace was not being deleted (a terminating one takes none)
        }
      }
    }
    if (current && from_timestamp) newest = current;  // still Terminating
  }
  return newest;
}

std::optional<Deletion> find_object_deletion(const JournalStore& store, const std::string& object_key,
                                             const core::NodeKey* key) {
  std::optional<Deletion> newest;
  for (const auto& epoch : store.epochs()) {
    std::optional<Deletion> current;  // a deletion under way (its deletionTimestamp set)
    for (const auto& seg : store.segments(epoch)) {
      SegmentReader reader(seg.path, key);
      while (auto record = reader.next()) {
        const auto* e = std::get_if<Event>(&*record);
        if (e == nullptr || e->key != object_key) continue;
        if (e->kind == EventKind::del) {
          if (!current) current = Deletion{epoch.number, e->revision, e->time_ms, "its key was deleted", 0};
          current->key_deleted = e->revision;
          newest = current;
          current.reset();
          continue;
        }
        const auto st = core::object_state(e->value);
        if (st.readable && !st.deleting) current.reset();  // alive: created again, or updated
        else if (st.deleting && !current)
          current = Deletion{epoch.number, e->revision, e->time_ms, "its deletionTimestamp was set", 0};
      }
    }
    if (current) newest = current;  // still being deleted
  }
  return newest;
}

}  // namespace kdr::journal
