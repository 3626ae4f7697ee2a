// Parsers that keep a program's --help and its man page in step: the
// options CLI11 prints in --help (mirrord, mirrorctl) or a libfuse-style
// "-o opt=" section of it (mirrorfs), and the .TP entries of a man page
// section, each as names, default and whether it is required.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace testing_support {

// One option as --help or the man page documents it.
struct OptionDoc {
  std::vector<std::string> names;  // {"-h", "--help"}, {"--listen"}, {"-o log_level"}
  std::string default_text;        // "0.0.0.0:7400"; empty when there is none
  bool required = false;           // --help says REQUIRED, the man page "(required)"
  bool operator==(const OptionDoc&) const = default;
};

std::ostream& operator<<(std::ostream& os, const OptionDoc& o);

std::vector<std::string> lines_of(const std::string& text);
std::string trim(const std::string& s);
// Arguments of a roff macro line, honouring double quotes.
std::vector<std::string> macro_args(const std::string& rest);
std::string unescape_roff(const std::string& s);

// The options of the "Options:" section of CLI11's --help, in order.
std::vector<OptionDoc> options_in_help(const std::string& help);

// The entries of a libfuse-style section of --help whose title line is
// `title` ("mirrorfs options:"): each starts with an indented "-o NAME" (the
// name {"-o NAME"}), more-indented lines continue it (a wrapped default among
// them), and a blank line ends the section.
std::vector<OptionDoc> options_in_fuse_help(const std::string& help, const std::string& title);

// The .TP entries of the man page's section `section` (.SH), or, when
// `subsection` is given, of the .SS in it whose title is or starts with
// `subsection` and a space: the tag names the option, the paragraph says
// "(default: ...)" or "(required)". A tag "-o NAME=VALUE" names {"-o NAME"}.
std::vector<OptionDoc> options_in_man(const std::string& man, const std::string& section,
                                      const std::string& subsection = "");

}  // namespace testing_support
