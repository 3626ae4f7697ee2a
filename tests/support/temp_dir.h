// A fresh directory under /tmp (mirrorfs-test.XXXXXX), removed with everything
// beneath it when the object goes away, whatever the test's outcome.
#pragma once

#include <string>

namespace testing_support {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + rel
  std::string sub(const std::string& rel) const;

 private:
  std::string path_;
};

// Writes `contents` to `path`, replacing it. Throws on error, naming the path.
void write_file(const std::string& path, const std::string& contents);
// The whole contents of `path`. Throws on error, naming the path.
std::string read_file(const std::string& path);

}  // namespace testing_support

using testing_support::TempDir;
