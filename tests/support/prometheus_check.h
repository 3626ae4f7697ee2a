// A checker of the Prometheus text exposition format (0.0.4), for the output
// of `mirrorctl metrics`: HELP and TYPE before a family's samples and at most
// once, samples of a family together, metric and label names by their
// regexes, label values quoted with only the allowed escapes, no duplicate
// series, values that parse as floats, and our naming conventions (mirrorfs_
// prefix, counters and only they end in _total). Used by the canned-status
// tests (tests/tools/mirrorctl_metrics_test.cc) and the live ones
// (tests/tools/mirrorctl_live_test.cc).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace testing_support {

// One sample line: name{labels} value.
struct PrometheusSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PrometheusText {
  std::vector<std::string> errors;  // "line N: what is wrong"; empty when valid
  std::vector<PrometheusSample> samples;
};

PrometheusText check_prometheus_text(const std::string& text);

// The first sample named `name` whose labels include `labels`; nullptr if none.
const PrometheusSample* find_sample(const PrometheusText& p, const std::string& name,
                                    const std::map<std::string, std::string>& labels);

}  // namespace testing_support
