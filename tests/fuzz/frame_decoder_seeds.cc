// Writes the seed corpus of frame_decoder_fuzz: one sound frame of each type
// and a few requests, encoded by the real encoder so the seeds follow the
// format when it changes. Usage: frame_decoder_seeds DIR
//
// fuzz-sources: mirror/wire_format.cc mirror/request.cc
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "mirror/wire_format.h"

namespace {

using namespace mirror;
using namespace mirror::wire;

void write(const std::string& dir, const std::string& name, const OutFrame& f) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(f.head.data()), static_cast<std::streamsize>(f.head.size()));
  out.write(reinterpret_cast<const char*>(f.data.data()), static_cast<std::streamsize>(f.data.size()));
  if (!out) {
    std::perror((dir + "/" + name).c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];

  Hello hello;
  hello.max_version = 2;
  hello.session = 0x1234;
  hello.index = 1;
  hello.count = 4;
  hello.volume = "projects";
  hello.nonce[0] = std::byte{1};
  write(dir, "hello", encode_hello(hello));

  Challenge challenge;
  challenge.nonce[5] = std::byte{9};
  challenge.proof[31] = std::byte{7};
  write(dir, "challenge", encode_challenge(challenge));
  write(dir, "auth", encode_auth(Auth{}));
  write(dir, "welcome", encode_welcome(Welcome{1, 41}));
  write(dir, "response", encode_response(Response{42, 0}));
  write(dir, "response-enospc", encode_response(Response{43, 28}));

  const std::string bytes = "some written bytes";
  const std::span<const std::byte> data(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  MirrorRequest write_request;
  write_request.op = Op::write;
  write_request.path = "dir/file";
  write_request.offset = 4096;
  write_request.data = data;
  write_request.inode = 77;
  write_request.mtime_after = {1700000000, 5};
  write(dir, "request-write", encode_request(10, 9, write_request));

  MirrorRequest rename;
  rename.op = Op::rename;
  rename.path = "a/old";
  rename.target = "b/new";
  rename.flags = 1;
  write(dir, "request-rename", encode_request(11, 11, rename));

  MirrorRequest setxattr;
  setxattr.op = Op::setxattr;
  setxattr.path = "f";
  setxattr.xattr_name = "user.comment";
  setxattr.data = data;
  write(dir, "request-setxattr", encode_request(12, 11, setxattr));

  MirrorRequest setattr;
  setattr.op = Op::setattr;
  setattr.path = "f";
  setattr.attr.valid = kAttrMode | kAttrUid | kAttrGid | kAttrSize | kAttrAtime | kAttrMtime;
  setattr.attr.mode = 0100640;
  setattr.attr.uid = 1000;
  setattr.attr.gid = 1000;
  setattr.attr.size = 1 << 20;
  setattr.attr.atime = {1600000000, 999999999};
  setattr.attr.mtime = {1600000001, 1};
  write(dir, "request-setattr", encode_request(13, 11, setattr));
  return 0;
}
