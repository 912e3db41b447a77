// swap-on-open DIR TARGET LINK: what whoever can write the backup disk does to a program that
// removes a tree by path. It makes LINK, a symlink to TARGET (on DIR's file system, outside the
// tree being removed), waits (inotify) until a program opens DIR, then exchanges the two names
// in one rename (renameat2 RENAME_EXCHANGE): from that instant DIR is a symlink to TARGET, and
// the folder the program opened is at LINK. Prints "swapped" and exits 0; 1 on any error.
// For tests/scenarios/backup_disk_hostile.sh only.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: swap-on-open DIR TARGET LINK\n");
    return 2;
  }
  const std::string dir = argv[1], link = argv[3];
  if (::symlink(argv[2], link.c_str()) != 0) {
    std::perror(link.c_str());
    return 1;
  }
  const int in = ::inotify_init1(IN_CLOEXEC);
  if (in < 0 || ::inotify_add_watch(in, dir.c_str(), IN_OPEN) < 0) {
    std::perror(dir.c_str());
    return 1;
  }
  std::printf("watching\n");
  std::fflush(stdout);
  alignas(inotify_event) char buf[4096];
  if (::read(in, buf, sizeof buf) <= 0) {
    std::perror("read inotify");
    return 1;
  }
  if (::syscall(SYS_renameat2, AT_FDCWD, link.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
    std::perror("renameat2");
    return 1;
  }
  std::printf("swapped\n");
  return 0;
}
