#include "offsite/restic.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/fs.hpp"
#include "offsite/locks.hpp"

namespace kdr::offsite {

std::string_view to_string(ResticProblem problem) {
  switch (problem) {
    case ResticProblem::none: return "none";
    case ResticProblem::unreachable: return "unreachable";
    case ResticProblem::denied: return "denied";
    case ResticProblem::no_repository: return "no-repository";
    case ResticProblem::locked: return "locked";
    case ResticProblem::full: return "full";
    case ResticProblem::missing: return "no-restic";
    case ResticProblem::other: return "failed";
  }
  return "failed";
}

core::ExitCode exit_code_of(ResticProblem problem) {
  switch (problem) {
    case ResticProblem::unreachable: return core::ExitCode::offsite_unreachable;
    case ResticProblem::denied: return core::ExitCode::offsite_denied;
    case ResticProblem::locked: return core::ExitCode::offsite_locked;
    case ResticProblem::full: return core::ExitCode::offsite_full;
    case ResticProblem::missing:
    case ResticProblem::no_repository: return core::ExitCode::usage;
    case ResticProblem::none:
    case ResticProblem::other: return core::ExitCode::failed;
  }
  return core::ExitCode::failed;
}

namespace {
bool has(const std::string& text, std::string_view what) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find(what) != std::string::npos;
}

// What restic said, short: from its "Fatal:" line on (its retries before it left out), else
// its last lines.
std::string reason_of(const std::string& err) {
  std::string text = err;
  if (const auto fatal = text.rfind("Fatal: "); fatal != std::string::npos) text = text.substr(fatal);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::size_t lines = 0, at = text.size();
  while (at > 0 && lines < 4) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
    ++lines;
  }
  return lines < 4 ? text : text.substr(at + 1);
}

bool store_says_full(const std::string& err) {
  return has(err, "no space left on device") || has(err, "insufficient storage") || has(err, "(507)") ||
         has(err, "quota exceeded") || has(err, "disk quota") || has(err, "(413)");
}

// Stores that cannot say why they refused a write: an sftp server answers SSH_FX_FAILURE (SFTP
// version 3 has no code for a full disk), a REST server 500. A refused write of data is a full
// store or a quota most often.
bool store_refused_write(const std::string& err) {
  return has(err, "unable to save snapshot") && (has(err, "ssh_fx_failure") || has(err, "500 internal server error"));
}
}  // namespace

ResticProblem classify_restic(const core::ProcessResult& result) {
  if (!result.started) return ResticProblem::missing;
  if (!result.timed_out && result.exit_code == 0) return ResticProblem::none;
  const auto& err = result.err;
  if (has(err, "wrong password") || has(err, "no key found") || has(err, "access denied") ||
      has(err, "403 forbidden") || has(err, "401 unauthorized") || has(err, "permission denied (publickey"))
    return ResticProblem::denied;
  if (has(err, "repository is already locked") || has(err, "unable to create lock")) return ResticProblem::locked;
  if (store_says_full(err)) return ResticProblem::full;
  if (has(err, "connection refused") || has(err, "no route to host") || has(err, "i/o timeout") ||
      has(err, "network is unreachable") || has(err, "no such host") || has(err, "connection reset") ||
      has(err, "unable to start the sftp session") || has(err, "ssh: connect to host") ||
      has(err, "timeout awaiting response"))
    return ResticProblem::unreachable;
  if (store_refused_write(err)) return ResticProblem::full;
  if (has(err, "is there a repository at the following location") || has(err, "repository does not exist"))
    return ResticProblem::no_repository;
  return ResticProblem::other;
}

std::map<std::string, std::string> parse_env_file(std::string_view text, const std::string& origin) {
  std::map<std::string, std::string> out;
  std::size_t line_no = 0, at = 0;
  while (at <= text.size()) {
    auto nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(at, nl - at));
    at = nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') {
      if (nl == text.size()) break;
      continue;
    }
    line = line.substr(first);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    const auto eq = line.find('=');
    const auto key = line.substr(0, eq);
    const bool good_key = eq != std::string::npos && !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
                          key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                              std::string::npos;
    if (!good_key)
      throw core::UsageError(fmt::format("{}:{}: expected KEY=VALUE (a variable for restic's backend)", origin, line_no));
    auto value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    out[key] = value;
    if (nl == text.size()) break;
  }
  return out;
}

namespace {

// A secret's file: there, a regular file, and not readable by group or others.
void check_secret_file(const core::Context& ctx, const std::string& node_path, const char* what) {
  const auto host = ctx.root.host(node_path);
  const auto st = core::lstat_path(host);
  if (!st) throw core::UsageError(fmt::format("offsite.{}: {} does not exist", what, node_path));
  if (st->type != core::FileType::file)
    throw core::UsageError(fmt::format("offsite.{}: {} is not a regular file", what, node_path));
  if ((st->mode & 077) != 0)
    throw core::UsageError(fmt::format("offsite.{}: {} has mode {:04o}: it holds a secret; make it 0600 "
                                       "(chmod 600 {})",
                                       what, node_path, st->mode & 07777, node_path));
}

}  // namespace

std::string mask_credentials(std::string_view repository) {
  const auto scheme = repository.find("://");
  if (scheme == std::string_view::npos) return std::string(repository);
  const auto host_start = scheme + 3;
  const auto host_end = repository.find_first_of("/?#", host_start);
  const auto authority = repository.substr(host_start, host_end == std::string_view::npos ? std::string_view::npos
                                                                                          : host_end - host_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(repository);
  const auto colon = authority.substr(0, at).find(':');
  std::string out(repository.substr(0, host_start));
  out += colon == std::string_view::npos ? std::string("***") : std::string(authority.substr(0, colon)) + ":***";
  out += repository.substr(host_start + at);
  return out;
}

Restic::Restic(const core::Context& ctx)
    : ctx_(ctx), repository_(ctx.config.offsite.repository), shown_(mask_credentials(repository_)) {
  const auto& o = ctx.config.offsite;
  if (!o.configured())
    throw core::UsageError(fmt::format("no off-site repository in {} (offsite.repository)", ctx.config.origin));
  if (o.password_file.empty())
    throw core::UsageError(fmt::format("{}: offsite.password_file is not set", ctx.config.origin));
  check_secret_file(ctx, o.password_file, "password_file");
  for (const auto& f : o.env_files) {
    check_secret_file(ctx, f, "env_files");
    for (auto& [k, v] : parse_env_file(core::read_file(ctx.root.host(f)), f)) env_[k] = v;
  }
  env_["RESTIC_REPOSITORY"] = repository_;
  env_["RESTIC_PASSWORD_FILE"] = ctx.root.host(o.password_file).string();
  env_["RESTIC_CACHE_DIR"] = (ctx.root.host(ctx.config.state_dir) / "restic-cache").string();
  env_["RESTIC_PROGRESS_FPS"] = "0.2";
}

std::vector<std::string> Restic::argv(const std::vector<std::string>& args) const {
  auto out = ctx_.config.offsite.restic;
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

core::ProcessResult Restic::run(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                const std::vector<int>& allowed) const {
  const bool takes_lock = std::find(args.begin(), args.end(), "--no-lock") == args.end() &&
                          !(args.size() == 1 && args.front() == "unlock");
  try {
    return run_once(args, timeout, allowed);
  } catch (const OffsiteError& e) {
    if (e.problem() != ResticProblem::locked || !takes_lock) throw;
  }
  const auto outcome = remove_own_stale_locks(ctx_, *this);
  if (!outcome.removed.empty()) {
    try {
      return run_once(args, timeout, allowed);
    } catch (const OffsiteError& e) {
      if (e.problem() != ResticProblem::locked) throw;
    }
  }
  std::string held;
  for (const auto& lock : outcome.kept) {
    const auto kind = kind_of(lock, *ctx_.host);
    held += fmt::format("\n  {}: {}", describe(lock, core::now_epoch()),
                        kind == LockKind::other_host ? "another host's; kdr leaves it"
                        : kind == LockKind::own_running
                            ? "its process runs on this host"
                            : "this host's and its process is gone, but kdr leaves it (below)");
  }
  if (!outcome.why.empty()) held += "\n  " + outcome.why;
  const auto what = args.empty() ? std::string("restic") : "restic " + args.front();
  throw OffsiteError(
      fmt::format("{}: the repository {} is locked by another client; kdr removes only this host's locks whose "
                  "process is gone:{}\nOnce the holder is gone: restic unlock (restic takes a lock older than 30 "
                  "min for stale)",
                  what, shown_, held.empty() ? std::string("\n  (the lock went away; run it again)") : held),
      ResticProblem::locked);
}

core::ProcessResult Restic::run_once(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                     const std::vector<int>& allowed) const {
  core::ProcessOptions options;
  options.timeout = timeout;
  options.env = env_;
  auto result = ctx_.programs->run(argv(args), options);
  const auto problem = classify_restic(result);
  if (problem == ResticProblem::none) return result;
  // An allowed exit code is a result (check: 1 for a damaged repository), unless restic says it
  // could not get to work (a lock, the store down, a refused password).
  if (problem == ResticProblem::other && !result.timed_out &&
      std::find(allowed.begin(), allowed.end(), result.exit_code) != allowed.end())
    return result;
  std::string why = result.started ? reason_of(result.err) : result.start_error;
  if (result.timed_out) why = "killed after its time limit; " + why;
  const auto what = args.empty() ? std::string("restic") : "restic " + args.front();
  switch (problem) {
    case ResticProblem::unreachable:
      throw OffsiteError(fmt::format("{}: the off-site store {} does not answer (network or server down; the next push "
                                     "catches up): {}",
                                     what, shown_, why),
                         problem);
    case ResticProblem::denied:
      throw OffsiteError(fmt::format("{}: the repository {} refused the password in {} or the backend's keys: {}",
                                     what, shown_, ctx_.config.offsite.password_file, why),
                         problem);
    case ResticProblem::locked:
      throw OffsiteError(fmt::format("{}: the repository {} is locked by another client: {}", what, shown_, why),
                         problem);
    case ResticProblem::full:
      if (store_says_full(why))
        throw OffsiteError(fmt::format("{}: the off-site store {} has no space left (free space or raise its quota; "
                                       "kdr offsite forget removes what retention no longer keeps): {}",
                                       what, shown_, why),
                           problem);
      throw OffsiteError(fmt::format("{}: the off-site store {} refused to store data: a full store or a quota, most "
                                     "often (its own log says which; free space or raise its quota): {}",
                                     what, shown_, why),
                         problem);
    case ResticProblem::no_repository:
      throw OffsiteError(fmt::format("{}: no restic repository at {} (create it: kdr offsite init): {}", what,
                                     shown_, why),
                         problem);
    case ResticProblem::missing:
      throw OffsiteError(fmt::format("{}: {} (offsite.restic in {})", what, why, ctx_.config.origin), problem);
    default:
      throw OffsiteError(fmt::format("{} failed (exit {}): {}", what, result.exit_code, why), problem);
  }
}

}  // namespace kdr::offsite
