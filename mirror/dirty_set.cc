#include "mirror/dirty_set.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "mirror/state_files.h"

namespace mirror {

std::string parent_directory(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

DirtySet::DirtySet(std::string path, size_t max_entries)
    : path_(std::move(path)), max_entries_(max_entries) {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return;
    throw std::runtime_error("cannot read dirty set " + path_ + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    for (const auto& d : nlohmann::json::parse(text.str()).at("dirs")) {
      dirs_.insert(d.get<std::string>());
    }
  } catch (const std::exception& e) {
    spdlog::error("dirty set {} is damaged ({}); the whole tree is resynced", path_, e.what());
    dirs_ = {""};
  }
  if (dirs_.count("") || dirs_.size() > max_entries_) dirs_ = {""};
}

void DirtySet::add(const std::string& dir) {
  std::lock_guard lock(mutex_);
  if (dirs_.count("") || dirs_.count(dir)) return;
  dirs_.insert(dir);
  if (dir.empty() || dirs_.size() > max_entries_) dirs_ = {""};
  persist_locked();
}

std::vector<std::string> DirtySet::roots() const {
  std::lock_guard lock(mutex_);
  return {dirs_.begin(), dirs_.end()};
}

void DirtySet::remove(const std::vector<std::string>& dirs) {
  std::lock_guard lock(mutex_);
  for (const auto& d : dirs) dirs_.erase(d);
  if (dirs_.empty()) {
    ::unlink(path_.c_str());
  } else {
    persist_locked();
  }
}

size_t DirtySet::size() const {
  std::lock_guard lock(mutex_);
  return dirs_.size();
}

void DirtySet::persist_locked() const {
  const std::string text = nlohmann::json{{"dirs", dirs_}}.dump() + "\n";
  try {
    replace_file(path_, std::as_bytes(std::span(text)));
  } catch (const std::exception& e) {
    // The set in memory still drives the resync; only a restart would lose it.
    spdlog::error("dirty set: {}", e.what());
  }
}

}  // namespace mirror
