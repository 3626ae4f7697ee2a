// Small state files kept beside the data they describe (identity records,
// applied state, sync progress, the dirty set): where such a file goes, and
// how it is replaced so that a crash leaves the old contents or the new ones.
// Internal to mirror/.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace mirror {

// "<parent of DIR>/.<basename of DIR><suffix>"; throws std::runtime_error
// naming DIR when it has no parent to put the file in (e.g. "/").
std::string path_beside(const std::string& dir, const std::string& suffix);

// Writes `bytes` to PATH.new (mode 0600), fsyncs it, renames it over `path`
// and fsyncs the directory. Throws std::runtime_error naming the file.
void replace_file(const std::string& path, std::span<const std::byte> bytes);

}  // namespace mirror
