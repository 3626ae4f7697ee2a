// See tests/support/help_man.h.
#include "tests/support/help_man.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <sstream>

namespace testing_support {

std::ostream& operator<<(std::ostream& os, const OptionDoc& o) {
  for (size_t i = 0; i < o.names.size(); ++i) os << (i ? "," : "") << o.names[i];
  if (!o.default_text.empty()) os << " (default: " << o.default_text << ")";
  if (o.required) os << " (required)";
  return os;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

static std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return trim(out);
}

static size_t indent_of(const std::string& line) {
  size_t i = line.find_first_not_of(' ');
  return i == std::string::npos ? line.size() : i;
}

static bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// --- mirrord --help (CLI11) ------------------------------------------------
//
// CLI11 prints each option as "  NAMES[ TYPE][=DEFAULT][ ...][ REQUIRED]",
// padded to the description column, then the description; when that part
// reaches the column, the description goes on the next line, indented to the
// column:
//
//   -h,--help                   Print this help message and exit
//   --listen TEXT=0.0.0.0:7400  ADDR:PORT to accept local servers on
//   --volume NAME=DIR ... REQUIRED
//                               NAME=DIR: a volume served and the directory ...
//   --secret-file PATH REQUIRED file holding the secret ...
//   --request-timeout INT:INT in [10 - 3600000]=2000
//                               milliseconds an idle connection thread ...

// The default in the part after the names ("TEXT=0.0.0.0:7400", "INT:INT in
// [10 - 3600000]=2000", "NAME=DIR"): what follows the last '=' outside
// brackets, unless the whole part is a metavariable like NAME=DIR (upper-case
// words both sides), which is a type name and has no default.
static std::string default_in_type(const std::string& type) {
  int depth = 0;
  size_t eq = std::string::npos;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (c == '[' || c == '{' || c == '(') ++depth;
    if (c == ']' || c == '}' || c == ')') --depth;
    if (c == '=' && depth == 0) eq = i;
  }
  if (eq == std::string::npos) return "";
  static const std::regex metavar("[A-Z][A-Z0-9_]*");
  std::string before = type.substr(0, eq), after = type.substr(eq + 1);
  if (std::regex_match(before, metavar) && std::regex_match(after, metavar)) return "";
  return after;
}

static OptionDoc option_in_spec(const std::string& spec) {
  OptionDoc doc;
  std::string s = trim(spec);
  size_t sp = s.find(' ');
  std::string names = s.substr(0, sp);
  std::string rest = sp == std::string::npos ? "" : trim(s.substr(sp + 1));
  std::istringstream split(names);
  for (std::string n; std::getline(split, n, ',');) doc.names.push_back(n);
  if (rest == "REQUIRED" || ends_with(rest, " REQUIRED")) {
    doc.required = true;
    rest = trim(rest.substr(0, rest.size() - std::string("REQUIRED").size()));
  }
  if (rest == "..." || ends_with(rest, " ...")) rest = trim(rest.substr(0, rest.size() - 3));
  doc.default_text = default_in_type(rest);
  return doc;
}

// The options of the "Options:" section, in order.
std::vector<OptionDoc> options_in_help(const std::string& help) {
  std::vector<std::string> section;
  bool in_section = false;
  for (const std::string& line : lines_of(help)) {
    if (!in_section) {
      in_section = trim(line) == "Options:";
      continue;
    }
    if (trim(line).empty() || line[0] != ' ') break;
    section.push_back(line);
  }
  // The description column: where continuation lines start, else where the
  // first option's description does.
  size_t column = std::string::npos;
  for (const auto& line : section) {
    if (trim(line)[0] != '-') column = std::min(column, indent_of(line));
  }
  if (column == std::string::npos && !section.empty()) {
    const std::string& first = section[0];
    size_t gap = first.find("  ", indent_of(first));
    if (gap != std::string::npos) column = first.find_first_not_of(' ', gap);
  }
  std::vector<OptionDoc> docs;
  for (size_t i = 0; i < section.size(); ++i) {
    const std::string& line = section[i];
    if (trim(line)[0] != '-') continue;
    bool description_below = i + 1 < section.size() && trim(section[i + 1])[0] != '-';
    std::string spec = line.substr(0, column);
    if (description_below) {
      // The spec reached the column, so it is followed by no description or
      // by one after a gap of two spaces or more: a single space at the
      // column ("INT:INT in [...]", "DIR=beside each copy") is the spec's own.
      size_t gap = line.find("  ", indent_of(line));
      spec = gap == std::string::npos ? line : line.substr(0, gap);
    }
    docs.push_back(option_in_spec(spec));
  }
  return docs;
}

// --- mirrorfs --help (libfuse style) -----------------------------------------

std::vector<OptionDoc> options_in_fuse_help(const std::string& help, const std::string& title) {
  std::vector<std::string> entries;
  bool in_section = false;
  for (const std::string& line : lines_of(help)) {
    if (!in_section) {
      in_section = trim(line) == title;
      continue;
    }
    std::string t = trim(line);
    if (t.empty()) break;
    if (t[0] == '-' || entries.empty()) {
      entries.push_back(t);
    } else {
      entries.back() += " " + t;
    }
  }
  static const std::regex name_re(R"(^-o\s+([A-Za-z0-9_]+))");
  static const std::regex default_re(R"(\(default:\s*([^)]*)\))");
  std::vector<OptionDoc> docs;
  for (const auto& entry : entries) {
    std::string text = collapse_spaces(entry);
    OptionDoc doc;
    std::smatch m;
    if (std::regex_search(text, m, name_re)) doc.names = {"-o " + std::string(m[1])};
    if (std::regex_search(text, m, default_re)) doc.default_text = collapse_spaces(m[1]);
    docs.push_back(doc);
  }
  return docs;
}

// --- man pages -----------------------------------------------------------------

// Roff escapes that may appear in the option entries, turned into the text
// they print.
std::string unescape_roff(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    switch (c) {
      case '-':
        out += '-';
        break;
      case 'e':
        out += '\\';
        break;
      case ' ':
      case '~':
        out += ' ';
        break;
      case '&':
      case '/':
      case ',':
      case ':':
      case 'c':
        break;   // zero-width
      case 'f':  // font change: \fB, \f(BI, \f[BI]
        if (i + 1 < s.size() && s[i + 1] == '(') {
          i += 3;
        } else if (i + 1 < s.size() && s[i + 1] == '[') {
          size_t close = s.find(']', i);
          i = close == std::string::npos ? s.size() : close;
        } else {
          i += 1;
        }
        break;
      case '(': {  // two-letter special characters we might use
        std::string name = s.substr(i + 1, 2);
        i += 2;
        if (name == "em" || name == "en")
          out += '-';
        else if (name == "lq" || name == "rq" || name == "dq")
          out += '"';
        else if (name == "aq")
          out += '\'';
        break;
      }
      default:
        out += c;
    }
  }
  return out;
}

// Arguments of a macro line, honouring double quotes.
std::vector<std::string> macro_args(const std::string& rest) {
  std::vector<std::string> args;
  std::string cur;
  bool quoted = false, have = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (quoted) {
      if (c == '"' && i + 1 < rest.size() && rest[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = have = true;
    } else if (c == ' ' || c == '\t') {
      if (have) args.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) args.push_back(cur);
  return args;
}

// The text one roff line prints: font macros lose their name (the
// alternating ones, .BI and friends, join their arguments without spaces);
// comments and other requests print nothing.
static std::string roff_line_text(const std::string& line) {
  if (line.empty() || (line[0] != '.' && line[0] != '\'')) return unescape_roff(line);
  size_t sp = line.find_first_of(" \t");
  std::string macro = line.substr(1, sp == std::string::npos ? std::string::npos : sp - 1);
  std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
  static const std::vector<std::string> joined = {"BI", "BR", "IB", "IR", "RB", "RI"};
  std::vector<std::string> args = macro_args(rest);
  std::string text;
  if (macro == "B" || macro == "I" || macro == "SM" || macro == "SB") {
    for (size_t i = 0; i < args.size(); ++i) text += (i ? " " : "") + args[i];
  } else if (std::find(joined.begin(), joined.end(), macro) != joined.end()) {
    for (const auto& a : args) text += a;
  } else {
    return "";
  }
  return unescape_roff(text);
}

// One entry of OPTIONS: the tag ("-h, --help", "--listen ADDR:PORT",
// "-o log_level=LEVEL") names the option; the paragraph says
// "(default: ...)" or "(required)".
static OptionDoc option_in_man_entry(const std::string& tag, const std::string& body) {
  OptionDoc doc;
  std::vector<std::string> words;
  std::istringstream in(collapse_spaces(tag));
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() >= 2 && words[0] == "-o") {
    doc.names = {"-o " + words[1].substr(0, words[1].find('='))};
  } else {
    for (std::string w : words) {
      bool more = ends_with(w, ",");
      if (more) w.pop_back();
      if (w.empty() || w[0] != '-') break;
      doc.names.push_back(w.substr(0, w.find('=')));
      if (!more) break;
    }
  }
  std::string text = collapse_spaces(body);
  static const std::regex default_re(R"(\(default:\s*([^)]*)\))");
  std::smatch m;
  if (std::regex_search(text, m, default_re)) doc.default_text = collapse_spaces(m[1]);
  doc.required = text.find("(required)") != std::string::npos;
  return doc;
}

std::vector<OptionDoc> options_in_man(const std::string& man, const std::string& section,
                                      const std::string& subsection) {
  std::vector<std::pair<std::string, std::string>> entries;  // tag, body
  auto title_of = [](const std::string& line) {
    std::string title;
    for (const auto& a : macro_args(line.substr(3))) title += (title.empty() ? "" : " ") + a;
    return title;
  };
  bool in_section = false, in_part = false, want_tag = false;
  for (const std::string& line : lines_of(man)) {
    bool is_sh = line.rfind(".SH", 0) == 0, is_ss = line.rfind(".SS", 0) == 0;
    if (is_sh) {
      if (in_part) break;
      in_section = title_of(line) == section;
      in_part = in_section && subsection.empty();
      continue;
    }
    if (is_ss) {
      if (in_part) break;
      if (in_section && !subsection.empty()) {
        std::string title = unescape_roff(title_of(line));
        in_part = title == subsection || title.rfind(subsection + " ", 0) == 0;
      }
      continue;
    }
    if (!in_part) continue;
    if (line.rfind(".TP", 0) == 0) {
      want_tag = true;
      continue;
    }
    std::string text = roff_line_text(line);
    if (want_tag) {
      entries.push_back({text, ""});
      want_tag = false;
    } else if (!entries.empty() && !text.empty()) {
      entries.back().second += " " + text;
    }
  }
  std::vector<OptionDoc> docs;
  for (const auto& [tag, body] : entries) docs.push_back(option_in_man_entry(tag, body));
  return docs;
}

}  // namespace testing_support
