#include "restore/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/interrupt.hpp"
#include "core/json_util.hpp"
#include "core/sha256.hpp"
#include "etcd/client.hpp"

namespace kdr::restore {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<ActionOp, std::string_view>, 10> action_ops = {{
    {ActionOp::move, "move"},
    {ActionOp::place, "place"},
    {ActionOp::etcd_put, "etcd-put"},
    {ActionOp::etcd_member_add, "etcd-member-add"},
    {ActionOp::etcd_member_remove, "etcd-member-remove"},
    {ActionOp::member_join, "member-join"},
    {ActionOp::pods_stop, "pods-stop"},
    {ActionOp::pods_start, "pods-start"},
    {ActionOp::etcd_delete, "etcd-delete"},
    {ActionOp::program_writes, "program-writes"},
}};

constexpr std::array<std::pair<JournalEvent, std::string_view>, 14> journal_events = {{
    {JournalEvent::begin, "begin"},
    {JournalEvent::done, "done"},
    {JournalEvent::failed, "failed"},
    {JournalEvent::interrupted, "interrupted"},
    {JournalEvent::declined, "declined"},
    {JournalEvent::finished, "finished"},
    {JournalEvent::action, "action"},
    {JournalEvent::read, "read"},
    {JournalEvent::loss_accepted, "loss-accepted"},
    {JournalEvent::unauthenticated_accepted, "unauthenticated-accepted"},
    {JournalEvent::rollback_begin, "rollback-begin"},
    {JournalEvent::rollback_failed, "rollback-failed"},
    {JournalEvent::rolled_back, "rolled-back"},
    {JournalEvent::discarded, "discarded"},
}};

template <class Enum, std::size_t N>
std::string_view name_in(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_in(const std::array<std::pair<Enum, std::string_view>, N>& names, std::string_view name) {
  for (const auto& [v, n] : names)
    if (n == name) return v;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(ActionOp op) { return name_in(action_ops, op); }

std::string_view to_string(JournalEvent event) { return name_in(journal_events, event); }

nlohmann::json Action::to_json() const {
  json j = {{"event", to_string(JournalEvent::action)}, {"op", to_string(op)}, {"from", from}, {"to", to}, {"step", step}, {"manifest", manifest}};
  if (!pod.empty()) j["pod"] = pod;
  if (!etcd.is_null()) j["etcd"] = etcd;
  if (!remote.is_null()) j["remote"] = remote;
  if (undo_order != UndoOrder::normal) j["undo"] = undo_order == UndoOrder::first ? "first" : "last";
  return j;
}

Action Action::from_json(const nlohmann::json& j) {
  Action a;
  const auto op = j.at("op").get<std::string>();
  const auto known = value_in(action_ops, op);
  if (!known) throw core::Error(fmt::format("an action of unknown kind '{}'", op));
  a.op = *known;
  a.from = j.at("from").get<std::string>();
  a.to = j.at("to").get<std::string>();
  a.step = core::json_whole<std::size_t>(j.at("step"), "'step'");
  a.manifest = j.value("manifest", false);
  a.pod = j.value("pod", "");
  if (j.contains("etcd")) a.etcd = j["etcd"];
  if (j.contains("remote")) a.remote = j["remote"];
  const auto order = j.value("undo", "");
  a.undo_order = order == "first" ? UndoOrder::first : order == "last" ? UndoOrder::last : UndoOrder::normal;
  return a;
}

std::string_view to_string(RestoreState state) {
  switch (state) {
    case RestoreState::planned: return "planned";
    case RestoreState::running: return "unfinished";
    case RestoreState::failed: return "failed";
    case RestoreState::interrupted: return "interrupted";
    case RestoreState::in_progress: return "running";
    case RestoreState::done: return "done";
    case RestoreState::rolled_back: return "rolled-back";
  }
  return "unknown";
}

bool JournalSummary::step_done(std::size_t i) const {
  return std::find(done_steps.begin(), done_steps.end(), i) != done_steps.end();
}

// The restore folder appears whole or not at all: built as a hidden .<id>.tmp with its
// plan, then renamed. A restore killed before the rename has not begun (and changed nothing);
// its leftover is hidden from every listing and replaced by the next attempt.
Journal Journal::create(const core::bfs::path& dir, const nlohmann::json& plan) {
  if (core::lstat_path(dir)) throw core::Error(fmt::format("restore folder {} already exists", dir.string()));
  core::make_dirs(dir.parent_path(), 0700);
  // Leftovers of restores killed before they began (the caller holds the restore lock).
  for (const auto& name : core::list_dir(dir.parent_path()))
    if (name.size() > 5 && name.front() == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0)
      core::remove_tree(dir.parent_path() / name);
  const auto tmp = dir.parent_path() / ("." + dir.filename().string() + ".tmp");
  core::make_dir(tmp, 0700);
  core::write_file_atomic(tmp / "plan.json", plan.dump(2) + "\n", 0600);
  core::fsync_path(tmp);
  core::failpoint("journal-before-publish", 1);
  if (::rename(tmp.c_str(), dir.c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
  core::fsync_path(dir.parent_path());
  return Journal(dir, plan);
}

Journal Journal::open(const core::bfs::path& dir) {
  const auto plan_file = dir / "plan.json";
  if (!core::lstat_path(plan_file))
    throw core::Error(fmt::format("no restore at {} (kdr restores lists them)", dir.string()), core::ExitCode::no_backup);
  try {
    return Journal(dir, json::parse(core::read_file(plan_file)));
  } catch (const json::exception& e) {
    throw core::Error(fmt::format("{}: unreadable plan: {}", plan_file.string(), e.what()));
  }
}

namespace {
RecordHook g_record_hook;
}  // namespace

void set_record_hook(RecordHook hook) { g_record_hook = std::move(hook); }

namespace {
std::string line_of(JournalEvent kind, nlohmann::json event) {
  event["event"] = to_string(kind);
  event["time"] = core::iso_time(core::now_epoch());
  return event.dump() + "\n";
}
nlohmann::json action_fields(const Action& a) {
  auto j = a.to_json();
  j.erase("event");
  return j;
}
}  // namespace

void Journal::append(const std::string& lines) {
  const auto file = dir_ / "journal.jsonl";
  core::Fd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) core::throw_errno("open", file.string(), errno);
  core::write_all(fd.get(), lines.data(), lines.size(), file.string());
  if (::fdatasync(fd.get()) != 0) core::throw_errno("fdatasync", file.string(), errno);
  if (g_record_hook) g_record_hook(dir_);
}

void Journal::record(JournalEvent kind, nlohmann::json event) { append(line_of(kind, std::move(event))); }

void Journal::action(const Action& a) { actions({a}); }

void Journal::actions(const std::vector<Action>& batch) {
  std::string lines;
  for (const auto& a : batch) lines += line_of(JournalEvent::action, action_fields(a));
  append(lines);
}

namespace {
std::size_t scrub(json& j) {
  std::size_t n = 0;
  if (j.is_object()) {
    if (auto it = j.find("replaced"); it != j.end() && it->is_object() && it->contains("value") && (*it)["value"].is_string()) {
      (*it)["value_sha256"] = core::sha256_hex(core::base64_decode((*it)["value"].get<std::string>()));
      it->erase("value");
      (*it)["value_discarded"] = true;
      ++n;
    }
    for (auto& [k, v] : j.items()) n += scrub(v);
  } else if (j.is_array()) {
    for (auto& v : j) n += scrub(v);
  }
  return n;
}
}  // namespace

std::size_t Journal::scrub_replaced_values() {
  const auto file = dir_ / "journal.jsonl";
  if (!core::lstat_path(file)) return 0;
  const auto text = core::read_file(file);
  std::string out;
  std::size_t n = 0;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const auto line = text.substr(at, end - at);
    at = end + 1;
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      out += line + "\n";  // a torn last line stays as it was
      continue;
    }
    n += scrub(j);
    out += j.dump() + "\n";
  }
  if (n > 0) core::write_file_atomic(file, out, 0600);
  return n;
}

JournalSummary Journal::summary() const {
  const auto file = dir_ / "journal.jsonl";
  if (!core::lstat_path(file)) return {};
  return summarize_journal(core::read_file(file), file.string());
}

JournalSummary summarize_journal(std::string_view text, const std::string& origin) {
  JournalSummary s;
  std::size_t at = 0, line_no = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    if (nl == std::string_view::npos) break;  // a torn last line (power loss while writing) is ignored
    const auto line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      continue;  // torn by a crash in the middle of the file system's write: the next line stands
    }
    try {
      if (!j.is_object()) throw core::Error("not a JSON object");
      // An event this kdr does not know (a newer kdr's note) changes nothing it reads.
      const auto ev = value_in(journal_events, j.value("event", ""));
      if (!ev) continue;
      switch (*ev) {
        case JournalEvent::action:
          s.actions.push_back(Action::from_json(j));
          break;
        case JournalEvent::begin:
          s.state = RestoreState::running;
          break;
        case JournalEvent::done:
          s.done_steps.push_back(core::json_whole<std::size_t>(j.at("step"), "'step'"));
          break;
        case JournalEvent::failed:
          s.state = RestoreState::failed;
          s.failed_step = core::json_whole<std::size_t>(j.at("step"), "'step'");
          s.last_error = j.value("error", "");
          break;
        case JournalEvent::interrupted:
        case JournalEvent::declined:
          s.state = RestoreState::interrupted;
          s.last_error = j.value("error", std::string(to_string(*ev)));
          break;
        case JournalEvent::finished:
          s.state = RestoreState::done;
          break;
        case JournalEvent::rollback_begin:
          s.rollback_started = true;
          break;
        case JournalEvent::discarded:
          s.discarded = true;
          break;
        case JournalEvent::rolled_back:
          s.state = RestoreState::rolled_back;
          break;
        case JournalEvent::read:
          s.reads[j.at("what").get<std::string>()] = j.at("digest").get<std::string>();
          break;
        case JournalEvent::loss_accepted:
        case JournalEvent::unauthenticated_accepted:
        case JournalEvent::rollback_failed:
          break;
      }
    } catch (const std::exception& e) {
      // A line that parses but does not say what kdr wrote: edited or damaged; never guessed.
      throw core::Error(fmt::format("{}:{}: not a journal record kdr wrote ({}); the restore cannot be resumed or "
                                    "rolled back from it",
                                    origin, line_no, e.what()));
    }
  }
  // A journal that ends in the middle of a step was killed (kill -9, power loss).
  if (s.state == RestoreState::running && !s.rollback_started) s.state = RestoreState::interrupted;
  if (s.rollback_started && s.state != RestoreState::rolled_back) s.state = RestoreState::interrupted;
  return s;
}

std::vector<RestoreRecord> list_restore_records(const core::bfs::path& restores_dir) {
  std::vector<RestoreRecord> out;
  auto st = core::lstat_path(restores_dir);
  if (!st || st->type != core::FileType::directory) return out;
  for (const auto& name : core::list_dir(restores_dir)) {
    if (name.empty() || name[0] == '.') continue;
    RestoreRecord r;
    r.id = name;
    r.dir = restores_dir / name;
    try {
      auto j = Journal::open(r.dir);
      r.plan = j.plan();
      r.summary = j.summary();
    } catch (const core::Error& e) {
      r.problem = e.what();
    }
    out.push_back(std::move(r));
  }
  // A journal that ends mid-step reads as interrupted; while a restore holds the restore lock,
  // the newest such journal is that restore's: running.
  if (restore_running(restores_dir)) {
    RestoreRecord* newest = nullptr;
    std::int64_t newest_mtime = 0;
    for (auto& r : out) {
      if (!r.problem.empty() || r.summary.state != RestoreState::interrupted) continue;
      const auto js = core::lstat_path(r.dir / "journal.jsonl");
      const auto mtime = js ? js->mtime_sec : 0;
      if (newest == nullptr || mtime >= newest_mtime) {
        newest = &r;
        newest_mtime = mtime;
      }
    }
    if (newest != nullptr) newest->summary.state = RestoreState::in_progress;
  }
  return out;
}

RestoreLock::RestoreLock(const core::bfs::path& restores_dir) {
  core::make_dirs(restores_dir, 0700);
  const auto file = restores_dir / ".lock";
  fd_ = core::Fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_) core::throw_errno("open", file.string(), errno);
  if (const auto holder = core::try_flock(fd_.get(), true, file))
    throw core::Error(fmt::format("another restore is running on this node: {} holds {}", *holder, file.string()),
                      core::ExitCode::locked);
}

std::optional<std::string> restore_running(const core::bfs::path& restores_dir) {
  const auto file = restores_dir / ".lock";
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  // The holder may let go between the refused lock and the read of /proc/locks: try again,
  // as every other lock does, so that a refusal always names who holds it.
  std::optional<std::string> holder;
  try {
    holder = core::try_flock(fd.get(), false, file);
  } catch (const core::Error&) {
    return std::nullopt;
  }
  if (!holder) ::flock(fd.get(), LOCK_UN);
  return holder;
}

}  // namespace kdr::restore
