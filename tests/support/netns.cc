#include "tests/support/netns.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace testing_support {

namespace {

// Serialises choosing a subnet and creating the links among test processes.
class HostLock {
 public:
  HostLock() {
    fd_ = open("/tmp/mirrorfs-netns.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~HostLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;

 private:
  int fd_ = -1;
};

CommandResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ip_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::seconds(20));
}

std::string joined(const std::vector<std::string>& args) {
  std::string s = "ip";
  for (const auto& a : args) s += " " + a;
  return s;
}

void ip_or_throw(const std::vector<std::string>& args) {
  auto r = ip(args);
  if (r.exit_code != 0) {
    throw std::runtime_error("`" + joined(args) + "` failed (status " +
                             std::to_string(r.exit_code) + "): " + r.output);
  }
}

std::vector<std::string> namespaces() {
  std::vector<std::string> names;
  std::istringstream in(ip({"netns", "list"}).output);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    if (fields >> name) names.push_back(name);
  }
  return names;
}

// Namespaces "mfs-PID-X" whose test process is gone, with their links.
void remove_stale() {
  std::regex ours(R"(mfs-(\d+)-(\d+))");
  for (const auto& name : namespaces()) {
    std::smatch m;
    if (!std::regex_match(name, m, ours)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(m[1]));
    if (kill(pid, 0) == 0 || errno == EPERM) continue;
    ip({"link", "del", "mfsX" + m[2].str() + "r"});
    ip({"netns", "del", name});
  }
}

// A third octet X such that no address of the host lies in 10.213.X.0/24.
int free_subnet() {
  std::string addresses = ip({"-4", "-o", "addr", "show"}).output;
  std::set<int> used;
  std::regex in_ours(R"(10\.213\.(\d+)\.)");
  for (auto it = std::sregex_iterator(addresses.begin(), addresses.end(), in_ours);
       it != std::sregex_iterator(); ++it) {
    used.insert(std::stoi((*it)[1]));
  }
  // Start from a pid-dependent place so that hosts sharing nothing still
  // spread out; the lock makes the choice safe among processes of this host.
  int start = static_cast<int>(getpid() % 250);
  for (int i = 0; i < 250; ++i) {
    int x = 1 + (start + i) % 250;
    if (!used.count(x)) return x;
  }
  throw std::runtime_error("no free 10.213.X.0/24 subnet for a test namespace");
}

}  // namespace

std::string ip_program() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

bool NetNs::available(std::string* why) {
  if (geteuid() != 0) {
    *why = "network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN); running as uid " +
           std::to_string(geteuid());
    return false;
  }
  if (ip_program().empty()) {
    *why = "the `ip` program (iproute2) is not installed";
    return false;
  }
  std::string probe = "mfs-probe-" + std::to_string(getpid());
  auto made = ip({"netns", "add", probe});
  if (made.exit_code != 0) {
    *why = "cannot create a network namespace here (`ip netns add` failed: " + made.output + ")";
    return false;
  }
  ip({"netns", "del", probe});
  return true;
}

NetNs::NetNs() {
  HostLock lock;
  remove_stale();
  int x = free_subnet();
  std::string subnet = "10.213." + std::to_string(x) + ".";
  name_ = "mfs-" + std::to_string(getpid()) + "-" + std::to_string(x);
  root_link_ = "mfsX" + std::to_string(x) + "r";
  inner_link_ = "mfsX" + std::to_string(x) + "n";
  root_address_ = subnet + "1";
  inner_address_ = subnet + "2";
  try {
    ip_or_throw({"netns", "add", name_});
    made_namespace_ = true;
    ip_or_throw({"link", "add", root_link_, "type", "veth", "peer", "name", inner_link_});
    made_link_ = true;
    ip_or_throw({"link", "set", inner_link_, "netns", name_});
    ip_or_throw({"addr", "add", root_address_ + "/24", "dev", root_link_});
    ip_or_throw({"-n", name_, "addr", "add", inner_address_ + "/24", "dev", inner_link_});
    ip_or_throw({"-n", name_, "link", "set", "lo", "up"});
    ip_or_throw({"-n", name_, "link", "set", inner_link_, "up"});
    ip_or_throw({"link", "set", root_link_, "up"});
  } catch (...) {
    remove();
    throw;
  }
}

NetNs::~NetNs() {
  HostLock lock;
  remove();
}

void NetNs::remove() {
  // Deleting either end of a veth pair deletes both; deleting the namespace
  // deletes the end inside it.
  if (made_link_) ip({"link", "del", root_link_});
  if (made_namespace_) ip({"netns", "del", name_});
  made_link_ = made_namespace_ = false;
}

std::vector<std::string> NetNs::exec_prefix() const {
  return {ip_program(), "netns", "exec", name_};
}

CommandResult NetNs::run(const std::vector<std::string>& argv,
                         std::chrono::milliseconds deadline) const {
  auto full = exec_prefix();
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full, deadline);
}

void NetNs::link_down() {
  ip_or_throw({"link", "set", root_link_, "down"});
}
void NetNs::link_up() {
  ip_or_throw({"link", "set", root_link_, "up"});
}

}  // namespace testing_support
