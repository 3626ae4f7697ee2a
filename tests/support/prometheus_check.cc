#include "tests/support/prometheus_check.h"

#include <cmath>
#include <regex>
#include <set>
#include <sstream>

namespace testing_support {

namespace {

// Parses `name{a="x",b="y"} value` from `s`; an error sentence on failure.
std::string parse_sample(const std::string& s, PrometheusSample& out) {
  static const std::regex name_re("^[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_re("^[a-zA-Z_][a-zA-Z0-9_]*");
  std::smatch m;
  if (!std::regex_search(s, m, name_re)) return "no metric name";
  out.name = m[0];
  size_t i = out.name.size();
  if (i < s.size() && s[i] == '{') {
    ++i;
    while (i < s.size() && s[i] != '}') {
      std::string rest = s.substr(i);
      if (!std::regex_search(rest, m, label_re)) return "bad label name at: " + rest;
      std::string label = m[0];
      if (label.rfind("__", 0) == 0) return "reserved label name " + label;
      i += label.size();
      if (s.substr(i, 2) != "=\"") return "label " + label + " not followed by =\"";
      i += 2;
      std::string value;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\') {
          if (i + 1 >= s.size()) return "dangling backslash";
          char e = s[i + 1];
          if (e != '\\' && e != '"' && e != 'n') return std::string("bad escape \\") + e;
          value += e == 'n' ? '\n' : e;
          i += 2;
        } else if (s[i] == '\n') {
          return "raw newline in a label value";
        } else {
          value += s[i++];
        }
      }
      if (i >= s.size()) return "unterminated label value";
      ++i;  // closing quote
      if (!out.labels.emplace(label, value).second) return "label " + label + " twice";
      if (i < s.size() && s[i] == ',') ++i;
    }
    if (i >= s.size()) return "unterminated label set";
    ++i;  // '}'
  }
  if (i >= s.size() || s[i] != ' ') return "no space before the value";
  std::istringstream rest(s.substr(i + 1));
  std::string value, timestamp, extra;
  rest >> value >> timestamp >> extra;
  if (!extra.empty()) return "junk after the value";
  if (value == "+Inf" || value == "-Inf" || value == "NaN") {
    out.value = value == "NaN" ? NAN : (value[0] == '-' ? -INFINITY : INFINITY);
  } else {
    static const std::regex float_re(R"(^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$)");
    if (!std::regex_match(value, float_re)) return "value '" + value + "' is not a float";
    out.value = std::stod(value);
  }
  if (!timestamp.empty() && !std::regex_match(timestamp, std::regex("^-?[0-9]+$"))) {
    return "bad timestamp " + timestamp;
  }
  return "";
}

}  // namespace

PrometheusText check_prometheus_text(const std::string& text) {
  PrometheusText p;
  std::map<std::string, std::string> types;
  std::set<std::string> helped, finished, series;
  std::string current;  // the family whose samples are being read
  std::istringstream in(text);
  int n = 0;
  auto error = [&](const std::string& what) {
    p.errors.push_back("line " + std::to_string(n) + ": " + what);
  };
  static const std::regex name_re("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
  if (!text.empty() && text.back() != '\n') p.errors.push_back("text does not end in a newline");
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name;
      words >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a plain comment
      if (!std::regex_match(name, name_re)) error("bad metric name in " + kind + ": " + name);
      if (finished.count(name) || current == name) error(kind + " after samples of " + name);
      if (kind == "HELP") {
        if (!helped.insert(name).second) error("second HELP for " + name);
      } else {
        std::string type;
        words >> type;
        static const std::set<std::string> known = {"counter", "gauge", "histogram", "summary",
                                                    "untyped"};
        if (!known.count(type)) error("unknown TYPE " + type);
        if (!types.emplace(name, type).second) error("second TYPE for " + name);
      }
      continue;
    }
    PrometheusSample s;
    if (std::string why = parse_sample(line, s); !why.empty()) {
      error(why + ": " + line);
      continue;
    }
    if (s.name != current) {
      if (finished.count(s.name)) error("samples of " + s.name + " are not together");
      if (!current.empty()) finished.insert(current);
      current = s.name;
    }
    if (!types.count(s.name)) error("sample of " + s.name + " before its TYPE");
    if (!helped.count(s.name)) error("sample of " + s.name + " without HELP");
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    if (!series.insert(key).second) error("duplicate series " + line);
    p.samples.push_back(s);
  }
  for (const auto& [name, type] : types) {
    if (name.rfind("mirrorfs_", 0) != 0) p.errors.push_back(name + ": not prefixed mirrorfs_");
    bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    if ((type == "counter") != total)
      p.errors.push_back(name + ": counters, and only they, end in _total");
  }
  return p;
}

const PrometheusSample* find_sample(const PrometheusText& p, const std::string& name,
                                    const std::map<std::string, std::string>& labels) {
  for (const auto& s : p.samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& [k, v] : labels) all = all && s.labels.count(k) && s.labels.at(k) == v;
    if (all) return &s;
  }
  return nullptr;
}

}  // namespace testing_support
