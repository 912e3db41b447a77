// The seams between kdr's logic and the machine it runs on: the programs it starts and the
// host facts it asks (euid, hostname, addresses, free space, the operator's answer); the
// clock is core/clock.hpp.
// core::Context holds one of each, the real ones by default; unit tests put fakes in their
// place and run whole restores in milliseconds (tests/unit/fake_host.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "core/process.hpp"

namespace kdr::core {

// The operator's answer to a confirmation: y/yes, a/all (yes to this and every later
// question), anything else or end of input is no.
enum class Answer { yes, no, all };

class Host {
 public:
  virtual ~Host() = default;
  virtual unsigned euid() const;
  virtual std::string hostname() const;
  // The machine's addresses that name it (identity_address), sorted.
  virtual std::vector<std::string> addresses() const;
  // Whether `address` is one of this machine's (a socket can be bound to it: an interface's
  // address, or any of 127.0.0.0/8 on loopback).
  virtual bool local_address(const std::string& address) const;
  virtual std::uint64_t free_bytes(const bfs::path& dir) const;
  // Whether a process with this pid runs on this machine (kill(pid, 0)).
  virtual bool process_alive(int pid) const;
  // Asks on the terminal (stderr, then a line of stdin).
  virtual Answer ask(const std::string& question) const;
};

class Programs {
 public:
  virtual ~Programs() = default;
  virtual ProcessResult run(const std::vector<std::string>& argv, const ProcessOptions& options = {}) const;
  // Starts a program that runs beside kdr (stdout and stderr to `log_file`, in `working_dir`)
  // until stopped or dropped; throws Error when it cannot be started.
  virtual std::unique_ptr<RunningProgram> start(const std::vector<std::string>& argv, const bfs::path& log_file,
                                                const bfs::path& working_dir) const;
  // Starts a program that outlives kdr: a session of its own and no terminal (a double fork),
  // stdin from /dev/null, stdout and stderr appended to `log_file` (made 0600). Returns once
  // it is started; throws Error when it cannot be.
  virtual void spawn_detached(const std::vector<std::string>& argv, const bfs::path& log_file) const;
  // A name with a '/' as is, else searched in PATH; empty when it does not exist.
  virtual bfs::path find(const std::string& name) const;
};

std::shared_ptr<const Host> real_host();
std::shared_ptr<const Programs> real_programs();

// Whether an address (text) names the machine: not IPv6 link-local (fe80::/10), which every
// interface makes up again and which changes with the NIC. Loopback is left out by addresses().
bool identity_address(const std::string& address);

}  // namespace kdr::core
