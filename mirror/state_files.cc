#include "mirror/state_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "mirror/unique_fd.h"

namespace mirror {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string path_beside(const std::string& dir, const std::string& suffix) {
  namespace fs = std::filesystem;
  fs::path data = fs::absolute(fs::path(dir)).lexically_normal();
  if (!data.has_filename()) data = data.parent_path();
  std::string base = data.filename().string();
  if (base.empty() || base == "." || base == ".." || data == data.root_path()) {
    throw std::runtime_error(dir + ": no place beside it for its " + suffix.substr(1) + " file");
  }
  return (data.parent_path() / ("." + base + suffix)).string();
}

void replace_file(const std::string& path, std::span<const std::byte> bytes) {
  const std::string temp = path + ".new";
  {
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) fail("cannot create", temp);
    if (::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
        ::fsync(fd.get()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      errno = err;
      fail("cannot write", temp);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot replace", path);
  const std::string parent = std::filesystem::path(path).parent_path().string();
  UniqueFd dir(::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
}

}  // namespace mirror
