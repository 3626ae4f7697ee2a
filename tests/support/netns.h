// A network partition you can make for real: a network namespace holding one
// end of a veth pair whose other end stays in the test's (root) namespace,
// each end with an address on a /24 of 10.213.X.0 that no other interface on
// the host uses. A daemon started inside with exec_prefix() is reachable from
// the root namespace only over the veth, so link_down() cuts it off (TCP
// connections stay open, datagrams and segments are lost) until link_up().
//
// Everything made is removed when the object goes away, whatever the test's
// outcome; namespaces left behind by a test process that died (named
// "mfs-<pid>-<X>") are removed by the next NetNs made on the host.
//
//   std::string why;
//   if (!NetNs::available(&why)) GTEST_SKIP() << why;
//   NetNs ns;
//   auto argv = ns.exec_prefix();  // then MIRRORD_BIN, "--listen", ns.inner_address() + ":0", ...
//   ns.link_down(); ... ns.link_up();
#pragma once

#include <string>
#include <vector>

#include "tests/support/process.h"

namespace testing_support {

class NetNs {
 public:
  // Says whether namespaces and veth pairs can be made here (root, `ip`,
  // and a probe namespace that can be created and removed); if not, `why`.
  static bool available(std::string* why);

  // Creates the namespace, the veth pair, the addresses, and brings the links
  // (and the namespace's loopback) up. Throws std::runtime_error with the
  // failing command and its output; whatever was made is removed first.
  NetNs();
  ~NetNs();
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  const std::string& name() const { return name_; }
  const std::string& root_address() const { return root_address_; }    // 10.213.X.1
  const std::string& inner_address() const { return inner_address_; }  // 10.213.X.2
  const std::string& root_link() const { return root_link_; }
  const std::string& inner_link() const { return inner_link_; }

  // argv prefix that runs a program inside: {"/usr/sbin/ip", "netns", "exec", NAME}.
  // `ip netns exec` execs the program in place, so the pid is the program's.
  std::vector<std::string> exec_prefix() const;
  // Runs argv inside the namespace and returns its status and output.
  CommandResult run(const std::vector<std::string>& argv,
                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) const;

  // The root end of the veth goes down (the partition) or up again. Throws
  // std::runtime_error if `ip` fails.
  void link_down();
  void link_up();

 private:
  void remove();

  std::string name_, root_link_, inner_link_, root_address_, inner_address_;
  bool made_namespace_ = false, made_link_ = false;
};

// Path of the `ip` program, or "" if there is none.
std::string ip_program();

}  // namespace testing_support
