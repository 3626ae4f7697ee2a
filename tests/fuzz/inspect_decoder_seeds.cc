// Writes the seed corpus of inspect_decoder_fuzz: one sound query and reply
// of each kind, encoded by the real encoder so the seeds follow the format
// when it changes. Usage: inspect_decoder_seeds DIR
//
// fuzz-sources: mirror/inspect_format.cc mirror/wire_format.cc mirror/request.cc
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "mirror/inspect_format.h"

namespace {

using namespace mirror;
using namespace mirror::inspect;

void write(const std::string& dir, const std::string& name, const wire::OutFrame& f) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(f.head.data()),
            static_cast<std::streamsize>(f.head.size()));
  out.write(reinterpret_cast<const char*>(f.data.data()),
            static_cast<std::streamsize>(f.data.size()));
  if (!out) {
    std::perror((dir + "/" + name).c_str());
    std::exit(1);
  }
}

EntryDescription entry(const std::string& name, uint32_t mode) {
  EntryDescription e;
  e.name = name;
  e.mode = mode;
  e.uid = 1000;
  e.gid = 1000;
  e.size = 4096;
  e.nlink = 1;
  e.inode = 77;
  e.mtime = {1700000000, 5};
  e.xattr_digest = 0x1234;
  if (S_ISLNK(mode)) e.link_target = "../target";
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];

  Query q;
  q.id = 1;
  q.kind = Kind::identity;
  write(dir, "query-identity", encode_query(q));
  q.kind = Kind::set_identity;
  q.record.assign(kIdentityRecordSize, std::byte{0x5a});
  write(dir, "query-set-identity", encode_query(q));
  q.record.clear();
  q.kind = Kind::list;
  q.path = "src/lib";
  q.after = "main.c";
  q.max_entries = 4096;
  write(dir, "query-list", encode_query(q));
  q.after.clear();
  q.max_entries = 0;
  q.kind = Kind::xattr_names;
  write(dir, "query-xattr-names", encode_query(q));
  q.kind = Kind::checksums;
  q.first_block = 8;
  q.count = 64;
  write(dir, "query-checksums", encode_query(q));

  Reply r;
  r.id = 2;
  r.kind = Kind::identity;
  r.present = true;
  r.record.assign(kIdentityRecordSize, std::byte{0xa5});
  write(dir, "reply-identity", encode_reply(r));
  r = Reply{};
  r.kind = Kind::identity;
  r.error = EUCLEAN;
  write(dir, "reply-identity-corrupt", encode_reply(r));
  r = Reply{};
  r.kind = Kind::set_identity;
  write(dir, "reply-set-identity", encode_reply(r));
  r = Reply{};
  r.kind = Kind::list;
  r.more = true;
  r.entries = {entry("a", S_IFREG | 0644), entry("dir", S_IFDIR | 0755),
               entry("link", S_IFLNK | 0777)};
  write(dir, "reply-list", encode_reply(r));
  r = Reply{};
  r.kind = Kind::list;
  r.error = ENOTDIR;
  write(dir, "reply-list-enotdir", encode_reply(r));
  r = Reply{};
  r.kind = Kind::xattr_names;
  r.names = {"security.selinux", "user.comment"};
  write(dir, "reply-xattr-names", encode_reply(r));
  r = Reply{};
  r.kind = Kind::checksums;
  r.size = 300000;
  r.sums = {1, 2, 3};
  write(dir, "reply-checksums", encode_reply(r));
  return 0;
}
