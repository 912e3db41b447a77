// The change journal of a RestoreFixture's etcd, written as `kdr journal run` writes it, for
// unit tests of restores to a journal point.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "journal/record.hpp"
#include "journal/store.hpp"
#include "restore_fixture.hpp"

namespace kdr::test {

// The change journal of the node's etcd from the fixture's backup on, written as `kdr journal
// run` writes it: an epoch whose base is the generation's snapshot, one segment of the writes
// made through write(), closed with a checkpoint at the last one.
class WrittenJournal {
 public:
  WrittenJournal(RestoreFixture& f, const std::string& generation) : f_(f), store_(f.backup_dir) {
    store_.create();
    journal::EpochInfo e;
    e.cluster_id = "11";
    e.member_id = "21";
    e.endpoint = RestoreFixture::node_etcd_url;
    e.base_revision = f.live->revision;
    e.base = digest_of(*f.live);
    e.base_generation = generation;
    e.started_ms = f.host->clock * 1000;
    e.reason = "first start";
    epoch_ = store_.begin_epoch(e);
    digest_ = e.base;
    journal::SegmentStart start{epoch_.number, f.live->revision + 1, e.started_ms, "11", digest_};
    // sealed with the node's key, which the backup made
    writer_ = std::make_unique<journal::SegmentWriter>(journal::SegmentWriter::create(epoch_.dir, start, core::load_or_create_node_key(f.context())));
  }

  static etcd::KeyspaceDigest digest_of(const FakeKeyspace& ks) {
    etcd::KeyspaceDigest d;
    for (const auto& [k, kv] : ks.kvs) d.add(etcd::pair_hash(k, kv.value));
    return d;
  }

  // One write to the live etcd, journaled; `with_previous` false: the event does not carry the
  // pair it replaced (the digest cannot follow a change to an existing key then).
  void write(const std::string& key, const std::optional<std::string>& value, bool with_previous = true) {
    journal::Event e;
    const auto old = f_.live->kvs.find(key);
    if (old != f_.live->kvs.end() && with_previous) e.previous = etcd::pair_hash(key, old->second.value);
    f_.live->write(key, value);
    e.revision = f_.live->revision;
    e.time_ms = (f_.host->clock + e.revision) * 1000;
    e.kind = value ? journal::EventKind::put : journal::EventKind::del;
    e.last_in_revision = true;
    if (value) {
      const auto& kv = f_.live->kvs.at(key);
      e.create_revision = kv.create_revision;
      e.mod_revision = kv.mod_revision;
      e.version = kv.version;
      e.value = *value;
    }
    e.key = key;
    if (!journal::apply_to_digest(e, digest_) && with_previous)
      throw std::logic_error("the digest cannot follow a write that carries the pair it replaced");
    writer_->append(journal::encode(e));
  }

  void close() {
    writer_->close({f_.live->revision, (f_.host->clock + f_.live->revision) * 1000, digest_});
    writer_.reset();
  }

 private:
  RestoreFixture& f_;
  journal::JournalStore store_;
  journal::EpochInfo epoch_;
  etcd::KeyspaceDigest digest_;
  std::unique_ptr<journal::SegmentWriter> writer_;
};

}  // namespace kdr::test
