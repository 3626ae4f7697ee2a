// `mirrorctl metrics`: the status as Prometheus text exposition format
// (version 0.0.4), for node_exporter's textfile collector or a scrape
// wrapper. Names follow Prometheus conventions: prefix mirrorfs_, base units
// (seconds, bytes), counters end in _total; every family has HELP and TYPE
// lines before its samples, and samples of one family are together.
// Labels: volume and role on every volume metric, connection on the
// per-connection ones, socket on mirrorfs_control_up.
#pragma once

#include <string>
#include <vector>

#include "tools/mirrorctl/targets.h"

namespace mirrorctl {

std::string render_metrics(const std::vector<DaemonReport>& reports);

// A label value with \, " and newline escaped as the format requires.
std::string escape_label_value(const std::string& v);

}  // namespace mirrorctl
