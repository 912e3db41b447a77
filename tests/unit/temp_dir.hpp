// A fresh folder per test case, removed afterwards (kept when KDR_KEEP_TEST_DIRS is set).
#pragma once

#include <cstdlib>
#include <string>

#include <boost/filesystem.hpp>

namespace kdr::test {

class TempDir {
 public:
  TempDir() : TempDir(boost::filesystem::temp_directory_path()) {}
  // in `under` (another file system than the default one, say)
  explicit TempDir(const boost::filesystem::path& under) {
    path_ = under / boost::filesystem::unique_path("kdr-unit-%%%%-%%%%-%%%%");
    boost::filesystem::create_directories(path_);
  }
  ~TempDir() {
    if (std::getenv("KDR_KEEP_TEST_DIRS") == nullptr) {
      boost::system::error_code ec;
      boost::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const boost::filesystem::path& path() const { return path_; }

 private:
  boost::filesystem::path path_;
};

inline void write(const boost::filesystem::path& p, const std::string& text) {
  boost::filesystem::create_directories(p.parent_path());
  boost::filesystem::ofstream(p) << text;
}

}  // namespace kdr::test
